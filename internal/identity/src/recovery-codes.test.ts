import { describe, expect, it } from 'vitest';
import {
  RECOVERY_CODE_ALPHABET,
  generateRecoveryCodes,
  hashRecoveryCode,
  hashRecoveryCodes,
  normalizeRecoveryCode,
  verifyRecoveryCode,
} from './recovery-codes.js';

const COSTS = { argon2MemoryCost: 1024, argon2TimeCost: 1, argon2Parallelism: 1 };
const FORMAT = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}$/;

describe('generateRecoveryCodes', () => {
  it('makes the requested number of distinct XXXX-XXXX-XXXX codes', () => {
    for (const count of [5, 10, 50]) {
      const codes = generateRecoveryCodes(count);
      expect(codes).toHaveLength(count);
      expect(new Set(codes).size).toBe(count);
      for (const code of codes) expect(code).toMatch(FORMAT);
    }
  });

  it('uses the 31-character alphabet without look-alikes, every character reachable', () => {
    expect(RECOVERY_CODE_ALPHABET).toHaveLength(31);
    expect(RECOVERY_CODE_ALPHABET).not.toMatch(/[01ILO]/);
    const seen = new Set(generateRecoveryCodes(200).join('').replaceAll('-', ''));
    expect([...seen].sort().join('')).toBe([...RECOVERY_CODE_ALPHABET].sort().join(''));
  });

  it('draws characters without modulo bias', () => {
    // `byte % 31` would make the first 8 characters 9/256 likely instead of 1/31 (+12.5%).
    const draws = generateRecoveryCodes(4000).join('').replaceAll('-', '');
    const favoured = new Set(RECOVERY_CODE_ALPHABET.slice(0, 8));
    let hits = 0;
    for (const char of draws) if (favoured.has(char)) hits += 1;
    const p = 8 / 31;
    const sigma = Math.sqrt(draws.length * p * (1 - p));
    // Unbiased: within 5σ (≈ 480 of 48 000) of 12 387; biased: ≈ 13 500.
    expect(Math.abs(hits - draws.length * p)).toBeLessThan(5 * sigma);
  });

  it('refuses a count that is not a positive integer', () => {
    expect(() => generateRecoveryCodes(0)).toThrow(RangeError);
    expect(() => generateRecoveryCodes(2.5)).toThrow(RangeError);
  });
});

describe('normalizeRecoveryCode', () => {
  it.each([
    ['K7QH-2MXC-9TRA', 'K7QH-2MXC-9TRA'],
    ['k7qh-2mxc-9tra', 'K7QH-2MXC-9TRA'],
    ['K7QH2MXC9TRA', 'K7QH-2MXC-9TRA'],
    [' k7qh 2mxc 9tra ', 'K7QH-2MXC-9TRA'],
    ['K7QH--2MXC-9TRA', 'K7QH-2MXC-9TRA'],
    ['Ｋ７ＱＨ-２ＭＸＣ-９ＴＲＡ', 'K7QH-2MXC-9TRA'],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeRecoveryCode(input)).toBe(expected);
  });

  it.each(['', 'K7QH-2MXC', 'K7QH-2MXC-9TRA-AAAA', 'K7QH-2MXC-9TR0', 'O7QH-2MXC-9TRA', 'K7QH_2MXC_9TRA', 'K7QH-2MXC-9TR!'])(
    'refuses %j',
    (input) => {
      expect(normalizeRecoveryCode(input)).toBeUndefined();
    },
  );
});

describe('hashing and verifying', () => {
  it('returns the index of the one matching hash, whatever the spelling typed', async () => {
    const codes = generateRecoveryCodes(3);
    const hashes = await hashRecoveryCodes(codes, COSTS);
    expect(hashes).toHaveLength(3);
    for (const stored of hashes) expect(stored).toMatch(/^\$argon2id\$/);
    expect(await verifyRecoveryCode(codes[1]!, hashes)).toBe(1);
    expect(await verifyRecoveryCode(codes[2]!.toLowerCase().replaceAll('-', ' '), hashes)).toBe(2);
    expect(await verifyRecoveryCode(codes[0]!.replaceAll('-', ''), hashes)).toBe(0);
  });

  it('returns -1 for an unknown, malformed or already removed code', async () => {
    const codes = generateRecoveryCodes(2);
    const hashes = await hashRecoveryCodes(codes, COSTS);
    const other = generateRecoveryCodes(1)[0]!;
    expect(await verifyRecoveryCode(other, hashes)).toBe(-1);
    expect(await verifyRecoveryCode('not a code', hashes)).toBe(-1);
    expect(await verifyRecoveryCode(codes[0]!, hashes.slice(1))).toBe(-1);
    expect(await verifyRecoveryCode(codes[0]!, [])).toBe(-1);
  });

  it('hashes the canonical form, so a lower-case code hashes to a verifiable hash', async () => {
    const code = generateRecoveryCodes(1)[0]!;
    const stored = await hashRecoveryCode(code.toLowerCase(), COSTS);
    expect(await verifyRecoveryCode(code, [stored])).toBe(0);
    await expect(hashRecoveryCode('nope', COSTS)).rejects.toThrow(RangeError);
  });
});
