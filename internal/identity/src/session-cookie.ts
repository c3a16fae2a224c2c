import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * What the browser holds for a dashboard session, and the lifetime rules
 * applied to the session row behind it.
 *
 * Cookie value: `<session id>.<signature>`, the signature being unpadded
 * base64url of HMAC-SHA256 with key `UTF-8(Z4J_SESSION_SECRET) ‖
 * UTF-8("z4j-session-v1")` over the session id. The row is the authority
 * (revocation, expiry); the signature only lets the server drop forged or
 * guessed ids before touching the database, and makes rotating
 * `Z4J_SESSION_SECRET` sign everyone out. `Z4J_PREVIOUS_SESSION_SECRETS` are
 * accepted on read so a rotation can be gradual. (The Python brain used an
 * itsdangerous serializer; the cookie is private to the brain, so this
 * format need not match it.)
 *
 * Cookie names: over HTTPS the `__Host-` prefix makes browsers insist on
 * Secure, Path=/ and no Domain, so a sibling subdomain cannot plant or
 * shadow them; over plain http (local dev) browsers refuse `__Host-`
 * cookies, hence the bare names. Attributes the API layer sets:
 * session HttpOnly + SameSite from `Z4J_SESSION_COOKIE_SAMESITE`; csrf
 * readable by script (double submit) + SameSite Strict; mfa_trust HttpOnly +
 * SameSite Strict.
 *
 * Session validity (checked on every request, in this order):
 *   password_changed: the password changed more than 1 s after the session
 *     was issued (the grace covers the session minted by the change itself);
 *   absolute: older than `Z4J_SESSION_ABSOLUTE_LIFETIME_SECONDS`, or the
 *     remember-me lifetime when the user ticked it;
 *   idle: not seen for `Z4J_SESSION_IDLE_TIMEOUT_SECONDS`. Remember-me
 *     sessions skip this rule: surviving idle periods is what remember-me
 *     asks for, and their absolute lifetime still bounds them.
 */

const SIGNING_CONTEXT = Buffer.from('z4j-session-v1', 'utf8');
/** Session ids are UUIDs; this also admits other URL-safe ids without letting a `.` in. */
const SESSION_ID_SHAPE = /^[A-Za-z0-9_-]{1,128}$/;
const SIGNATURE_LENGTH = 43;
const CSRF_TOKEN_BYTES = 32;
const PASSWORD_CHANGE_GRACE_MS = 1000;
/** Remember-me lifetime in seconds: 30 days (no setting exists for it). */
export const REMEMBER_ME_LIFETIME_SECONDS = 30 * 24 * 60 * 60;

export interface CookieNames {
  readonly session: string;
  readonly csrf: string;
  readonly mfaTrust: string;
}

export interface SessionSecrets {
  /** `Z4J_SESSION_SECRET`. */
  readonly sessionSecret: string;
  /** `Z4J_PREVIOUS_SESSION_SECRETS`. */
  readonly previousSessionSecrets?: readonly string[];
}

export type SessionCookieResult =
  | {
      readonly ok: true;
      readonly sessionId: string;
      /** Signed with a previous secret: re-issue the cookie with the current one. */
      readonly rotated: boolean;
    }
  | { readonly ok: false };

export interface SessionExpiryOptions {
  readonly issuedAt: Date;
  readonly lastSeenAt: Date;
  readonly rememberMe: boolean;
  /** `Z4J_SESSION_ABSOLUTE_LIFETIME_SECONDS` (604800). */
  readonly absoluteSeconds: number;
  /** Lifetime with remember-me, {@link REMEMBER_ME_LIFETIME_SECONDS}. */
  readonly rememberSeconds: number;
  /** `Z4J_SESSION_IDLE_TIMEOUT_SECONDS` (1800). */
  readonly idleSeconds: number;
  /** `users.password_changed_at`; null when never changed. */
  readonly passwordChangedAt: Date | null | undefined;
  readonly now: Date;
}

export type SessionExpiryResult =
  | {
      readonly valid: true;
      /** When the session ends if not seen again (the earlier of the absolute and the idle end). */
      readonly expiresAt: Date;
    }
  | { readonly valid: false; readonly reason: 'absolute' | 'idle' | 'password_changed' };

/** Whether the public URL is https (then the `__Host-` names apply). */
export function isSecureOrigin(publicUrl: string): boolean {
  return new URL(publicUrl).protocol === 'https:';
}

/** The three cookie names for a brain served over HTTPS (`secure`) or not. */
export function cookieNames(secure: boolean): CookieNames {
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}z4j_session`, csrf: `${prefix}z4j_csrf`, mfaTrust: `${prefix}z4j_mfa_trust` };
}

function signature(sessionId: string, sessionSecret: string): string {
  const key = Buffer.concat([Buffer.from(sessionSecret, 'utf8'), SIGNING_CONTEXT]);
  return createHmac('sha256', key).update(sessionId, 'utf8').digest('base64url');
}

/** Constant-time equality of two strings; unequal lengths answer false at once (lengths are not secret here). */
function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The cookie value for a session id, signed with the current session secret.
 *
 * @example
 * signSessionCookie(session.id, settings.sessionSecret) // '6f1c…-….Xr3…' (id, dot, 43 chars)
 */
export function signSessionCookie(sessionId: string, sessionSecret: string): string {
  if (!SESSION_ID_SHAPE.test(sessionId)) throw new RangeError('session id must be 1-128 URL-safe characters');
  return `${sessionId}.${signature(sessionId, sessionSecret)}`;
}

/**
 * Checks a cookie value's signature against the current session secret and
 * then each previous one. Any malformed value is `{ ok: false }`.
 */
export function verifySessionCookie(value: string | undefined | null, secrets: SessionSecrets): SessionCookieResult {
  if (value === undefined || value === null) return { ok: false };
  const dot = value.lastIndexOf('.');
  if (dot === -1) return { ok: false };
  const sessionId = value.slice(0, dot);
  const presented = value.slice(dot + 1);
  if (!SESSION_ID_SHAPE.test(sessionId) || presented.length !== SIGNATURE_LENGTH) return { ok: false };
  const candidates = [secrets.sessionSecret, ...(secrets.previousSessionSecrets ?? [])];
  for (const [index, sessionSecret] of candidates.entries()) {
    if (safeEqual(signature(sessionId, sessionSecret), presented)) return { ok: true, sessionId, rotated: index > 0 };
  }
  return { ok: false };
}

/** A new CSRF token (32 random bytes, base64url), stored on the session and echoed in the csrf cookie. */
export function mintCsrfToken(): string {
  return randomBytes(CSRF_TOKEN_BYTES).toString('base64url');
}

/**
 * Double-submit check: the `X-CSRF-Token` header against the session's
 * token, in constant time. Missing or empty on either side is a mismatch.
 */
export function csrfTokensMatch(presented: string | undefined | null, expected: string | undefined | null): boolean {
  if (!presented || !expected) return false;
  return safeEqual(presented, expected);
}

/** Whether a session row is still usable at `now`, and if not, why. */
export function sessionExpiry(options: SessionExpiryOptions): SessionExpiryResult {
  const now = options.now.getTime();
  const issuedAt = options.issuedAt.getTime();
  if (options.passwordChangedAt && options.passwordChangedAt.getTime() > issuedAt + PASSWORD_CHANGE_GRACE_MS) {
    return { valid: false, reason: 'password_changed' };
  }
  const absoluteEnd = issuedAt + (options.rememberMe ? options.rememberSeconds : options.absoluteSeconds) * 1000;
  if (now >= absoluteEnd) return { valid: false, reason: 'absolute' };
  if (options.rememberMe) return { valid: true, expiresAt: new Date(absoluteEnd) };
  const idleEnd = options.lastSeenAt.getTime() + options.idleSeconds * 1000;
  if (now >= idleEnd) return { valid: false, reason: 'idle' };
  return { valid: true, expiresAt: new Date(Math.min(absoluteEnd, idleEnd)) };
}
