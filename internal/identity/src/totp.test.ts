import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  TOTP_SECRET_BYTES,
  decodeTotpSecret,
  encodeTotpSecret,
  generateTotp,
  generateTotpSecret,
  totpIssuer,
  totpProvisioningUrl,
  totpTimeStep,
  verifyTotp,
} from './totp.js';

// RFC 6238 Appendix B, SHA-1 rows: the secret is the 20 ASCII bytes "12345678901234567890".
const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');
const RFC_SHA1_VECTORS: ReadonlyArray<readonly [number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

const at = (unixSeconds: number) => new Date(unixSeconds * 1000);

/** RFC 4226 HOTP written out with node:crypto, to check the library against. */
function referenceHotp(secret: Buffer, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', secret).update(message).digest();
  const offset = digest[19]! & 0x0f;
  const binary = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

describe('generateTotp', () => {
  it.each(RFC_SHA1_VECTORS)('at T=%i gives the last 6 digits of %s (RFC 6238)', (seconds, eightDigits) => {
    expect(generateTotp(RFC_SECRET, at(seconds))).toBe(eightDigits.slice(-6));
  });

  it('matches an independent HOTP computation over many steps', () => {
    const secret = generateTotpSecret();
    for (let step = 55_000_000; step < 55_000_050; step += 1) {
      expect(generateTotp(secret, at(step * 30 + 7))).toBe(referenceHotp(secret, step));
    }
  });
});

describe('verifyTotp', () => {
  const now = at(1_700_000_015); // 15 s into step 56666667
  const step = totpTimeStep(now);
  const codeAt = (offset: number) => generateTotp(RFC_SECRET, at((step + offset) * 30));

  it('accepts the current step and reports it', () => {
    expect(step).toBe(56_666_667);
    expect(verifyTotp(RFC_SECRET, codeAt(0), now)).toEqual({ valid: true, timeStep: step, delta: 0 });
  });

  it('accepts one step either side', () => {
    expect(verifyTotp(RFC_SECRET, codeAt(-1), now)).toEqual({ valid: true, timeStep: step - 1, delta: -1 });
    expect(verifyTotp(RFC_SECRET, codeAt(1), now)).toEqual({ valid: true, timeStep: step + 1, delta: 1 });
  });

  it('refuses two steps either side', () => {
    expect(verifyTotp(RFC_SECRET, codeAt(-2), now)).toEqual({ valid: false, reason: 'mismatch' });
    expect(verifyTotp(RFC_SECRET, codeAt(2), now)).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('keeps the ±1 window at the very start and end of a step', () => {
    const start = at(step * 30);
    const end = at(step * 30 + 29);
    expect(verifyTotp(RFC_SECRET, codeAt(-1), start).valid).toBe(true);
    expect(verifyTotp(RFC_SECRET, codeAt(1), end).valid).toBe(true);
    expect(verifyTotp(RFC_SECRET, codeAt(-2), start).valid).toBe(false);
    expect(verifyTotp(RFC_SECRET, codeAt(2), end).valid).toBe(false);
  });

  it('refuses a code of a step already used (replay), accepts a later one', () => {
    expect(verifyTotp(RFC_SECRET, codeAt(0), now, { lastUsedTimeStep: step })).toEqual({ valid: false, reason: 'replayed' });
    expect(verifyTotp(RFC_SECRET, codeAt(-1), now, { lastUsedTimeStep: step })).toEqual({ valid: false, reason: 'replayed' });
    expect(verifyTotp(RFC_SECRET, codeAt(1), now, { lastUsedTimeStep: step })).toMatchObject({ valid: true, timeStep: step + 1 });
    expect(verifyTotp(RFC_SECRET, codeAt(0), now, { lastUsedTimeStep: step - 1 })).toMatchObject({ valid: true, timeStep: step });
  });

  it('ignores spaces and refuses malformed input without throwing', () => {
    const code = codeAt(0);
    expect(verifyTotp(RFC_SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, now).valid).toBe(true);
    for (const bad of ['', '12345', '1234567', '12a456', '１２３４５６', '-12345']) {
      expect(verifyTotp(RFC_SECRET, bad, now)).toEqual({ valid: false, reason: 'malformed' });
    }
  });

  it('refuses a code made with another secret', () => {
    expect(verifyTotp(generateTotpSecret(), codeAt(0), now).valid).toBe(false);
  });
});

describe('secrets and provisioning', () => {
  it('makes 20-byte secrets shown as 32 base32 characters', () => {
    const secret = generateTotpSecret();
    expect(secret).toHaveLength(TOTP_SECRET_BYTES);
    expect(encodeTotpSecret(secret)).toMatch(/^[A-Z2-7]{32}$/);
    expect(encodeTotpSecret(RFC_SECRET)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(Buffer.from(decodeTotpSecret('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'))).toEqual(Buffer.from(RFC_SECRET));
    expect(Buffer.from(decodeTotpSecret(encodeTotpSecret(secret)))).toEqual(secret);
  });

  it('names the issuer after the public host, without port', () => {
    expect(totpIssuer('https://z4j.example.com')).toBe('z4j (z4j.example.com)');
    expect(totpIssuer('http://localhost:7700/')).toBe('z4j (localhost)');
    expect(totpIssuer('http://[::1]:7700')).not.toContain(':');
  });

  it('builds an otpauth URL with issuer, account and parameters', () => {
    const url = totpProvisioningUrl({ secret: RFC_SECRET, accountName: 'ann@example.com', publicUrl: 'https://z4j.example.com:8443' });
    expect(url).toBe(
      'otpauth://totp/z4j%20(z4j.example.com):ann%40example.com' +
        '?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=z4j%20(z4j.example.com)&algorithm=SHA1&digits=6&period=30',
    );
  });
});
