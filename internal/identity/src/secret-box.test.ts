import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveTotpKey, openTotpSecret, sealTotpSecret } from './secret-box.js';

const SECRET = 'test-master-secret-0123456789abcdef';
const OLD_SECRET = 'old-master-secret-fedcba9876543210';
const USER = '22222222-3333-4444-8555-666666666666';
const OTHER_USER = '22222222-3333-4444-8555-666666666667';
const TOTP_SECRET = Buffer.from('12345678901234567890', 'ascii');

/** RFC 5869 written out with HMAC, independent of hkdfSync. */
function referenceHkdf(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  let block = Buffer.alloc(0);
  let output = Buffer.alloc(0);
  for (let counter = 1; output.length < length; counter += 1) {
    block = createHmac('sha256', prk)
      .update(Buffer.concat([block, info, Buffer.from([counter])]))
      .digest();
    output = Buffer.concat([output, block]);
  }
  return output.subarray(0, length);
}

describe('deriveTotpKey', () => {
  it('is HKDF-SHA256(Z4J_SECRET, salt z4j-mfa-totp-salt-v1, info z4j-mfa-totp-secret, 32)', () => {
    const fromNode = Buffer.from(hkdfSync('sha256', Buffer.from(SECRET, 'utf8'), 'z4j-mfa-totp-salt-v1', 'z4j-mfa-totp-secret', 32));
    const byHand = referenceHkdf(Buffer.from(SECRET), Buffer.from('z4j-mfa-totp-salt-v1'), Buffer.from('z4j-mfa-totp-secret'), 32);
    expect(deriveTotpKey(SECRET)).toEqual(fromNode);
    expect(deriveTotpKey(SECRET)).toEqual(byHand);
    // Computed with Python's hmac module (RFC 5869), a third implementation.
    expect(deriveTotpKey(SECRET).toString('hex')).toBe('580a5ba38d031de2c72cacb53b0b981082ed2ceadfa849d998962b47bc63e8f8');
  });
});

describe('sealTotpSecret / openTotpSecret', () => {
  it('round-trips and uses a fresh nonce each time', () => {
    const first = sealTotpSecret(TOTP_SECRET, USER, SECRET);
    const second = sealTotpSecret(TOTP_SECRET, USER, SECRET);
    expect(first).toHaveLength(12 + TOTP_SECRET.length + 16);
    expect(first.subarray(0, 12)).not.toEqual(second.subarray(0, 12));
    expect(openTotpSecret(first, USER, { secret: SECRET })).toEqual({ ok: true, plaintext: TOTP_SECRET, keyIndex: 0 });
  });

  it('stores nonce(12) ‖ ciphertext ‖ tag(16) under AES-256-GCM with the user id as AAD', () => {
    const sealed = sealTotpSecret(TOTP_SECRET, USER, SECRET);
    const decipher = createDecipheriv('aes-256-gcm', deriveTotpKey(SECRET), sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from(USER, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plaintext = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
    expect(plaintext).toEqual(TOTP_SECRET);
  });

  it('does not open for another user id (AAD)', () => {
    const sealed = sealTotpSecret(TOTP_SECRET, USER, SECRET);
    expect(openTotpSecret(sealed, OTHER_USER, { secret: SECRET })).toEqual({ ok: false });
  });

  it('opens with a previous secret and says so', () => {
    const sealed = sealTotpSecret(TOTP_SECRET, USER, OLD_SECRET);
    expect(openTotpSecret(sealed, USER, { secret: SECRET })).toEqual({ ok: false });
    expect(openTotpSecret(sealed, USER, { secret: SECRET, previousSecrets: ['unrelated-secret-0000000000000000', OLD_SECRET] })).toEqual({
      ok: true,
      plaintext: TOTP_SECRET,
      keyIndex: 2,
    });
  });

  it('refuses any single flipped bit, in nonce, ciphertext or tag', () => {
    const sealed = sealTotpSecret(TOTP_SECRET, USER, SECRET);
    for (let index = 0; index < sealed.length; index += 1) {
      const tampered = Buffer.from(sealed);
      tampered[index] = tampered[index]! ^ 0x01;
      expect(openTotpSecret(tampered, USER, { secret: SECRET }), `byte ${index}`).toEqual({ ok: false });
    }
  });

  it('refuses truncated input', () => {
    const sealed = sealTotpSecret(TOTP_SECRET, USER, SECRET);
    expect(openTotpSecret(sealed.subarray(0, sealed.length - 1), USER, { secret: SECRET })).toEqual({ ok: false });
    expect(openTotpSecret(sealed.subarray(0, 27), USER, { secret: SECRET })).toEqual({ ok: false });
    expect(openTotpSecret(Buffer.alloc(0), USER, { secret: SECRET })).toEqual({ ok: false });
  });
});
