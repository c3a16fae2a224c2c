import { isIP } from 'node:net';
import type { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import * as v from 'valibot';
import { appendAuditRow, type AuditEntry } from '@z4j/audit';
import { cookieNames, csrfTokensMatch } from '@z4j/identity';
import { apiError, fieldErrors } from './api-errors.js';
import {
  SCOPED_TAGS,
  roleRank,
  type AnyRoute,
  type ApiContext,
  type ApiDeps,
  type ApiEnv,
  type Principal,
  type ProjectAccess,
  type ProjectRole,
} from './api-types.js';
import { hasSessionCookie, resolveCaller, type Caller, type ProjectLookup } from './principal.js';

/** Every route lives below this prefix. */
export const API_PREFIX = '/api/v1';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Registers each route of the table on `app`, wrapped in the one request
 * pipeline every route shares, in this order: who is calling (401), what an
 * API key may reach (scope, project binding), whether the session still owes
 * MFA, CSRF for cookie writes, the route's access rule (403, or 404 for a
 * project the caller cannot see), fresh MFA for sensitive writes, then the
 * query and body through the route's valibot schemas (422), then the handler.
 * Because access is data on the route, the authorization matrix test and the
 * OpenAPI document read the same table.
 */
export function mountRoutes(app: Hono<ApiEnv>, routes: readonly AnyRoute[], deps: ApiDeps): void {
  for (const route of routes) {
    app.on(route.method, `${API_PREFIX}${route.path}`, async (c) => {
      const slug = route.access.kind === 'project' ? c.req.param('slug') : undefined;
      // An invalid slug names no project; the lookup of a valid one rides along with the caller's.
      const caller = await callerOf(c, route, deps, v.is(SLUG, slug) ? slug : undefined);
      const principal = caller?.principal;
      if (route.access.kind !== 'public') {
        if (!principal) throw apiError.unauthenticated();
        checkApiKeyReach(principal, route);
        checkMfaState(principal, route, deps);
        checkCsrf(c, principal, route, deps);
        if (route.access.kind === 'global_admin' && !principal.user.isAdmin) throw apiError.forbidden('global admin only');
      }
      const project = route.access.kind === 'project' ? projectAccess(caller?.project, principal!, route.access.role) : undefined;
      if (!project && principal?.kind === 'api_key' && principal.apiKey.projectId !== null && route.path.includes(':slug')) {
        await checkKeyBinding(c, principal.apiKey.projectId, deps);
      }
      if (route.freshMfa && principal) checkFreshMfa(principal, deps);
      const query = route.query ? parseInput(route.query, c.req.query(), 'query') : undefined;
      const body = route.body ? parseInput(route.body, await readJsonBody(c), 'body') : undefined;
      const audit = (entry: AuditEntry, trx = deps.db) =>
        appendAuditRow(
          trx,
          {
            ...entry,
            user_id: entry.user_id === undefined ? (principal?.user.id ?? null) : entry.user_id,
            api_key_id: entry.api_key_id ?? (principal?.kind === 'api_key' ? principal.apiKey.id : null),
            project_id: entry.project_id === undefined ? (project?.id ?? null) : entry.project_id,
            source_ip: entry.source_ip ?? (isIP(c.get('clientIp')) ? c.get('clientIp') : null),
            user_agent: entry.user_agent ?? c.req.header('user-agent') ?? null,
          },
          { secret: deps.settings.secret, now: deps.now() },
        );
      return route.handler({ c, body, query, params: c.req.param(), principal, project, audit });
    });
  }
}

/** Public routes still see a valid caller (e.g. `setup/status`), but a stale cookie never fails them. */
async function callerOf(c: ApiContext, route: AnyRoute, deps: ApiDeps, projectSlug: string | undefined): Promise<Caller | undefined> {
  if (route.access.kind !== 'public') return resolveCaller(c, deps, projectSlug);
  try {
    return await resolveCaller(c, deps, projectSlug);
  } catch {
    return undefined;
  }
}

/** The scope a route needs from an API key: `<first tag>:read` for GET, `:write` otherwise. */
export function requiredScope(route: Pick<AnyRoute, 'tag' | 'method'>): string {
  return `${route.tag}:${route.method === 'GET' ? 'read' : 'write'}`;
}

/** Whether a key's scopes reach a route (write implies read; `admin:*` covers every scoped tag). */
export function scopesAllow(scopes: readonly string[], route: Pick<AnyRoute, 'tag' | 'method'>): boolean {
  if (!SCOPED_TAGS.has(route.tag)) return false;
  if (route.tag === 'auth' && route.method !== 'GET') return false;
  if (scopes.includes('admin:*')) return true;
  const scope = requiredScope(route);
  return scopes.includes(scope) || (scope.endsWith(':read') && scopes.includes(`${route.tag}:write`));
}

function checkApiKeyReach(principal: Principal, route: AnyRoute): void {
  if (principal.kind !== 'api_key') return;
  if (!SCOPED_TAGS.has(route.tag) || (route.tag === 'auth' && route.method !== 'GET')) {
    throw apiError.forbidden('this route needs a signed-in browser session; API keys cannot use it');
  }
  if (!scopesAllow(principal.apiKey.scopes, route)) throw apiError.forbidden(`API key lacks the ${requiredScope(route)} scope`);
  // A key bound to one project: that project's routes (checked in resolveProject), plus `projects` and `home`.
  if (principal.apiKey.projectId !== null && route.access.kind !== 'project' && route.tag !== 'projects' && route.tag !== 'home') {
    throw apiError.forbidden('this API key is bound to one project');
  }
}

function mfaEnforced(principal: Principal, deps: ApiDeps): boolean {
  const { settings } = deps;
  return settings.mfaEnforceForAll || (settings.mfaEnforceForAdmins && principal.user.isAdmin);
}

/** Whether the enrolment grace of an enforced, unenrolled user has run out (grace starts at first sign-in under enforcement). */
export function enrolmentGraceOver(principal: Principal, deps: ApiDeps): boolean {
  if (principal.user.mfaEnrolledAt !== null || !mfaEnforced(principal, deps)) return false;
  const started = principal.user.mfaEnforcementStartedAt;
  if (started === null) return false;
  return deps.now().getTime() >= started.getTime() + deps.settings.mfaEnrollmentGraceDays * 86_400_000;
}

function checkMfaState(principal: Principal, route: AnyRoute, deps: ApiDeps): void {
  if (principal.kind !== 'session') return;
  if (principal.user.mfaEnrolledAt !== null && principal.session.mfaVerifiedAt === null) {
    if (route.duringMfa !== 'verify' && route.duringMfa !== 'both') throw apiError.mfaRequired();
    return;
  }
  if (enrolmentGraceOver(principal, deps) && route.duringMfa !== 'enrol' && route.duringMfa !== 'both') {
    throw apiError.mfaEnrollmentRequired();
  }
}

/**
 * Double submit (§5.1): a cookie-authenticated write must echo the session's
 * CSRF token in `X-CSRF-Token`. A Bearer call skips it only when no session
 * cookie rides along; with one, the header must match the CSRF cookie.
 */
function checkCsrf(c: ApiContext, principal: Principal, route: AnyRoute, deps: ApiDeps): void {
  if (SAFE_METHODS.has(route.method)) return;
  const presented = c.req.header('x-csrf-token');
  if (principal.kind === 'session') {
    if (!csrfTokensMatch(presented, principal.session.csrfToken)) throw apiError.csrf();
    return;
  }
  if (hasSessionCookie(c, deps) && !csrfTokensMatch(presented, getCookie(c, cookieNames(deps.secureCookies).csrf))) throw apiError.csrf();
}

function checkFreshMfa(principal: Principal, deps: ApiDeps): void {
  // API keys are exempt (§6.1); so are users without MFA.
  if (principal.kind !== 'session' || principal.user.mfaEnrolledAt === null) return;
  const verifiedAt = principal.session.mfaVerifiedAt;
  if (verifiedAt === null || deps.now().getTime() - verifiedAt.getTime() > deps.settings.mfaVerificationTtlSeconds * 1000) {
    throw apiError.mfaReverifyRequired();
  }
}

const SLUG = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{1,62}$/));

/**
 * The `{slug}` project with the caller's effective role. A project the caller
 * cannot see (no membership, or a key bound elsewhere) is 404 exactly like a
 * project that does not exist, so slugs cannot be enumerated (§5.1).
 */
/**
 * The route's project as the caller may use it: 404 for a slug that names no project, a project the caller is
 * not a member of (global admins are members everywhere) or one outside an API key's binding; 403 below the
 * route's role.
 */
function projectAccess(lookup: ProjectLookup | undefined, principal: Principal, needed: ProjectRole): ProjectAccess {
  if (!lookup?.found) throw apiError.notFound('project');
  if (principal.kind === 'api_key' && principal.apiKey.projectId !== null && principal.apiKey.projectId !== lookup.id) {
    throw apiError.notFound('project');
  }
  const role: ProjectRole | null = principal.user.isAdmin ? 'admin' : lookup.role;
  if (role === null) throw apiError.notFound('project');
  if (roleRank(role) < roleRank(needed)) throw apiError.forbidden(`needs the ${needed} role in this project`);
  return { id: lookup.id, slug: lookup.slug, isActive: lookup.isActive, role };
}

/** A project-bound key on a `{slug}` route that is not project-scoped (global-admin project routes): same project or 404. */
async function checkKeyBinding(c: ApiContext, boundProjectId: string, deps: ApiDeps): Promise<void> {
  const slug = c.req.param('slug');
  const row = v.is(SLUG, slug) ? await deps.db.selectFrom('projects').select('id').where('slug', '=', slug).executeTakeFirst() : undefined;
  if (!row || row.id !== boundProjectId) throw apiError.notFound('project');
}

function parseInput<S extends v.GenericSchema>(schema: S, input: unknown, where: string): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (!result.success) throw apiError.validation(fieldErrors(where, result.issues));
  return result.output;
}

async function readJsonBody(c: ApiContext): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw apiError.validation([{ field: 'body', message: 'expected a JSON object' }]);
  }
}
