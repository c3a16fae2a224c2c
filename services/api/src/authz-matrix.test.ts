import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { PROJECT_ROLES, SCOPED_TAGS, type AnyRoute, type ProjectRole } from './http/api-types.js';
import { requiredScope } from './http/route-runner.js';
import { createApiHarness, type ApiHarness, type CookieJar, type TestUser } from './testing/api-harness.js';

/**
 * The authorization matrix: every route of the router × every kind of caller.
 * The expected outcome comes from the rules of reference §5.1/§6.1 restated
 * below (an oracle independent of the route runner's code); the actual one
 * from a real HTTP request. A route added to the table is covered without
 * touching this file, and a route registered on the router but missing from
 * the table fails the first test.
 */

type Outcome = 'allowed' | 'unauthenticated' | 'forbidden' | 'hidden';

type Caller =
  | { readonly name: string; readonly kind: 'anonymous' }
  | { readonly name: string; readonly kind: 'session'; readonly user: 'viewer' | 'operator' | 'admin' | 'global_admin' | 'outsider' }
  | {
      readonly name: string;
      readonly kind: 'key';
      readonly user: 'admin' | 'global_admin';
      readonly scopes: 'route' | 'unrelated' | 'admin';
      readonly boundTo: 'none' | 'other';
    };

const CALLERS: readonly Caller[] = [
  { name: 'anonymous', kind: 'anonymous' },
  { name: 'viewer', kind: 'session', user: 'viewer' },
  { name: 'operator', kind: 'session', user: 'operator' },
  { name: 'project admin', kind: 'session', user: 'admin' },
  { name: 'global admin', kind: 'session', user: 'global_admin' },
  { name: 'non-member', kind: 'session', user: 'outsider' },
  { name: 'API key with the route scope', kind: 'key', user: 'admin', scopes: 'route', boundTo: 'none' },
  { name: 'API key without the scope', kind: 'key', user: 'admin', scopes: 'unrelated', boundTo: 'none' },
  { name: 'admin:* key bound to another project', kind: 'key', user: 'global_admin', scopes: 'admin', boundTo: 'other' },
];

/** Project role of each test user in project `alpha` (global admins have none and need none). */
const ALPHA_ROLE: Record<string, ProjectRole | null> = {
  viewer: 'viewer',
  operator: 'operator',
  admin: 'admin',
  global_admin: null,
  outsider: null,
};

function rank(role: ProjectRole): number {
  return PROJECT_ROLES.indexOf(role);
}

/** §5.1 + §6.1 as a decision table. */
function expectedOutcome(route: AnyRoute, caller: Caller): Outcome {
  if (route.access.kind === 'public') return 'allowed';
  if (caller.kind === 'anonymous') return 'unauthenticated';
  const isGlobalAdmin = caller.user === 'global_admin';
  if (caller.kind === 'key') {
    // Tags without a scope, and auth writes, are browser-only.
    if (!SCOPED_TAGS.has(route.tag) || (route.tag === 'auth' && route.method !== 'GET')) return 'forbidden';
    if (caller.scopes === 'unrelated') return 'forbidden';
    if (caller.boundTo === 'other') {
      if (route.access.kind === 'project') return 'hidden';
      // A global-admin route on a `{slug}` (archive a project): the bound key still cannot reach another project.
      if (route.path.includes(':slug') && route.access.kind === 'global_admin' && caller.user === 'global_admin') return 'hidden';
      if (route.tag !== 'projects' && route.tag !== 'home') return 'forbidden';
    }
  }
  if (route.access.kind === 'global_admin') return isGlobalAdmin ? 'allowed' : 'forbidden';
  if (route.access.kind === 'project') {
    const role: ProjectRole | null = isGlobalAdmin ? 'admin' : ALPHA_ROLE[caller.user]!;
    if (role === null) return 'hidden';
    return rank(role) >= rank(route.access.role) ? 'allowed' : 'forbidden';
  }
  return 'allowed';
}

function observedOutcome(status: number, body: { error?: string; message?: string } | undefined): Outcome {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404 && body?.message === 'project not found') return 'hidden';
  return 'allowed';
}

/** A concrete URL for a route: `:slug` is the project under test, any other id a random uuid. */
function urlOf(route: AnyRoute): string {
  return `/api/v1${route.path}`.replace(/:(\w+)/g, (_, name: string) => (name === 'slug' ? 'alpha' : randomUUID()));
}

const postgres = await probePostgres();

describeEachDatabase('authorization matrix', postgres, ({ skip, test }) => {
  it.skipIf(skip)('every /api/v1 route on the router is in the route table', () => {
    const harness = createApiHarness(test().database.db);
    const table = new Set(harness.routes.map((route) => `${route.method} /api/v1${route.path}`));
    const registered = harness.app.routes
      .filter((route) => route.path.startsWith('/api/v1') && route.method !== 'ALL')
      .map((route) => `${route.method} ${route.path}`);
    expect(registered.filter((entry) => !table.has(entry))).toEqual([]);
    expect(harness.routes.length).toBeGreaterThan(3);
  });

  it.skipIf(skip)('every route × every caller gets allow / 401 / 403 / 404 exactly as §6.1 says', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_LOGIN_MIN_DURATION_MS: '0' });
    await harness.reset();
    const users: Record<string, TestUser> = {
      viewer: await harness.createUser({ memberships: { alpha: 'viewer' } }),
      operator: await harness.createUser({ memberships: { alpha: 'operator' } }),
      admin: await harness.createUser({ memberships: { alpha: 'admin', beta: 'admin' } }),
      global_admin: await harness.createUser({ isAdmin: true }),
      outsider: await harness.createUser({ memberships: { beta: 'admin' } }),
    };
    const betaId = await harness.createProject('beta');

    const mismatches: string[] = [];
    let checked = 0;
    for (const route of harness.routes) {
      for (const caller of CALLERS) {
        const expected = expectedOutcome(route, caller);
        // Each request gets a fresh credential: a route that ends a session (logout) cannot spoil the next one.
        const { jar, headers } = await credentialFor(harness, caller, users, route, betaId);
        const reply = await harness.request(route.method, urlOf(route), { jar, csrf: true, headers, body: route.body ? {} : undefined });
        const observed = observedOutcome(reply.status, reply.body);
        checked += 1;
        if (observed !== expected) {
          mismatches.push(
            `${route.method} ${route.path} as ${caller.name}: expected ${expected}, got ${reply.status} ${JSON.stringify(reply.body)?.slice(0, 160)}`,
          );
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBe(harness.routes.length * CALLERS.length);
  });

  it.skipIf(skip)(
    'refuses a cookie-authenticated write without the CSRF header, and a Bearer write that carries a session cookie',
    async () => {
      const harness = createApiHarness(test().database.db);
      await harness.reset();
      const user = await harness.createUser({ isAdmin: true });
      const jar = await harness.sessionJar(user);
      const write = harness.routes.find((route) => route.method !== 'GET' && route.access.kind !== 'public');
      if (!write) throw new Error('the table has no authenticated write route');
      const noHeader = await harness.request(write.method, urlOf(write), { jar, body: {} });
      expect(noHeader.status).toBe(403);
      expect(noHeader.body.error).toBe('csrf_failed');
      const wrongHeader = await harness.request(write.method, urlOf(write), { jar, body: {}, headers: { 'x-csrf-token': 'forged' } });
      expect(wrongHeader.body.error).toBe('csrf_failed');

      const scoped = harness.routes.find(
        (route) => route.method !== 'GET' && route.access.kind !== 'public' && SCOPED_TAGS.has(route.tag) && route.tag !== 'auth',
      );
      if (scoped) {
        const token = await harness.createApiKey(user, ['admin:*']);
        const withCookie = await harness.request(scoped.method, urlOf(scoped), {
          jar,
          body: {},
          headers: { authorization: `Bearer ${token}` },
        });
        expect(withCookie.body?.error).toBe('csrf_failed');
        const bare = await harness.request(scoped.method, urlOf(scoped), { body: {}, headers: { authorization: `Bearer ${token}` } });
        expect(bare.body?.error).not.toBe('csrf_failed');
      }
    },
  );
});

async function credentialFor(
  harness: ApiHarness,
  caller: Caller,
  users: Record<string, TestUser>,
  route: AnyRoute,
  betaId: string,
): Promise<{ jar?: CookieJar; headers?: Record<string, string> }> {
  if (caller.kind === 'anonymous') return {};
  if (caller.kind === 'session') return { jar: await harness.sessionJar(users[caller.user]!) };
  const scopes = caller.scopes === 'admin' ? ['admin:*'] : caller.scopes === 'route' ? [requiredScope(route)] : ['unrelated:read'];
  const token = await harness.createApiKey(users[caller.user]!, scopes, caller.boundTo === 'other' ? betaId : null);
  return { headers: { authorization: `Bearer ${token}` } };
}
