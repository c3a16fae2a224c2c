import { isIP } from 'node:net';
import { getCookie } from 'hono/cookie';
import type { Kysely } from 'kysely';

import type { Database } from '@z4j/db';
import {
  REMEMBER_ME_LIFETIME_SECONDS,
  apiKeyHashCandidates,
  cookieNames,
  parseBearerApiKey,
  sessionExpiry,
  verifySessionCookie,
  type SessionExpiryResult,
} from '@z4j/identity';
import { apiError } from './api-errors.js';
import type { ApiContext, ApiDeps, AuthUser, Principal } from './api-types.js';
import { isUuid } from './uuid.js';

/** last_seen_at is written at most this often per session: a dashboard polling every second is not a write per poll. */
const LAST_SEEN_WRITE_INTERVAL_MS = 60_000;

const USER_COLUMNS = [
  'users.id',
  'users.email',
  'users.display_name',
  'users.is_admin',
  'users.mfa_enrolled_at',
  'users.mfa_enforcement_started_at',
] as const;

function toAuthUser(row: {
  id: string;
  email: string;
  display_name: string | null;
  is_admin: boolean;
  mfa_enrolled_at: Date | null;
  mfa_enforcement_started_at: Date | null;
}): AuthUser {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    isAdmin: row.is_admin,
    mfaEnrolledAt: row.mfa_enrolled_at,
    mfaEnforcementStartedAt: row.mfa_enforcement_started_at,
  };
}

/** Whether the request carries a session cookie at all (signed or not): decides whether a Bearer call needs CSRF. */
export function hasSessionCookie(c: ApiContext, deps: ApiDeps): boolean {
  return getCookie(c, cookieNames(deps.secureCookies).session) !== undefined;
}

/**
 * The caller of a request: an API key when `Authorization: Bearer z4k_…` is
 * sent, else the session cookie's session. Undefined when neither is present.
 * A credential that is present but wrong (unknown, expired, revoked, bad
 * signature) is a 401, never a silent fallback to anonymous.
 */
export async function resolvePrincipal(c: ApiContext, deps: ApiDeps): Promise<Principal | undefined> {
  const authorization = c.req.header('authorization');
  if (authorization !== undefined) return apiKeyPrincipal(c, deps, authorization);
  const cookie = getCookie(c, cookieNames(deps.secureCookies).session);
  if (cookie === undefined) return undefined;
  return sessionPrincipal(c, deps, cookie);
}

async function apiKeyPrincipal(c: ApiContext, deps: ApiDeps, authorization: string): Promise<Principal> {
  const parsed = parseBearerApiKey(authorization);
  if (!parsed.ok) throw apiError.unauthenticated('Authorization: expected "Bearer z4k_…" with a z4j API key');
  const hashes = apiKeyHashCandidates(parsed.token, { secret: deps.settings.secret, previousSecrets: deps.settings.previousSecrets });
  const now = deps.now();
  const row = await deps.db
    .selectFrom('api_keys')
    .innerJoin('users', 'users.id', 'api_keys.user_id')
    .select([
      ...USER_COLUMNS,
      'users.is_active',
      'api_keys.id as key_id',
      'api_keys.scopes',
      'api_keys.project_id',
      'api_keys.expires_at',
      'api_keys.revoked_at',
      'api_keys.last_used_at',
    ])
    .where('api_keys.token_hash', 'in', hashes)
    .executeTakeFirst();
  if (!row || row.revoked_at !== null || !row.is_active || (row.expires_at !== null && row.expires_at <= now)) {
    throw apiError.unauthenticated('API key is unknown, revoked or expired');
  }
  if (row.last_used_at === null || now.getTime() - row.last_used_at.getTime() >= LAST_SEEN_WRITE_INTERVAL_MS) {
    await deps.db
      .updateTable('api_keys')
      .set({ last_used_at: now, last_used_ip: isIP(c.get('clientIp')) ? c.get('clientIp') : null })
      .where('id', '=', row.key_id)
      .execute();
  }
  return { kind: 'api_key', user: toAuthUser(row), apiKey: { id: row.key_id, scopes: row.scopes, projectId: row.project_id } };
}

function sessionPrincipal(c: ApiContext, deps: ApiDeps, cookie: string): Promise<Principal> {
  return sessionFromCookie(deps, cookie, c.req.header('user-agent') ?? null);
}

/**
 * The session a cookie value names, with its user, when it is still valid
 * (signature, not revoked, user active, lifetimes, user-agent pin); a 401
 * otherwise. Shared by the REST pipeline and the dashboard WebSocket.
 */
export async function sessionFromCookie(
  deps: ApiDeps,
  cookie: string,
  userAgent: string | null,
): Promise<Extract<Principal, { kind: 'session' }>> {
  const { settings } = deps;
  const verified = verifySessionCookie(cookie, {
    sessionSecret: settings.sessionSecret,
    previousSessionSecrets: settings.previousSessionSecrets,
  });
  if (!verified.ok || !isUuid(verified.sessionId)) throw apiError.unauthenticated('session is invalid or has expired');
  const row = await deps.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      ...USER_COLUMNS,
      'users.is_active',
      'users.password_changed_at',
      'sessions.id as session_id',
      'sessions.csrf_token',
      'sessions.issued_at',
      'sessions.last_seen_at',
      'sessions.revoked_at',
      'sessions.remember_me',
      'sessions.mfa_verified_at',
      'sessions.user_agent_at_issue',
    ])
    .where('sessions.id', '=', verified.sessionId)
    .executeTakeFirst();
  const now = deps.now();
  if (!row || row.revoked_at !== null || !row.is_active) throw apiError.unauthenticated('session is invalid or has expired');
  const expiry = sessionRowExpiry(row, settings, now);
  if (!expiry.valid) {
    await revokeSession(deps.db, row.session_id, `expired:${expiry.reason}`, now);
    throw apiError.unauthenticated('session is invalid or has expired');
  }
  if (settings.sessionPinUserAgent && userAgent !== row.user_agent_at_issue) {
    await revokeSession(deps.db, row.session_id, 'user_agent_changed', now);
    throw apiError.unauthenticated('session is invalid or has expired');
  }
  if (now.getTime() - row.last_seen_at.getTime() >= LAST_SEEN_WRITE_INTERVAL_MS) {
    await deps.db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', row.session_id).execute();
  }
  return {
    kind: 'session',
    user: toAuthUser(row),
    session: { id: row.session_id, csrfToken: row.csrf_token, issuedAt: row.issued_at, mfaVerifiedAt: row.mfa_verified_at },
  };
}

/** Whether a stored session is still usable: the absolute and idle lifetimes and the password-change rule (§7). */
export function sessionRowExpiry(
  row: { issued_at: Date; last_seen_at: Date; remember_me: boolean; password_changed_at: Date | null },
  settings: Pick<ApiDeps['settings'], 'sessionAbsoluteLifetimeSeconds' | 'sessionIdleTimeoutSeconds'>,
  now: Date,
): SessionExpiryResult {
  return sessionExpiry({
    issuedAt: row.issued_at,
    lastSeenAt: row.last_seen_at,
    rememberMe: row.remember_me,
    absoluteSeconds: settings.sessionAbsoluteLifetimeSeconds,
    rememberSeconds: REMEMBER_ME_LIFETIME_SECONDS,
    idleSeconds: settings.sessionIdleTimeoutSeconds,
    passwordChangedAt: row.password_changed_at,
    now,
  });
}

export async function revokeSession(db: Kysely<Database>, sessionId: string, reason: string, now: Date): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: now, revocation_reason: reason })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Revokes every live session of a user (password change, MFA reset), optionally keeping one. */
export async function revokeUserSessions(db: Kysely<Database>, userId: string, reason: string, now: Date, keep?: string): Promise<number> {
  const result = await db
    .updateTable('sessions')
    .set({ revoked_at: now, revocation_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .$if(keep !== undefined, (query) => query.where('id', '<>', keep!))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
