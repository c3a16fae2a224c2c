import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  REMEMBER_ME_LIFETIME_SECONDS,
  cookieNames,
  csrfTokensMatch,
  isSecureOrigin,
  mintCsrfToken,
  sessionExpiry,
  signSessionCookie,
  verifySessionCookie,
  type SessionExpiryOptions,
} from './session-cookie.js';

const SECRET = 'session-secret-0123456789abcdef0123';
const OLD = 'old-session-secret-0123456789abcdef';
const SID = '0f0e0d0c-0b0a-4908-8706-050403020100';

describe('session cookie signing', () => {
  it('is "<id>.<base64url HMAC-SHA256>" keyed by the session secret and context', () => {
    const value = signSessionCookie(SID, SECRET);
    const expected = createHmac('sha256', `${SECRET}z4j-session-v1`).update(SID).digest('base64url');
    expect(value).toBe(`${SID}.${expected}`);
    expect(verifySessionCookie(value, { sessionSecret: SECRET })).toEqual({ ok: true, sessionId: SID, rotated: false });
  });

  it('refuses a changed id or signature', () => {
    const value = signSessionCookie(SID, SECRET);
    const otherId = `${SID.slice(0, -1)}1${value.slice(SID.length)}`;
    expect(verifySessionCookie(otherId, { sessionSecret: SECRET })).toEqual({ ok: false });
    for (let index = SID.length + 1; index < value.length; index += 1) {
      const char = value[index] === 'A' ? 'B' : 'A';
      const tampered = value.slice(0, index) + char + value.slice(index + 1);
      expect(verifySessionCookie(tampered, { sessionSecret: SECRET }), `position ${index}`).toEqual({ ok: false });
    }
  });

  it('accepts a previous secret during rotation and flags it; refuses it once dropped', () => {
    const old = signSessionCookie(SID, OLD);
    expect(verifySessionCookie(old, { sessionSecret: SECRET })).toEqual({ ok: false });
    expect(verifySessionCookie(old, { sessionSecret: SECRET, previousSessionSecrets: [OLD] })).toEqual({
      ok: true,
      sessionId: SID,
      rotated: true,
    });
  });

  it.each([
    undefined,
    null,
    '',
    SID,
    `${SID}.`,
    `.${'A'.repeat(43)}`,
    `${SID}.${'A'.repeat(42)}`,
    `a.b.${'A'.repeat(43)}`,
    `${SID}.${'A'.repeat(43)}`,
  ])('refuses %j', (value) => {
    expect(verifySessionCookie(value, { sessionSecret: SECRET })).toEqual({ ok: false });
  });

  it('refuses to sign an id with a dot or other unsafe characters', () => {
    expect(() => signSessionCookie('a.b', SECRET)).toThrow(RangeError);
    expect(() => signSessionCookie('', SECRET)).toThrow(RangeError);
  });
});

describe('cookie names', () => {
  it('uses __Host- names over https only', () => {
    expect(cookieNames(true)).toEqual({ session: '__Host-z4j_session', csrf: '__Host-z4j_csrf', mfaTrust: '__Host-z4j_mfa_trust' });
    expect(cookieNames(false)).toEqual({ session: 'z4j_session', csrf: 'z4j_csrf', mfaTrust: 'z4j_mfa_trust' });
    expect(isSecureOrigin('https://z4j.example.com')).toBe(true);
    expect(isSecureOrigin('http://localhost:7700')).toBe(false);
  });
});

describe('csrf tokens', () => {
  it('mints 32 random bytes as base64url', () => {
    const token = mintCsrfToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mintCsrfToken()).not.toBe(token);
  });

  it('matches only identical non-empty tokens', () => {
    const token = mintCsrfToken();
    expect(csrfTokensMatch(token, token)).toBe(true);
    expect(csrfTokensMatch(`${token}`, token.slice(0))).toBe(true);
    expect(csrfTokensMatch(mintCsrfToken(), token)).toBe(false);
    expect(csrfTokensMatch(token.slice(0, -1), token)).toBe(false);
    expect(csrfTokensMatch('', '')).toBe(false);
    expect(csrfTokensMatch(undefined, token)).toBe(false);
    expect(csrfTokensMatch(token, null)).toBe(false);
  });
});

describe('sessionExpiry', () => {
  const issuedAt = new Date('2026-01-01T00:00:00Z');
  const base: SessionExpiryOptions = {
    issuedAt,
    lastSeenAt: issuedAt,
    rememberMe: false,
    absoluteSeconds: 604_800,
    rememberSeconds: REMEMBER_ME_LIFETIME_SECONDS,
    idleSeconds: 1800,
    passwordChangedAt: null,
    now: issuedAt,
  };
  const after = (seconds: number) => new Date(issuedAt.getTime() + seconds * 1000);

  it.each([
    ['fresh', {}, { valid: true, expiresAt: after(1800) }],
    ['idle limit reached', { now: after(1800) }, { valid: false, reason: 'idle' }],
    ['kept alive', { lastSeenAt: after(603_500), now: after(604_000) }, { valid: true, expiresAt: after(604_800) }],
    ['idle end comes first', { lastSeenAt: after(600_000), now: after(601_000) }, { valid: true, expiresAt: after(601_800) }],
    ['absolute limit despite activity', { lastSeenAt: after(604_700), now: after(604_800) }, { valid: false, reason: 'absolute' }],
    ['remember-me skips idle', { rememberMe: true, now: after(86_400) }, { valid: true, expiresAt: after(2_592_000) }],
    [
      'remember-me ends at 30 days',
      { rememberMe: true, lastSeenAt: after(2_591_000), now: after(2_592_000) },
      { valid: false, reason: 'absolute' },
    ],
    ['password changed in the same second', { passwordChangedAt: after(1), now: after(5) }, { valid: true, expiresAt: after(1800) }],
    ['password changed later', { passwordChangedAt: after(1.001), now: after(5) }, { valid: false, reason: 'password_changed' }],
    ['password changed before issue', { passwordChangedAt: after(-60), now: after(5) }, { valid: true, expiresAt: after(1800) }],
  ] as const)('%s', (_name, overrides, expected) => {
    expect(sessionExpiry({ ...base, ...overrides })).toEqual(expected);
  });
});
