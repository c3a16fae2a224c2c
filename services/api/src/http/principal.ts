import { isIP } from 'node:net';
import { getCookie } from 'hono/cookie';
import type { Kysely, SelectQueryBuilder } from 'kysely';

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
import type { ApiContext, ApiDeps, AuthUser, Principal, ProjectRole } from './api-types.js';
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

/**
 * The project a `/projects/:slug/…` route names, read in the same query as
 * the caller (one round trip less on every project route): its row and the
 * caller's membership role, or `found: false` when no project has that slug.
 */
export type ProjectLookup =
  | { readonly found: false }
  | { readonly found: true; readonly id: string; readonly slug: string; readonly isActive: boolean; readonly role: ProjectRole | null };

/** The caller and, when asked for a slug, that project as the caller sees it. */
export interface Caller {
  readonly principal: Principal;
  readonly project: ProjectLookup | undefined;
}

interface ProjectColumns {
  readonly route_project_id?: string | null;
  readonly route_project_slug?: string | null;
  readonly route_project_active?: boolean | null;
  readonly route_role?: ProjectRole | null;
}

function projectLookup(slug: string | undefined, row: ProjectColumns): ProjectLookup | undefined {
  if (slug === undefined) return undefined;
  if (!row.route_project_id || !row.route_project_slug) return { found: false };
  return {
    found: true,
    id: row.route_project_id,
    slug: row.route_project_slug,
    isActive: row.route_project_active === true,
    role: row.route_role ?? null,
  };
}

/**
 * `left join projects on slug = :slug left join memberships (that project, this user)`, selected under
 * `route_*` names (api_keys has a project_id of its own: the key's binding).
 */
function withRouteProject<QB extends SelectQueryBuilder<Database & { users: Database['users'] }, 'users', object>>(
  query: QB,
  slug: string | undefined,
): QB {
  if (slug === undefined) return query;
  return query
    .leftJoin('projects', (join) => join.on('projects.slug', '=', slug))
    .leftJoin('memberships', (join) =>
      join.onRef('memberships.project_id', '=', 'projects.id').onRef('memberships.user_id', '=', 'users.id'),
    )
    .select([
      'projects.id as route_project_id',
      'projects.slug as route_project_slug',
      'projects.is_active as route_project_active',
      'memberships.role as route_role',
    ]) as unknown as QB;
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
  return (await resolveCaller(c, deps, undefined))?.principal;
}

/** {@link resolvePrincipal}, plus the project named by `projectSlug` (a valid slug) read in the same query. */
export async function resolveCaller(c: ApiContext, deps: ApiDeps, projectSlug: string | undefined): Promise<Caller | undefined> {
  const authorization = c.req.header('authorization');
  if (authorization !== undefined) return apiKeyCaller(c, deps, authorization, projectSlug);
  const cookie = getCookie(c, cookieNames(deps.secureCookies).session);
  if (cookie === undefined) return undefined;
  return sessionCaller(deps, cookie, c.req.header('user-agent') ?? null, projectSlug);
}

async function apiKeyCaller(c: ApiContext, deps: ApiDeps, authorization: string, projectSlug: string | undefined): Promise<Caller> {
  const parsed = parseBearerApiKey(authorization);
  if (!parsed.ok) throw apiError.unauthenticated('Authorization: expected "Bearer z4k_…" with a z4j API key');
  const hashes = apiKeyHashCandidates(parsed.token, { secret: deps.settings.secret, previousSecrets: deps.settings.previousSecrets });
  const now = deps.now();
  const row: (KeyRow & ProjectColumns) | undefined = await withRouteProject(
    deps.db
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
      .where('api_keys.token_hash', 'in', hashes),
    projectSlug,
  ).executeTakeFirst();
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
  return {
    principal: { kind: 'api_key', user: toAuthUser(row), apiKey: { id: row.key_id, scopes: row.scopes, projectId: row.project_id } },
    project: projectLookup(projectSlug, row),
  };
}

interface KeyRow {
  readonly id: string;
  readonly email: string;
  readonly display_name: string | null;
  readonly is_admin: boolean;
  readonly mfa_enrolled_at: Date | null;
  readonly mfa_enforcement_started_at: Date | null;
  readonly is_active: boolean;
  readonly key_id: string;
  readonly scopes: string[];
  readonly project_id: string | null;
  readonly expires_at: Date | null;
  readonly revoked_at: Date | null;
  readonly last_used_at: Date | null;
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
  return (await sessionCaller(deps, cookie, userAgent, undefined)).principal;
}

async function sessionCaller(
  deps: ApiDeps,
  cookie: string,
  userAgent: string | null,
  projectSlug: string | undefined,
): Promise<Caller & { readonly principal: Extract<Principal, { kind: 'session' }> }> {
  const { settings } = deps;
  const verified = verifySessionCookie(cookie, {
    sessionSecret: settings.sessionSecret,
    previousSessionSecrets: settings.previousSessionSecrets,
  });
  if (!verified.ok || !isUuid(verified.sessionId)) throw apiError.unauthenticated('session is invalid or has expired');
  const row = await withRouteProject(
    deps.db
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
      .where('sessions.id', '=', verified.sessionId),
    projectSlug,
  ).executeTakeFirst();
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
    principal: {
      kind: 'session',
      user: toAuthUser(row),
      session: { id: row.session_id, csrfToken: row.csrf_token, issuedAt: row.issued_at, mfaVerifiedAt: row.mfa_verified_at },
    },
    project: projectLookup(projectSlug, row as ProjectColumns),
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
