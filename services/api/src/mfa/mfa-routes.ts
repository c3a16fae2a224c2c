import { deleteCookie, setCookie } from 'hono/cookie';
import * as v from 'valibot';
import type { AuditEntry } from '@z4j/audit';
import {
  PASSWORD_MAX_LENGTH,
  cookieNames,
  encodeTotpSecret,
  generateTotpSecret,
  openTotpSecret,
  sealTotpSecret,
  totpProvisioningUrl,
  verifyTotp,
} from '@z4j/identity';
import { createSlidingWindowLimiter } from '@z4j/runtime';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiContext, type ApiDeps, type Principal, type SessionInfo } from '../http/api-types.js';
import {
  clearUserMfa,
  loadUserMfa,
  lockEnrolledUser,
  mfaErrors,
  mintRecoveryCodeSet,
  remainingRecoveryCodes,
  replaceRecoveryCodes,
} from './mfa-user-store.js';
import { consumeSecondFactor, matchSecondFactor } from './second-factor.js';
import { createTrustedDeviceRoutes } from './trusted-device-routes.js';
import { deviceLabelFrom, rememberTrustedDevice } from './trusted-device-store.js';

const CODE = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'expected a 6-digit code or a recovery code'),
  v.maxLength(64, 'expected a 6-digit code or a recovery code'),
);
const EnrollCompleteBody = v.object({ code: CODE });
const VerifyBody = v.object({ code: CODE, remember_device: v.optional(v.boolean(), false) });
const DisableBody = v.object({ password: v.pipe(v.string(), v.minLength(1), v.maxLength(PASSWORD_MAX_LENGTH)), code: CODE });

/** Attempts per IP are counted over this window (Z4J_MFA_VERIFICATION_RATE_PER_MIN of them). */
const RATE_WINDOW_MS = 60_000;

/** The pipeline keeps API keys away from tag `mfa`; this narrows the type (and holds even if that changed). */
function sessionOf(principal: Principal): SessionInfo {
  if (principal.kind !== 'session') throw apiError.forbidden('MFA routes need a signed-in browser session');
  return principal.session;
}

type Audit = (entry: AuditEntry) => Promise<unknown>;

/**
 * MFA with TOTP (§7): enrolment, verification (also the re-check for fresh MFA), disabling, recovery codes,
 * status, and the remembered devices (`trusted-device-routes.ts`).
 *
 * Enrolment is two steps: `enroll-start` seals a new secret into users.mfa_secret_encrypted and shows it once;
 * only `enroll-complete` with a code from the app sets mfa_enrolled_at, so a half-finished enrolment never
 * locks anyone out. Every accepted TOTP code advances users.mfa_last_time_step, and a code from that step or
 * earlier is refused, so each code works once. Verification and disabling are limited per client IP.
 */
export function createMfaRoutes(deps: ApiDeps): AnyRoute[] {
  const limiterOptions = {
    limit: deps.settings.mfaVerificationRatePerMin,
    windowMs: RATE_WINDOW_MS,
    now: () => deps.now().getTime(),
  };
  const verifyLimiter = createSlidingWindowLimiter(limiterOptions);
  const disableLimiter = createSlidingWindowLimiter(limiterOptions);
  const mfaTrustCookie = cookieNames(deps.secureCookies).mfaTrust;

  function throttle(c: ApiContext, limiter: typeof verifyLimiter): void {
    if (!limiter.hit(c.get('clientIp'))) throw apiError.rateLimited('too many MFA attempts from this address; wait a minute');
  }

  async function refuse(audit: Audit, userId: string, purpose: string, reason: string): Promise<void> {
    await audit({ action: 'user.mfa_failed', target_type: 'user', target_id: userId, result: 'failed', metadata: { purpose, reason } });
  }

  const routes: AnyRoute[] = [
    defineRoute({
      method: 'GET',
      path: '/auth/mfa/status',
      tag: 'mfa',
      summary: "The caller's MFA enrolment and how many unused recovery codes are left",
      access: { kind: 'signed_in' },
      duringMfa: 'both',
      handler: async ({ c, principal }) => {
        const user = await loadUserMfa(deps.db, principal.user.id);
        return c.json({
          enrolled: user.enrolledAt !== null,
          enrolled_at: user.enrolledAt?.toISOString() ?? null,
          remaining_recovery_codes: user.enrolledAt === null ? 0 : await remainingRecoveryCodes(deps.db, user.id),
        });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/auth/mfa/enroll-start',
      tag: 'mfa',
      summary: 'Start enrolment: a new TOTP secret (shown once) and its otpauth:// URL for the authenticator app',
      access: { kind: 'signed_in' },
      duringMfa: 'enrol',
      handler: async ({ c, principal, audit }) => {
        sessionOf(principal);
        const { user } = principal;
        const secret = generateTotpSecret();
        const sealed = sealTotpSecret(secret, user.id, deps.settings.secret);
        const now = deps.now();
        const stored = await deps.db.transaction().execute(async (trx) => {
          const updated = await trx
            .updateTable('users')
            .set({ mfa_secret_encrypted: sealed, updated_at: now })
            .where('id', '=', user.id)
            .where('mfa_enrolled_at', 'is', null)
            .executeTakeFirst();
          if (updated.numUpdatedRows === 0n) return false;
          await audit({ action: 'user.mfa_enrollment_started', target_type: 'user', target_id: user.id, result: 'success' }, trx);
          return true;
        });
        if (!stored) throw mfaErrors.alreadyEnrolled();
        return c.json({
          secret_base32: encodeTotpSecret(secret),
          provisioning_url: totpProvisioningUrl({ secret, accountName: user.email, publicUrl: deps.settings.publicUrl }),
        });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/auth/mfa/enroll-complete',
      tag: 'mfa',
      summary: 'Finish enrolment with a code from the app: returns the recovery codes (shown once); this session counts as verified',
      access: { kind: 'signed_in' },
      duringMfa: 'enrol',
      body: EnrollCompleteBody,
      handler: async ({ c, body, principal, audit }) => {
        const session = sessionOf(principal);
        const user = await loadUserMfa(deps.db, principal.user.id);
        if (user.enrolledAt !== null) throw mfaErrors.alreadyEnrolled();
        const pending = user.sealedSecret;
        if (pending === null) throw apiError.conflict('no enrolment in progress: start with POST /api/v1/auth/mfa/enroll-start');
        const opened = openTotpSecret(pending, user.id, { secret: deps.settings.secret, previousSecrets: deps.settings.previousSecrets });
        if (!opened.ok)
          throw apiError.conflict('the pending enrolment can no longer be read: start again with POST /api/v1/auth/mfa/enroll-start');
        const checked = verifyTotp(
          opened.plaintext,
          body.code,
          deps.now(),
          user.lastTimeStep === null ? {} : { lastUsedTimeStep: user.lastTimeStep },
        );
        if (!checked.valid) {
          await refuse(audit, user.id, 'enroll', checked.reason);
          throw mfaErrors.invalidCode();
        }
        const recovery = await mintRecoveryCodeSet(deps.settings.mfaRecoveryCodeCount, deps.passwords.costs);
        const now = deps.now();
        await deps.db.transaction().execute(async (trx) => {
          // The code was checked against `pending`; a concurrent enroll-start (new secret) or enroll-complete loses here.
          const locked = await loadUserMfa(trx, user.id, { forUpdate: true });
          if (locked.enrolledAt !== null) throw mfaErrors.alreadyEnrolled();
          if (locked.sealedSecret === null || !Buffer.from(locked.sealedSecret).equals(Buffer.from(pending))) {
            throw apiError.conflict('enrolment was restarted meanwhile: use the newest secret');
          }
          await trx
            .updateTable('users')
            .set({
              mfa_enrolled_at: now,
              mfa_last_time_step: checked.timeStep,
              updated_at: now,
              ...(opened.keyIndex > 0 ? { mfa_secret_encrypted: sealTotpSecret(opened.plaintext, user.id, deps.settings.secret) } : {}),
            })
            .where('id', '=', user.id)
            .execute();
          await replaceRecoveryCodes(trx, user.id, recovery.hashes, now);
          await trx.updateTable('sessions').set({ mfa_verified_at: now }).where('id', '=', session.id).execute();
          await audit(
            {
              action: 'user.mfa_enrolled',
              target_type: 'user',
              target_id: user.id,
              result: 'success',
              metadata: { recovery_codes: recovery.codes.length },
            },
            trx,
          );
        });
        return c.json({ recovery_codes: recovery.codes });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/auth/mfa/verify',
      tag: 'mfa',
      summary: 'Prove the second factor with a TOTP or recovery code: completes sign-in, or refreshes it for sensitive actions',
      access: { kind: 'signed_in' },
      duringMfa: 'verify',
      body: VerifyBody,
      handler: async ({ c, body, principal, audit }) => {
        const session = sessionOf(principal);
        throttle(c, verifyLimiter);
        const user = await loadUserMfa(deps.db, principal.user.id);
        if (user.enrolledAt === null) throw mfaErrors.notEnrolled();
        const match = await matchSecondFactor(deps, user, body.code);
        if (match.kind === 'invalid') {
          await refuse(audit, user.id, 'verify', match.reason);
          throw mfaErrors.invalidCode();
        }
        const now = deps.now();
        const accepted = await deps.db.transaction().execute(async (trx) => {
          if (!(await consumeSecondFactor(trx, user.id, match, now))) return undefined;
          await trx.updateTable('sessions').set({ mfa_verified_at: now }).where('id', '=', session.id).execute();
          const remembered = body.remember_device
            ? await rememberTrustedDevice(trx, {
                userId: user.id,
                label: deviceLabelFrom(c.req.header('user-agent')),
                now,
                rememberDays: deps.settings.mfaRememberDeviceDays,
              })
            : undefined;
          await audit(
            {
              action: 'user.mfa_verified',
              target_type: 'user',
              target_id: user.id,
              result: 'success',
              metadata: {
                method: match.kind,
                ...(remembered ? { trusted_device_id: remembered.trustedDeviceId, trusted_devices_evicted: remembered.evicted } : {}),
              },
            },
            trx,
          );
          if (match.kind === 'recovery_code') {
            await audit(
              {
                action: 'user.mfa_recovery_code_used',
                target_type: 'user',
                target_id: user.id,
                result: 'success',
                metadata: { remaining: await remainingRecoveryCodes(trx, user.id) },
              },
              trx,
            );
          }
          return { remembered };
        });
        if (!accepted) {
          // Spent by a concurrent request between the check and the write: a replay like any other.
          await refuse(audit, user.id, 'verify', 'replayed');
          throw mfaErrors.invalidCode();
        }
        if (accepted.remembered) {
          setCookie(c, mfaTrustCookie, accepted.remembered.deviceId, {
            path: '/',
            httpOnly: true,
            secure: deps.secureCookies,
            sameSite: 'Strict',
            maxAge: deps.settings.mfaRememberDeviceDays * 86_400,
          });
        }
        return c.json({ ok: true, used_recovery_code: match.kind === 'recovery_code' });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/auth/mfa/disable',
      tag: 'mfa',
      summary: 'Turn MFA off with the password and a current code: removes the secret, recovery codes and remembered devices',
      access: { kind: 'signed_in' },
      freshMfa: true,
      body: DisableBody,
      status: 204,
      handler: async ({ c, body, principal, audit }) => {
        sessionOf(principal);
        throttle(c, disableLimiter);
        const user = await loadUserMfa(deps.db, principal.user.id);
        if (user.enrolledAt === null) throw mfaErrors.notEnrolled();
        // Both are always checked, and one answer covers either being wrong: the reply tells nothing about which.
        const passwordOk = await deps.passwords.verify(user.passwordHash, body.password);
        const match = await matchSecondFactor(deps, user, body.code);
        if (!passwordOk) {
          await refuse(audit, user.id, 'disable', 'password');
          throw mfaErrors.invalidCredentials();
        }
        if (match.kind === 'invalid') {
          await refuse(audit, user.id, 'disable', `code_${match.reason}`);
          throw mfaErrors.invalidCredentials();
        }
        const now = deps.now();
        const disabled = await deps.db.transaction().execute(async (trx) => {
          await lockEnrolledUser(trx, user.id);
          if (!(await consumeSecondFactor(trx, user.id, match, now))) return false;
          const cleared = await clearUserMfa(trx, user.id, now);
          await audit({ action: 'user.mfa_disabled', target_type: 'user', target_id: user.id, result: 'success', metadata: cleared }, trx);
          return true;
        });
        if (!disabled) {
          await refuse(audit, user.id, 'disable', 'code_replayed');
          throw mfaErrors.invalidCredentials();
        }
        deleteCookie(c, mfaTrustCookie, { path: '/', secure: deps.secureCookies });
        return c.body(null, 204);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/auth/mfa/recovery-codes/regenerate',
      tag: 'mfa',
      summary: 'Replace every recovery code with a new set (shown once)',
      access: { kind: 'signed_in' },
      freshMfa: true,
      handler: async ({ c, principal, audit }) => {
        sessionOf(principal);
        if (principal.user.mfaEnrolledAt === null) throw mfaErrors.notEnrolled();
        const recovery = await mintRecoveryCodeSet(deps.settings.mfaRecoveryCodeCount, deps.passwords.costs);
        const now = deps.now();
        await deps.db.transaction().execute(async (trx) => {
          await lockEnrolledUser(trx, principal.user.id);
          await replaceRecoveryCodes(trx, principal.user.id, recovery.hashes, now);
          await audit(
            {
              action: 'user.mfa_recovery_codes_regenerated',
              target_type: 'user',
              target_id: principal.user.id,
              result: 'success',
              metadata: { recovery_codes: recovery.codes.length },
            },
            trx,
          );
        });
        return c.json({ recovery_codes: recovery.codes });
      },
    }),
    ...createTrustedDeviceRoutes(deps),
  ];
  return routes;
}
