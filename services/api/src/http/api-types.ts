import type { Context } from 'hono';
import type { Kysely } from 'kysely';
import type * as v from 'valibot';
import type { AuditEntry, AuditRow } from '@z4j/audit';
import type { EffectiveSetting, Settings } from '@z4j/config';
import type { Database } from '@z4j/db';
import type { PasswordHasher } from '@z4j/identity';
import type { Logger } from '@z4j/logger';

/** Project roles in rank order (§6.1): each includes the ones before it. */
export const PROJECT_ROLES = ['viewer', 'operator', 'admin'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

export function roleRank(role: ProjectRole): number {
  return PROJECT_ROLES.indexOf(role);
}

/** The user behind a request, as every route sees it. */
export interface AuthUser {
  readonly id: string;
  readonly email: string;
  readonly displayName: string | null;
  readonly isAdmin: boolean;
  readonly mfaEnrolledAt: Date | null;
  readonly mfaEnforcementStartedAt: Date | null;
}

export interface SessionInfo {
  readonly id: string;
  readonly csrfToken: string;
  readonly issuedAt: Date;
  readonly mfaVerifiedAt: Date | null;
}

export interface ApiKeyInfo {
  readonly id: string;
  readonly scopes: readonly string[];
  /** A key bound to one project reaches only that project's routes (plus `projects` and `home`). */
  readonly projectId: string | null;
}

/** Who is calling: a browser session (cookie) or an API key (Bearer). */
export type Principal =
  | { readonly kind: 'session'; readonly user: AuthUser; readonly session: SessionInfo }
  | { readonly kind: 'api_key'; readonly user: AuthUser; readonly apiKey: ApiKeyInfo };

/** The project a `{slug}` route resolved to, with the caller's effective role in it. */
export interface ProjectAccess {
  readonly id: string;
  readonly slug: string;
  readonly isActive: boolean;
  readonly role: ProjectRole;
}

export interface ApiVariables {
  requestId: string;
  clientIp: string;
}

export type ApiEnv = { Variables: ApiVariables };
export type ApiContext = Context<ApiEnv>;

/** The clock and the stores every route module receives (no module reaches for globals). */
export interface ApiDeps {
  readonly db: Kysely<Database>;
  readonly settings: Settings;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly passwords: PasswordHasher;
  /** Publishes a NOTIFY (agent revocation kicks sockets on every gateway replica). */
  readonly notify: (channel: string, payload: string) => Promise<void>;
  /** LISTENs on a channel (every replica's NOTIFYs arrive here); resolves once active, returns the unsubscribe. */
  readonly subscribe: (channel: string, handler: (payload: string) => void) => Promise<() => Promise<void>>;
  /** Whether the brain is served over HTTPS (from Z4J_PUBLIC_URL): picks `__Host-` cookie names and Secure. */
  readonly secureCookies: boolean;
  /**
   * Every `Z4J_*` variable as resolved at boot, with the layer it came from (the admin runtime page). Built
   * with secrets already masked (`<redacted, N bytes>`), so no route can hand out a secret from here.
   */
  readonly effectiveSettings: readonly EffectiveSetting[];
}

/**
 * Who may call a route:
 * - `public`: anyone (setup, login, health, invitation preview/accept);
 * - `signed_in`: any authenticated user, whatever their project roles;
 * - `project`: a `{slug}` route; the caller needs at least `role` in that project (global admins are admin
 *   everywhere); a project the caller cannot see answers 404, never 403;
 * - `global_admin`: users.is_admin only.
 */
export type RouteAccess =
  | { readonly kind: 'public' }
  | { readonly kind: 'signed_in' }
  | { readonly kind: 'project'; readonly role: ProjectRole }
  | { readonly kind: 'global_admin' };

/**
 * The first tag of a route names its API-key scope (`<tag>:read` for GET, `<tag>:write` otherwise), as the
 * original's auth/scopes.py does. Tags outside {@link SCOPED_TAGS} cannot be reached with an API key at all.
 */
export const API_TAGS = [
  'health',
  'setup',
  'auth',
  'mfa',
  'projects',
  'agents',
  'memberships',
  'invitations',
  'audit',
  'activity',
  'commands',
  'schedules',
  'tasks',
  'events',
  'workers',
  'queues',
  'stats',
  'api-keys',
  'users',
  'settings',
  'home',
  'meta',
] as const;
export type ApiTag = (typeof API_TAGS)[number];

/**
 * Tags no API key can reach, whatever its scopes: public ones (`health`, `setup`, `meta`) need no key, and
 * `api-keys`, `mfa`, `users` and `settings` need a browser session (a key must not mint keys, manage accounts
 * or read the brain's configuration).
 */
const BROWSER_OR_PUBLIC_TAGS: ReadonlySet<ApiTag> = new Set<ApiTag>(['health', 'setup', 'meta', 'mfa', 'api-keys', 'users', 'settings']);

/** Tags an API key can be scoped to: every other tag (`auth` only for reads, enforced by the route runner). */
export const SCOPED_TAGS: ReadonlySet<ApiTag> = new Set<ApiTag>(API_TAGS.filter((tag) => !BROWSER_OR_PUBLIC_TAGS.has(tag)));

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

type SchemaOutput<S> = S extends v.GenericSchema ? v.InferOutput<S> : undefined;

/** What a handler receives: validated input, the resolved caller and project, and request-scoped helpers. */
export interface RouteInput<B, Q, A extends RouteAccess> {
  readonly c: ApiContext;
  readonly body: B;
  readonly query: Q;
  readonly params: Readonly<Record<string, string>>;
  readonly principal: A extends { kind: 'public' } ? Principal | undefined : Principal;
  readonly project: A extends { kind: 'project' } ? ProjectAccess : undefined;
  /** Appends an audit row with this request's ip, user agent and caller filled in (inside `trx` when given). */
  readonly audit: (entry: AuditEntry, trx?: Kysely<Database>) => Promise<AuditRow>;
}

export interface RouteSpec<
  B extends v.GenericSchema | undefined = v.GenericSchema | undefined,
  Q extends v.GenericSchema | undefined = v.GenericSchema | undefined,
  A extends RouteAccess = RouteAccess,
> {
  readonly method: HttpMethod;
  /** Below `/api/v1`, in Hono syntax: `/projects/:slug/agents/:agentId`. */
  readonly path: string;
  readonly tag: ApiTag;
  readonly summary: string;
  readonly access: A;
  /** Sensitive write: a session of a user with MFA must have verified within Z4J_MFA_VERIFICATION_TTL_SECONDS. */
  readonly freshMfa?: boolean;
  /**
   * Reachable while the session still owes its MFA code (or its enrolment, when enforcement's grace is over):
   * `me`, logout and the MFA routes themselves.
   */
  readonly duringMfa?: 'verify' | 'enrol' | 'both';
  readonly body?: B;
  readonly query?: Q;
  /** Success status, for the OpenAPI document (default 200). */
  readonly status?: number;
  // A method signature on purpose: it is bivariant, so a route with a specific body schema still fits the table's AnyRoute.
  handler(input: RouteInput<SchemaOutput<B>, SchemaOutput<Q>, A>): Promise<Response> | Response;
}

/** Identity function that keeps a route's schema and access types for its handler. */
export function defineRoute<B extends v.GenericSchema | undefined, Q extends v.GenericSchema | undefined, A extends RouteAccess>(
  spec: RouteSpec<B, Q, A>,
): RouteSpec<B, Q, A> {
  return spec;
}

/** An entry of the heterogeneous route table; each was type-checked against its own schemas by {@link defineRoute}. */
export type AnyRoute = RouteSpec;
