import { describe, expect, it } from 'vitest';
import {
  PASSWORD_MAX_LENGTH,
  checkPasswordPolicy,
  commonPasswordCount,
  describePasswordPolicy,
  isCommonPassword,
} from './password-policy.js';

const codes = (password: string, options: Parameters<typeof checkPasswordPolicy>[1]) =>
  checkPasswordPolicy(password, options).violations.map((violation) => violation.code);

describe('checkPasswordPolicy', () => {
  it('accepts a long uncommon passphrase', () => {
    const result = checkPasswordPolicy('violet anchor drizzle 42', { passwordMinLength: 12, email: 'ann@example.com' });
    expect(result).toEqual({ ok: true, length: 24, violations: [] });
  });

  it('refuses a password shorter than the minimum, counting code points after NFKC', () => {
    expect(codes('short-pw', { passwordMinLength: 12 })).toEqual(['too_short']);
    // Eleven emoji are 22 UTF-16 units but 11 characters.
    expect(codes('🔒'.repeat(11), { passwordMinLength: 12 })).toEqual(['too_short']);
    expect(codes('🔒'.repeat(12), { passwordMinLength: 12 })).toEqual([]);
    // Full-width letters count once each after NFKC.
    expect(checkPasswordPolicy('ｑｚｘｗｖｋｐｍｊｔｒｌ', { passwordMinLength: 12 }).length).toBe(12);
  });

  it('refuses a password over the maximum', () => {
    expect(codes('x'.repeat(PASSWORD_MAX_LENGTH + 1), { passwordMinLength: 8 })).toEqual(['too_long']);
    expect(codes('q7'.repeat(PASSWORD_MAX_LENGTH / 2), { passwordMinLength: 8 })).toEqual([]);
  });

  it('refuses common passwords whatever their case', () => {
    expect(codes('password1234', { passwordMinLength: 8 })).toEqual(['common']);
    expect(codes('PassWord1234', { passwordMinLength: 8 })).toEqual(['common']);
    expect(codes('qwertyuiop', { passwordMinLength: 8 })).toEqual(['common']);
    expect(codes('ＩＬＯＶＥＹＯＵ', { passwordMinLength: 8 })).toEqual(['common']);
  });

  it('refuses a password that contains the email local part, in any case', () => {
    expect(codes('my-Jonathan.Doe-rules', { passwordMinLength: 12, email: 'jonathan.doe@example.com' })).toEqual(['contains_email']);
    expect(codes('zebra-alice-ocean', { passwordMinLength: 12, email: 'Alice+z4j@example.com' })).toEqual(['contains_email']);
    // A one- or two-letter local part would forbid half the dictionary: not checked.
    expect(codes('zebra-ocean-quartz', { passwordMinLength: 12, email: 'ze@example.com' })).toEqual([]);
  });

  it('reports every failed rule at once', () => {
    expect(codes('ann', { passwordMinLength: 8, email: 'ann@example.com' })).toEqual(['too_short', 'contains_email']);
    expect(codes('dragon', { passwordMinLength: 8 })).toEqual(['too_short', 'common']);
    const tooShort = checkPasswordPolicy('abc', { passwordMinLength: 9 }).violations[0];
    expect(tooShort).toMatchObject({ code: 'too_short', minLength: 9, message: 'must be at least 9 characters' });
  });
});

describe('common password list', () => {
  it('holds the well-known ranked list (tens of thousands of entries)', () => {
    expect(commonPasswordCount()).toBeGreaterThan(10_000);
    for (const entry of ['123456', 'password', 'qwerty', 'iloveyou', 'trustno1', 'letmein']) {
      expect(isCommonPassword(entry)).toBe(true);
    }
    expect(isCommonPassword('violet anchor drizzle 42')).toBe(false);
  });
});

describe('describePasswordPolicy', () => {
  it('describes the rules for /auth/policy', () => {
    const description = describePasswordPolicy({ passwordMinLength: 12 });
    expect(description).toMatchObject({
      min_length: 12,
      max_length: PASSWORD_MAX_LENGTH,
      rejects_common_passwords: true,
      rejects_email: true,
    });
    expect(description.hints[0]).toContain('12');
  });
});
