import * as v from 'valibot';
import { checkPasswordPolicy, describePasswordPolicy } from '@z4j/identity';
import { createSlidingWindowLimiter } from '@z4j/runtime';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps, type Principal } from '../http/api-types.js';
import { clearSessionCookies, setSessionCookies } from '../http/cookies.js';
import { revokeSession, revokeUserSessions } from '../http/principal.js';
import { invalidCredentials } from './auth-errors.js';
import { createSession } from './session-store.js';
import { canonicalTimeZone } from './time-zone.js';
import { USER_VIEW_COLUMNS, sessionPrincipalOf, userView } from './user-view.js';

/** Wrong current passwords per user per window before change-password answers 429 (a stolen session cannot grind it). */
const PASSWORD_CHANGES_PER_USER = 10;
const PASSWORD_CHANGE_WINDOW_MS = 15 * 60_000;
const MAX_PASSWORD_INPUT = 4096;

/** A profile name: trimmed, no control characters; empty means "clear it" (null). */
const ProfileName = v.optional(
  v.nullable(
    v.pipe(
      v.string(),
      v.trim(),
      v.maxLength(200, 'must be at most 200 characters'),
      v.regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
      v.transform((name) => (name === '' ? null : name)),
    ),
  ),
);

const ProfilePatch = v.strictObject({
  first_name: ProfileName,
  last_name: ProfileName,
  display_name: ProfileName,
  timezone: v.optional(
    v.pipe(
      v.string(),
      v.check((zone) => canonicalTimeZone(zone) !== undefined, 'must be an IANA time zone such as Europe/Paris or UTC'),
      v.transform((zone) => canonicalTimeZone(zone) as string),
    ),
  ),
});

const PROFILE_FIELDS = ['first_name', 'last_name', 'display_name', 'timezone'] as const;

const ChangePasswordBody = v.object({
  current_password: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_PASSWORD_INPUT)),
  new_password: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_PASSWORD_INPUT)),
});

/** Logout, the password policy, the caller's own profile (`me`) and password change. */
export function createAccountRoutes(deps: ApiDeps): AnyRoute[] {
  const { db, settings } = deps;
  const passwordChanges = createSlidingWindowLimiter({
    limit: PASSWORD_CHANGES_PER_USER,
    windowMs: PASSWORD_CHANGE_WINDOW_MS,
    now: () => deps.now().getTime(),
  });

  /** `me`: the user view, the explicit memberships (a global admin's `is_admin` covers the rest) and MFA state. */
  async function me(principal: Principal) {
    const [row, memberships] = await Promise.all([
      db.selectFrom('users').select(USER_VIEW_COLUMNS).where('id', '=', principal.user.id).executeTakeFirstOrThrow(),
      db
        .selectFrom('memberships')
        .innerJoin('projects', 'projects.id', 'memberships.project_id')
        .select(['projects.id as project_id', 'projects.slug as project_slug', 'memberships.role'])
        .where('memberships.user_id', '=', principal.user.id)
        .orderBy('projects.slug')
        .execute(),
    ]);
    return {
      ...userView(row),
      memberships,
      mfa: {
        enrolled: row.mfa_enrolled_at !== null,
        verified_this_session: principal.kind === 'session' && principal.session.mfaVerifiedAt !== null,
      },
    };
  }

  return [
    defineRoute({
      method: 'POST',
      path: '/auth/logout',
      tag: 'auth',
      summary: 'Sign out: revoke this session and clear its cookies',
      access: { kind: 'signed_in' },
      duringMfa: 'both',
      status: 204,
      handler: async ({ c, principal, audit }) => {
        const caller = sessionPrincipalOf(principal);
        await db.transaction().execute(async (trx) => {
          await revokeSession(trx, caller.session.id, 'logout', deps.now());
          await audit({ action: 'user.logout', target_type: 'user', target_id: caller.user.id, result: 'success' }, trx);
        });
        clearSessionCookies(c, deps);
        return c.body(null, 204);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/auth/policy',
      tag: 'auth',
      summary: 'Password policy hints for the sign-up and change-password forms',
      access: { kind: 'public' },
      handler: ({ c }) => c.json(describePasswordPolicy({ passwordMinLength: settings.passwordMinLength })),
    }),
    defineRoute({
      method: 'GET',
      path: '/auth/me',
      tag: 'auth',
      summary: 'The signed-in user, their project memberships and MFA state',
      access: { kind: 'signed_in' },
      duringMfa: 'both',
      handler: async ({ c, principal }) => c.json(await me(principal)),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/auth/me',
      tag: 'auth',
      summary: 'Change the own profile (first_name, last_name, display_name, timezone)',
      access: { kind: 'signed_in' },
      body: ProfilePatch,
      handler: async ({ c, body, principal, audit }) => {
        const userId = principal.user.id;
        await db.transaction().execute(async (trx) => {
          const before = await trx
            .selectFrom('users')
            .select(PROFILE_FIELDS)
            .where('id', '=', userId)
            .forUpdate()
            .executeTakeFirstOrThrow();
          const changed = PROFILE_FIELDS.filter((field) => body[field] !== undefined && body[field] !== before[field]);
          if (changed.length === 0) return;
          await trx
            .updateTable('users')
            .set({ ...Object.fromEntries(changed.map((field) => [field, body[field]])), updated_at: deps.now() })
            .where('id', '=', userId)
            .execute();
          // Field names only: the values are personal data and the audit log outlives profile edits.
          await audit(
            { action: 'user.profile.updated', target_type: 'user', target_id: userId, result: 'success', metadata: { fields: changed } },
            trx,
          );
        });
        return c.json(await me(principal));
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/auth/change-password',
      tag: 'auth',
      summary: 'Change the own password; signs out every other session',
      access: { kind: 'signed_in' },
      freshMfa: true,
      body: ChangePasswordBody,
      status: 204,
      handler: async ({ c, body, principal, audit }) => {
        const caller = sessionPrincipalOf(principal);
        const userId = caller.user.id;
        if (!passwordChanges.hit(userId)) throw apiError.rateLimited('too many password change attempts; wait 15 minutes');
        const user = await db.selectFrom('users').select(['email', 'password_hash']).where('id', '=', userId).executeTakeFirstOrThrow();
        if (!(await deps.passwords.verify(user.password_hash, body.current_password))) {
          await audit({
            action: 'user.password.changed',
            target_type: 'user',
            target_id: userId,
            result: 'failed',
            metadata: { reason: 'bad_current_password' },
          });
          throw invalidCredentials();
        }
        const policy = checkPasswordPolicy(body.new_password, { passwordMinLength: settings.passwordMinLength, email: user.email });
        if (!policy.ok)
          throw apiError.validation(policy.violations.map((violation) => ({ field: 'body.new_password', message: violation.message })));
        const passwordHash = await deps.passwords.hash(body.new_password);
        const current = await db.selectFrom('sessions').select('remember_me').where('id', '=', caller.session.id).executeTakeFirstOrThrow();
        const now = deps.now();
        // Sessions issued before password_changed_at (1 s grace) stop being valid, the caller's included, so the
        // caller gets a fresh session (keeping its remember-me and MFA verification) and the old one is revoked.
        const session = await db.transaction().execute(async (trx) => {
          await trx
            .updateTable('users')
            .set({ password_hash: passwordHash, password_changed_at: now, force_password_change: false, updated_at: now })
            .where('id', '=', userId)
            .execute();
          const others = await revokeUserSessions(trx, userId, 'password_changed', now, caller.session.id);
          await revokeSession(trx, caller.session.id, 'password_changed_reissued', now);
          const fresh = await createSession(trx, {
            userId,
            rememberMe: current.remember_me,
            ip: c.get('clientIp'),
            userAgent: c.req.header('user-agent') ?? null,
            mfaVerifiedAt: caller.session.mfaVerifiedAt,
            absoluteLifetimeSeconds: settings.sessionAbsoluteLifetimeSeconds,
            now,
          });
          await audit(
            {
              action: 'user.password.changed',
              target_type: 'user',
              target_id: userId,
              result: 'success',
              metadata: { other_sessions_revoked: others },
            },
            trx,
          );
          return fresh;
        });
        setSessionCookies(c, deps, { ...session, rememberMe: current.remember_me });
        return c.body(null, 204);
      },
    }),
  ];
}
