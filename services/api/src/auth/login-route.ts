import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { getCookie } from 'hono/cookie';
import * as v from 'valibot';
import {
  canonicalizeEmail,
  cookieNames,
  hashTrustedDeviceId,
  isLockedOut,
  loginLockoutDecision,
  type CanonicalEmailResult,
} from '@z4j/identity';
import { createSlidingWindowLimiter } from '@z4j/runtime';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiContext, type ApiDeps, type Principal, type RouteInput } from '../http/api-types.js';
import { setSessionCookies } from '../http/cookies.js';
import { revokeSession } from '../http/principal.js';
import { invalidCredentials, unsupportedMediaType } from './auth-errors.js';
import { createUnknownEmailFailures, loginFailureDelayMs, waitUntilElapsed } from './login-timing.js';
import { createSession } from './session-store.js';
import { USER_VIEW_COLUMNS, userView } from './user-view.js';

/** §7: at most this many sign-in attempts per client address per minute. */
const LOGINS_PER_IP = 20;
const LOGIN_WINDOW_MS = 60_000;
/** Far above any password the policy accepts (1024 code points can be 2048 UTF-16 units); bounds the argon2 input. */
const MAX_PASSWORD_INPUT = 4096;
/** A trust cookie holds 43 base64url characters; anything much longer is not one of ours. */
const MAX_DEVICE_ID_LENGTH = 256;

const LoginBody = v.object({
  email: v.pipe(v.string(), v.minLength(1), v.maxLength(320)),
  password: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_PASSWORD_INPUT)),
  remember_me: v.optional(v.boolean(), false),
});
type LoginInput = v.InferOutput<typeof LoginBody>;

type Audit = RouteInput<unknown, unknown, { kind: 'public' }>['audit'];

/** Why a sign-in failed: recorded in the audit row, never shown to the client. */
type FailureReason = 'unknown_user' | 'bad_password' | 'inactive' | 'locked';

type Attempt = { readonly ok: false; readonly delayMs: number } | { readonly ok: true; readonly respond: () => Response };

/**
 * `POST /auth/login` (§7 "Login"). One attempt goes through these states:
 *
 * - rate limited (429, per client address) before anything is looked up;
 * - failed: unknown email (the password is still run through argon2 against
 *   a dummy hash), inactive account, locked account (the password is checked
 *   but ignored), or wrong password (counted; reaching
 *   `Z4J_LOGIN_LOCKOUT_THRESHOLD` locks the account for
 *   `Z4J_LOGIN_LOCKOUT_DURATION_SECONDS`, and the first failure after a lock
 *   ran out starts a new count). Each waits its backoff and then answers the
 *   identical 401 `invalid_credentials`;
 * - signed in: the count and lock are cleared, a session is created (already
 *   MFA-verified when a valid trusted-device cookie of this user comes along),
 *   and `mfa_required` tells the dashboard whether `/auth/mfa/verify` comes next.
 *
 * Every outcome is audited, and every answer (success or failure) takes at
 * least `Z4J_LOGIN_MIN_DURATION_MS` of real time since the handler started.
 */
export function createLoginRoute(deps: ApiDeps): AnyRoute {
  const { settings } = deps;
  const perIp = createSlidingWindowLimiter({ limit: LOGINS_PER_IP, windowMs: LOGIN_WINDOW_MS, now: () => deps.now().getTime() });
  const unknownEmails = createUnknownEmailFailures({ resetAfterMs: settings.loginLockoutDurationSeconds * 1000 });

  async function refuse(
    c: ApiContext,
    audit: Audit,
    failure: { reason: FailureReason; userId: string | null; failedCount: number; email: string },
  ): Promise<Attempt> {
    // The attempted email is personal data (and often a typo of someone's password): recorded only when asked to.
    const logEmail = settings.logLoginEmail;
    deps.logger.info(
      { reason: failure.reason, user: failure.userId, ip: c.get('clientIp'), ...(logEmail ? { email: failure.email } : {}) },
      'auth:login:failed',
    );
    await audit({
      action: 'user.login',
      target_type: 'user',
      target_id: failure.userId,
      result: 'failed',
      user_id: failure.userId,
      metadata: { reason: failure.reason, ...(logEmail && failure.userId === null ? { email: failure.email } : {}) },
    });
    return { ok: false, delayMs: loginFailureDelayMs(failure.failedCount, settings) };
  }

  /** Counts a wrong password under the row lock, locking the account at the threshold; the audit rows commit with it. */
  async function recordBadPassword(c: ApiContext, audit: Audit, userId: string, email: string, now: Date): Promise<Attempt> {
    const ip = c.get('clientIp');
    const counted = await deps.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('users')
        .select(['failed_login_count', 'locked_until'])
        .where('id', '=', userId)
        .forUpdate()
        .executeTakeFirstOrThrow();
      // A concurrent attempt locked it meanwhile: this one is a locked attempt, not another count.
      if (isLockedOut(row.locked_until, now)) return { locked: true as const, failedCount: row.failed_login_count + 1 };
      // A lock that has run out starts a fresh count; otherwise its first failure would lock again at once.
      const failedCount = (row.locked_until === null ? row.failed_login_count : 0) + 1;
      const decision = loginLockoutDecision(failedCount, now, settings);
      await trx
        .updateTable('users')
        .set({
          failed_login_count: failedCount,
          locked_until: decision.locked ? decision.lockedUntil : null,
          last_failed_login_at: now,
          last_failed_login_ip: isIP(ip) ? ip : null,
          updated_at: now,
        })
        .where('id', '=', userId)
        .execute();
      await audit(
        {
          action: 'user.login',
          target_type: 'user',
          target_id: userId,
          result: 'failed',
          user_id: userId,
          metadata: { reason: 'bad_password', failed_count: failedCount },
        },
        trx,
      );
      if (decision.locked) {
        await audit(
          {
            action: 'user.login.locked',
            target_type: 'user',
            target_id: userId,
            result: 'locked',
            outcome: 'deny',
            user_id: userId,
            metadata: { failed_count: failedCount, locked_until: decision.lockedUntil.toISOString() },
          },
          trx,
        );
        deps.logger.warn({ user: userId, ip, lockedUntil: decision.lockedUntil }, 'auth:login:locked');
      }
      return { locked: false as const, failedCount };
    });
    if (counted.locked) return refuse(c, audit, { reason: 'locked', userId, failedCount: counted.failedCount, email });
    deps.logger.info({ reason: 'bad_password', user: userId, ip, ...(settings.logLoginEmail ? { email } : {}) }, 'auth:login:failed');
    return { ok: false, delayMs: loginFailureDelayMs(counted.failedCount, settings) };
  }

  /** The trusted device behind the request's mfa_trust cookie, if it is this user's, live and unexpired. */
  async function trustedDeviceOf(c: ApiContext, userId: string, now: Date): Promise<{ id: string } | undefined> {
    const deviceId = getCookie(c, cookieNames(deps.secureCookies).mfaTrust);
    if (deviceId === undefined || deviceId === '' || deviceId.length > MAX_DEVICE_ID_LENGTH) return undefined;
    return deps.db
      .selectFrom('trusted_devices')
      .select('id')
      .where('cookie_id_hash', '=', hashTrustedDeviceId(deviceId))
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
  }

  async function attempt(c: ApiContext, input: LoginInput, principal: Principal | undefined, audit: Audit): Promise<Attempt> {
    const now = deps.now();
    const canonical: CanonicalEmailResult = canonicalizeEmail(input.email);
    const email = canonical.ok ? canonical.email : input.email.trim().toLowerCase();
    const user = canonical.ok
      ? await deps.db
          .selectFrom('users')
          .select([...USER_VIEW_COLUMNS, 'password_hash', 'is_active', 'failed_login_count', 'locked_until', 'mfa_enforcement_started_at'])
          .where('email', '=', canonical.email)
          .executeTakeFirst()
      : undefined;

    if (!user) {
      await deps.passwords.verifyAgainstDummy(input.password);
      const failedCount = unknownEmails.record(email, now.getTime());
      return refuse(c, audit, { reason: 'unknown_user', userId: null, failedCount, email });
    }
    // Verified before any other check, so every kind of failure costs the same argon2 run.
    const passwordOk = await deps.passwords.verify(user.password_hash, input.password);
    if (!user.is_active) return refuse(c, audit, { reason: 'inactive', userId: user.id, failedCount: user.failed_login_count + 1, email });
    if (isLockedOut(user.locked_until, now)) {
      return refuse(c, audit, { reason: 'locked', userId: user.id, failedCount: user.failed_login_count + 1, email });
    }
    if (!passwordOk) return recordBadPassword(c, audit, user.id, email, now);

    const enrolled = user.mfa_enrolled_at !== null;
    const trustedDevice = enrolled ? await trustedDeviceOf(c, user.id, now) : undefined;
    const mfaRequired = enrolled && trustedDevice === undefined;
    const enforced = settings.mfaEnforceForAll || (settings.mfaEnforceForAdmins && user.is_admin);
    // Enforcement's grace period starts at the first sign-in under it (route-runner's enrolmentGraceOver reads it).
    const graceStarts = enforced && !enrolled && user.mfa_enforcement_started_at === null;
    const rehashed = deps.passwords.needsRehash(user.password_hash) ? await deps.passwords.hash(input.password) : undefined;

    const signedIn = await deps.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('users')
        .set({
          failed_login_count: 0,
          locked_until: null,
          last_login_at: now,
          updated_at: now,
          ...(rehashed === undefined ? {} : { password_hash: rehashed }),
          ...(graceStarts ? { mfa_enforcement_started_at: now } : {}),
        })
        .where('id', '=', user.id)
        .returning([...USER_VIEW_COLUMNS])
        .executeTakeFirstOrThrow();
      // This browser's previous session (if any) is replaced, not left behind alongside the new one.
      if (principal?.kind === 'session') await revokeSession(trx, principal.session.id, 'replaced_by_login', now);
      const session = await createSession(trx, {
        userId: user.id,
        rememberMe: input.remember_me,
        ip: c.get('clientIp'),
        userAgent: c.req.header('user-agent') ?? null,
        mfaVerifiedAt: trustedDevice ? now : null,
        absoluteLifetimeSeconds: settings.sessionAbsoluteLifetimeSeconds,
        now,
      });
      if (trustedDevice) {
        await trx.updateTable('trusted_devices').set({ last_seen_at: now, updated_at: now }).where('id', '=', trustedDevice.id).execute();
        await audit(
          {
            action: 'user.mfa_trusted_device_used',
            target_type: 'trusted_device',
            target_id: trustedDevice.id,
            result: 'success',
            user_id: user.id,
          },
          trx,
        );
      }
      await audit(
        {
          action: 'user.login',
          target_type: 'user',
          target_id: user.id,
          result: 'success',
          user_id: user.id,
          metadata: {
            mfa_required: mfaRequired,
            remember_me: input.remember_me,
            ...(rehashed === undefined ? {} : { password_rehashed: true }),
            ...(graceStarts ? { mfa_enforcement_started: true } : {}),
          },
        },
        trx,
      );
      return { row, session };
    });
    deps.logger.info({ user: user.id, mfaRequired }, 'auth:login:succeeded');
    return {
      ok: true,
      respond: () => {
        setSessionCookies(c, deps, { ...signedIn.session, rememberMe: input.remember_me });
        return c.json({ user: userView(signedIn.row), mfa_required: mfaRequired });
      },
    };
  }

  return defineRoute({
    method: 'POST',
    path: '/auth/login',
    tag: 'auth',
    summary: 'Sign in with email and password; sets the session and CSRF cookies',
    access: { kind: 'public' },
    body: LoginBody,
    handler: async ({ c, body, principal, audit }) => {
      const startedAt = performance.now();
      if (!/^application\/json\s*(?:;|$)/i.test(c.req.header('content-type') ?? '')) throw unsupportedMediaType();
      if (!perIp.hit(c.get('clientIp'))) throw apiError.rateLimited('too many sign-in attempts from this address; wait a minute');
      const outcome = await attempt(c, body, principal, audit);
      if (!outcome.ok) {
        await waitUntilElapsed(performance.now(), outcome.delayMs);
        await waitUntilElapsed(startedAt, settings.loginMinDurationMs);
        throw invalidCredentials();
      }
      await waitUntilElapsed(startedAt, settings.loginMinDurationMs);
      return outcome.respond();
    },
  });
}
