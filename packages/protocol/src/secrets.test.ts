import { describe, expect, it } from 'vitest';
import {
  decodeHmacSecret,
  deriveProjectSecret,
  encodeHmacSecret,
  hashAgentToken,
  makeNonce,
  mintAgentToken,
  uuidToBytesLE,
} from './secrets.js';

const MASTER = 'test-master-secret-0123456789-abcdefghijklmnop';

describe('uuidToBytesLE', () => {
  it('swaps the first three fields only', () => {
    expect(uuidToBytesLE('01234567-89ab-4def-8123-456789abcdef').toString('hex')).toBe('67452301ab89ef4d8123456789abcdef');
  });
  it('accepts upper case and the unhyphenated form', () => {
    expect(uuidToBytesLE('01234567-89AB-4DEF-8123-456789ABCDEF').toString('hex')).toBe('67452301ab89ef4d8123456789abcdef');
    expect(uuidToBytesLE('0123456789ab4def8123456789abcdef').toString('hex')).toBe('67452301ab89ef4d8123456789abcdef');
  });
  it.each(['', 'my-project', '01234567-89ab-4def-8123-456789abcde', '01234567-89ab-4def-8123-456789abcdeg'])('refuses %j', (bad) => {
    expect(() => uuidToBytesLE(bad)).toThrow(/not a UUID/);
  });
});

describe('deriveProjectSecret', () => {
  it('gives 32 bytes and differs per project', () => {
    const a = deriveProjectSecret(MASTER, '11111111-2222-4333-8444-555555555555');
    const b = deriveProjectSecret(MASTER, '11111111-2222-4333-8444-555555555556');
    expect(a.length).toBe(32);
    expect(a.equals(b)).toBe(false);
  });
  it('refuses a master shorter than 32 bytes', () => {
    expect(() => deriveProjectSecret('short', '11111111-2222-4333-8444-555555555555')).toThrow(/at least 32 bytes/);
  });
});

describe('encodeHmacSecret / decodeHmacSecret', () => {
  it('round-trips with padding and the URL-safe alphabet', () => {
    const secret = Buffer.from('fbff' + '00'.repeat(30) + 'ffff', 'hex');
    const encoded = encodeHmacSecret(secret);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+=*$/);
    expect(encoded.endsWith('=')).toBe(true);
    expect(encoded).toContain('-');
    expect(decodeHmacSecret(encoded).equals(secret)).toBe(true);
    expect(decodeHmacSecret(`  ${encoded}\n`).equals(secret)).toBe(true);
  });
  it('says what is wrong with a bad value', () => {
    expect(() => decodeHmacSecret('')).toThrow(/empty/);
    expect(() => decodeHmacSecret('   ')).toThrow(/empty/);
    expect(() => decodeHmacSecret('abc+def/' + 'A'.repeat(40))).toThrow(/URL-safe base64/);
    expect(() => decodeHmacSecret('a'.repeat(43) + '===')).toThrow(/URL-safe base64/);
    expect(() => decodeHmacSecret('a'.repeat(41))).toThrow(/length/);
    expect(() => decodeHmacSecret(encodeHmacSecret(Buffer.alloc(31)))).toThrow(/31 bytes; at least 32/);
  });
  it('accepts longer secrets', () => {
    expect(decodeHmacSecret(encodeHmacSecret(Buffer.alloc(48, 1))).length).toBe(48);
  });
});

describe('tokens and nonces', () => {
  it('mints 43-character URL-safe tokens like token_urlsafe(32)', () => {
    const t = mintAgentToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mintAgentToken()).not.toBe(t);
  });
  it('makes 22-character nonces like token_urlsafe(16)', () => {
    expect(makeNonce()).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
  it('hashes tokens as lowercase hex and depends on the master', () => {
    const h = hashAgentToken(MASTER, 'tok');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(hashAgentToken(MASTER + 'x', 'tok')).not.toBe(h);
  });
});
