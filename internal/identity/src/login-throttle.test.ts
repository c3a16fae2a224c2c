import { describe, expect, it } from 'vitest';
import { isLockedOut, loginFailureDelaySeconds, loginLockoutDecision, loginPaddingMs } from './login-throttle.js';

const BACKOFF = { loginBackoffBaseSeconds: 0.5, loginBackoffMaxSeconds: 5 };
const LOCKOUT = { loginLockoutThreshold: 10, loginLockoutDurationSeconds: 900 };

describe('loginFailureDelaySeconds', () => {
  it.each([
    [0, 0.5],
    [1, 1],
    [2, 2],
    [3, 4],
    [4, 5],
    [10, 5],
    [16, 5],
    [1_000_000, 5],
  ])('after %i failures waits %f s', (failures, seconds) => {
    expect(loginFailureDelaySeconds(failures, BACKOFF)).toBe(seconds);
  });

  it('caps the exponent at 16 when the maximum is higher than the curve', () => {
    const uncapped = { loginBackoffBaseSeconds: 0.001, loginBackoffMaxSeconds: 1e9 };
    expect(loginFailureDelaySeconds(16, uncapped)).toBeCloseTo(65.536);
    expect(loginFailureDelaySeconds(40, uncapped)).toBeCloseTo(65.536);
  });

  it('is zero when the base is zero, and never negative', () => {
    expect(loginFailureDelaySeconds(5, { loginBackoffBaseSeconds: 0, loginBackoffMaxSeconds: 5 })).toBe(0);
    expect(loginFailureDelaySeconds(-3, BACKOFF)).toBe(0.5);
  });
});

describe('lockout', () => {
  const now = new Date('2026-01-01T12:00:00Z');

  it('locks at the threshold for the configured duration', () => {
    expect(loginLockoutDecision(9, now, LOCKOUT)).toEqual({ locked: false });
    expect(loginLockoutDecision(10, now, LOCKOUT)).toEqual({ locked: true, lockedUntil: new Date('2026-01-01T12:15:00Z') });
    expect(loginLockoutDecision(11, now, LOCKOUT)).toEqual({ locked: true, lockedUntil: new Date('2026-01-01T12:15:00Z') });
  });

  it('reads locked_until against the clock', () => {
    expect(isLockedOut(null, now)).toBe(false);
    expect(isLockedOut(undefined, now)).toBe(false);
    expect(isLockedOut(new Date('2026-01-01T12:00:01Z'), now)).toBe(true);
    expect(isLockedOut(now, now)).toBe(false);
  });

  it('pads a login answer up to the minimum duration', () => {
    expect(loginPaddingMs(now, new Date(now.getTime() + 120), 300)).toBe(180);
    expect(loginPaddingMs(now, new Date(now.getTime() + 450), 300)).toBe(0);
  });
});
