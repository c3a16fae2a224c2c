/**
 * Login throttling arithmetic (the state lives in `users.failed_login_count`
 * and `users.locked_until`; the API layer reads and writes it):
 *
 * - each failed attempt is answered after a delay that doubles per recorded
 *   failure, `min(max, base × 2^min(failedCount, 16))` seconds
 *   (`Z4J_LOGIN_BACKOFF_BASE_SECONDS` 0.5, `Z4J_LOGIN_BACKOFF_MAX_SECONDS` 5);
 *   the exponent cap keeps the number finite whatever the count;
 * - reaching `Z4J_LOGIN_LOCKOUT_THRESHOLD` failures (10) locks the account
 *   until `now + Z4J_LOGIN_LOCKOUT_DURATION_SECONDS` (900);
 * - every answer, success or not, takes at least `Z4J_LOGIN_MIN_DURATION_MS`
 *   (300) so timing does not tell whether the account exists.
 */

const MAX_EXPONENT = 16;

export interface LoginBackoffSettings {
  /** `Z4J_LOGIN_BACKOFF_BASE_SECONDS`; 0 disables the delay. */
  readonly loginBackoffBaseSeconds: number;
  /** `Z4J_LOGIN_BACKOFF_MAX_SECONDS`. */
  readonly loginBackoffMaxSeconds: number;
}

export interface LoginLockoutSettings {
  /** `Z4J_LOGIN_LOCKOUT_THRESHOLD`. */
  readonly loginLockoutThreshold: number;
  /** `Z4J_LOGIN_LOCKOUT_DURATION_SECONDS`. */
  readonly loginLockoutDurationSeconds: number;
}

export type LockoutDecision = { readonly locked: true; readonly lockedUntil: Date } | { readonly locked: false };

/**
 * Seconds to wait before answering a failed login, given the account's
 * failure count (including this failure).
 *
 * @example
 * loginFailureDelaySeconds(3, { loginBackoffBaseSeconds: 0.5, loginBackoffMaxSeconds: 5 }) // 4
 */
export function loginFailureDelaySeconds(failedCount: number, settings: LoginBackoffSettings): number {
  const exponent = Math.min(Math.max(0, Math.floor(failedCount)), MAX_EXPONENT);
  return Math.min(settings.loginBackoffMaxSeconds, settings.loginBackoffBaseSeconds * 2 ** exponent);
}

/** Whether this failure (the `failedCount`-th in a row) locks the account, and until when. */
export function loginLockoutDecision(failedCount: number, now: Date, settings: LoginLockoutSettings): LockoutDecision {
  if (failedCount < settings.loginLockoutThreshold) return { locked: false };
  return { locked: true, lockedUntil: new Date(now.getTime() + settings.loginLockoutDurationSeconds * 1000) };
}

/** Whether an account with `lockedUntil` is still locked at `now`. */
export function isLockedOut(lockedUntil: Date | null | undefined, now: Date): boolean {
  return lockedUntil !== null && lockedUntil !== undefined && lockedUntil.getTime() > now.getTime();
}

/** Milliseconds still to wait so a login answer takes at least `loginMinDurationMs` since `startedAt`. */
export function loginPaddingMs(startedAt: Date, now: Date, loginMinDurationMs: number): number {
  return Math.max(0, loginMinDurationMs - (now.getTime() - startedAt.getTime()));
}
