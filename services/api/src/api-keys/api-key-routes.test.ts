import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { hashApiKey } from '@z4j/identity';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { SCOPED_TAGS } from '../http/api-types.js';
import { scopesAllow } from '../http/route-runner.js';
import { TEST_SECRET, createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';
import { ADMIN_SCOPE } from './api-key-scopes.js';

const postgres = await probePostgres();

describeEachDatabase('API keys over HTTP', postgres, ({ skip, test }) => {
  async function createKey(harness: ApiHarness, jar: CookieJar, body: Record<string, unknown>) {
    return harness.request('POST', '/api/v1/api-keys', { jar, csrf: true, body });
  }

  function bearer(harness: ApiHarness, method: string, path: string, token: string, body?: unknown) {
    return harness.request(method, path, { headers: { authorization: `Bearer ${token}` }, ip: '203.0.113.7', body });
  }

  it.skipIf(skip)('creates a key shown once, which then works as a Bearer token on a route it is scoped for', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const jar = await harness.sessionJar(user);

    const created = await createKey(harness, jar, { name: '  ci reader  ', scopes: ['agents:read', 'agents:read'], expires_in_days: 30 });
    expect(created.status).toBe(201);
    const { api_key: key, token } = created.body;
    expect(token).toMatch(/^z4k_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({
      name: 'ci reader',
      prefix: token.slice(0, 8),
      scopes: ['agents:read'],
      project_id: null,
      project_slug: null,
      state: 'active',
      last_used_at: null,
      revoked_at: null,
      expires_at: new Date(harness.clock.now.getTime() + 30 * 86_400_000).toISOString(),
    });
    expect(JSON.stringify(key)).not.toContain('hash');

    // Only the keyed hash is stored: the token appears nowhere in the row.
    const stored = await harness.db.selectFrom('api_keys').selectAll().where('id', '=', key.id).executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(hashApiKey(TEST_SECRET, token));
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(JSON.stringify(stored)).not.toContain(token.slice(8));

    harness.clock.advance(5_000);
    const listed = await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', token);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ items: [], next_cursor: null });
    const used = await harness.db
      .selectFrom('api_keys')
      .select(['last_used_at', 'last_used_ip'])
      .where('id', '=', key.id)
      .executeTakeFirstOrThrow();
    expect(used).toEqual({ last_used_at: harness.clock.now, last_used_ip: '203.0.113.7' });

    const mine = await harness.request('GET', '/api/v1/api-keys', { jar });
    expect(mine.body.items).toHaveLength(1);
    expect(mine.body.items[0]).toMatchObject({ id: key.id, last_used_at: harness.clock.now.toISOString(), last_used_ip: '203.0.113.7' });

    // The audit row names the key, never its token.
    const audit = await harness.db.selectFrom('audit_log').selectAll().where('target_id', '=', key.id).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'api_key.created', target_type: 'api_key', user_id: user.id, result: 'success' });
    expect(JSON.stringify(audit)).not.toContain(token);
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);
  });

  it.skipIf(skip)('a key without the scope gets 403; a read scope does not write; keys cannot manage keys', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser({ memberships: { alpha: 'admin' } });
    const jar = await harness.sessionJar(user);
    const auditOnly = (await createKey(harness, jar, { name: 'audit', scopes: ['audit:read'] })).body.token;
    const agentsRead = (await createKey(harness, jar, { name: 'agents', scopes: ['agents:read'] })).body.token;

    const lacking = await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', auditOnly);
    expect(lacking.status).toBe(403);
    expect(lacking.body.message).toContain('agents:read');
    expect((await bearer(harness, 'GET', '/api/v1/projects/alpha/audit', auditOnly)).status).toBe(200);
    expect((await bearer(harness, 'POST', '/api/v1/projects/alpha/agents', agentsRead, { name: 'w' })).status).toBe(403);

    expect((await bearer(harness, 'GET', '/api/v1/api-keys', agentsRead)).status).toBe(403);
    const selfMint = await bearer(harness, 'POST', '/api/v1/api-keys', agentsRead, { name: 'x', scopes: ['agents:read'] });
    expect(selfMint.status).toBe(403);
  });

  it.skipIf(skip)('revoked and expired keys are refused with 401; only the owner can revoke', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const owner = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const other = await harness.createUser({ isAdmin: true });
    const ownerJar = await harness.sessionJar(owner);
    const otherJar = await harness.sessionJar(other);

    const revokedKey = (await createKey(harness, ownerJar, { name: 'to revoke', scopes: ['agents:read'] })).body;
    expect((await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', revokedKey.token)).status).toBe(200);

    // Someone else's key is not found, even for a global admin, and stays usable.
    const foreign = await harness.request('DELETE', `/api/v1/api-keys/${revokedKey.api_key.id}`, { jar: otherJar, csrf: true });
    expect(foreign.status).toBe(404);
    expect((await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', revokedKey.token)).status).toBe(200);
    expect((await harness.request('DELETE', '/api/v1/api-keys/not-a-uuid', { jar: ownerJar, csrf: true })).status).toBe(404);

    const revoked = await harness.request('DELETE', `/api/v1/api-keys/${revokedKey.api_key.id}`, { jar: ownerJar, csrf: true });
    expect(revoked.status).toBe(204);
    const refused = await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', revokedKey.token);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('unauthenticated');
    expect((await harness.request('DELETE', `/api/v1/api-keys/${revokedKey.api_key.id}`, { jar: ownerJar, csrf: true })).status).toBe(204);
    const row = await harness.db
      .selectFrom('api_keys')
      .select(['revoked_at', 'revoked_reason'])
      .where('id', '=', revokedKey.api_key.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ revoked_at: harness.clock.now, revoked_reason: 'revoked_by_owner' });
    const revocations = await harness.db
      .selectFrom('audit_log')
      .select(['action', 'user_id'])
      .where('target_id', '=', revokedKey.api_key.id)
      .where('action', '=', 'api_key.revoked')
      .execute();
    expect(revocations).toEqual([{ action: 'api_key.revoked', user_id: owner.id }]);

    const expiring = (await createKey(harness, ownerJar, { name: 'short', scopes: ['agents:read'], expires_in_days: 1 })).body;
    const exact = new Date(harness.clock.now.getTime() + 3_600_000).toISOString();
    const atTime = (await createKey(harness, ownerJar, { name: 'one hour', scopes: ['agents:read'], expires_at: exact })).body;
    expect(atTime.api_key.expires_at).toBe(exact);
    expect((await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', expiring.token)).status).toBe(200);
    harness.clock.advance(86_400_000 + 1);
    expect((await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', expiring.token)).status).toBe(401);
    expect((await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', atTime.token)).status).toBe(401);
    const freshJar = await harness.sessionJar(owner);
    const states = (await harness.request('GET', '/api/v1/api-keys', { jar: freshJar })).body.items.map(
      (key: { name: string; state: string }) => `${key.name}:${key.state}`,
    );
    expect(states.sort()).toEqual(['one hour:expired', 'short:expired', 'to revoke:revoked']);
  });

  it.skipIf(skip)(
    'validates scopes and expiry (422), keeps admin:* for global admins (403), and binds only to visible projects (404)',
    async () => {
      const harness = createApiHarness(test().database.db);
      await harness.reset();
      const member = await harness.createUser({ memberships: { alpha: 'viewer' } });
      const admin = await harness.createUser({ isAdmin: true });
      await harness.createProject('beta');
      const jar = await harness.sessionJar(member);
      const adminJar = await harness.sessionJar(admin);

      const unknown = await createKey(harness, jar, { name: 'x', scopes: ['agents:read', 'tasks:delete'] });
      expect(unknown.status).toBe(422);
      expect(unknown.body.details.errors[0].field).toBe('body.scopes.1');
      expect((await createKey(harness, jar, { name: 'x', scopes: [] })).status).toBe(422);
      expect((await createKey(harness, jar, { name: 'x', scopes: ['auth:write'] })).status).toBe(422);
      expect((await createKey(harness, jar, { name: '   ', scopes: ['agents:read'] })).status).toBe(422);
      const past = await createKey(harness, jar, {
        name: 'x',
        scopes: ['agents:read'],
        expires_at: new Date(harness.clock.now.getTime() - 1000).toISOString(),
      });
      expect(past.status).toBe(422);
      expect(past.body.details.errors[0]).toEqual({ field: 'body.expires_at', message: 'must be in the future' });
      const both = await createKey(harness, jar, {
        name: 'x',
        scopes: ['agents:read'],
        expires_in_days: 3,
        expires_at: new Date(harness.clock.now.getTime() + 60_000).toISOString(),
      });
      expect(both.status).toBe(422);
      expect((await createKey(harness, jar, { name: 'x', scopes: ['agents:read'], expires_in_days: 0 })).status).toBe(422);

      const adminScope = await createKey(harness, jar, { name: 'x', scopes: [ADMIN_SCOPE] });
      expect(adminScope.status).toBe(403);
      expect(await harness.db.selectFrom('api_keys').select('id').execute()).toEqual([]);
      const adminKey = await createKey(harness, adminJar, { name: 'root', scopes: [ADMIN_SCOPE] });
      expect(adminKey.status).toBe(201);
      expect((await bearer(harness, 'GET', '/api/v1/projects/beta/audit', adminKey.body.token)).status).toBe(200);

      const notMine = await createKey(harness, jar, { name: 'x', scopes: ['agents:read'], project_slug: 'beta' });
      expect(notMine.status).toBe(404);
      expect((await createKey(harness, jar, { name: 'x', scopes: ['agents:read'], project_slug: 'nope' })).status).toBe(404);
      const bound = await createKey(harness, jar, { name: 'alpha only', scopes: ['agents:read'], project_slug: 'alpha' });
      expect(bound.status).toBe(201);
      expect(bound.body.api_key).toMatchObject({ project_slug: 'alpha', project_id: expect.any(String) });
      expect((await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', bound.body.token)).status).toBe(200);
      // An admin may bind a key to a project without a membership; the binding narrows the key to that project.
      const adminBound = await createKey(harness, adminJar, { name: 'beta only', scopes: ['agents:read'], project_slug: 'beta' });
      expect(adminBound.status).toBe(201);
      expect((await bearer(harness, 'GET', '/api/v1/projects/beta/agents', adminBound.body.token)).status).toBe(200);
      expect((await bearer(harness, 'GET', '/api/v1/projects/alpha/agents', adminBound.body.token)).status).toBe(404);

      // A bound key's creation shows in that project's audit log.
      const projectAudit = await harness.request('GET', '/api/v1/projects/beta/audit?action=api_key.', { jar: adminJar });
      expect(projectAudit.body.items.map((row: { target_id: string }) => row.target_id)).toEqual([adminBound.body.api_key.id]);
    },
  );

  it.skipIf(skip)('lists the scope vocabulary: read and write for every scoped tag, and admin:*', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const reply = await harness.request('GET', '/api/v1/api-keys/scopes', { jar: await harness.sessionJar(user) });
    expect(reply.status).toBe(200);
    const scopes: { scope: string; tag: string; access: string; admin_only: boolean }[] = reply.body.items;
    const names = scopes.map((entry) => entry.scope);
    for (const tag of SCOPED_TAGS) {
      expect(names).toContain(`${tag}:read`);
      if (tag !== 'auth') expect(names).toContain(`${tag}:write`);
    }
    expect(scopes.filter((entry) => entry.admin_only).map((entry) => entry.scope)).toEqual([ADMIN_SCOPE]);
    // Every scope offered opens what it says (checked with the runner's own rule).
    for (const entry of scopes.filter((item) => !item.admin_only)) {
      expect(scopesAllow([entry.scope], { tag: entry.tag as never, method: entry.access === 'read' ? 'GET' : 'POST' })).toBe(true);
    }
  });

  it.skipIf(skip)('pages through many keys exactly once, newest first', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const jar = await harness.sessionJar(user);
    const created: string[] = [];
    for (let index = 0; index < 7; index += 1) {
      // Same clock for several keys: the (created_at, id) cursor must still be exact.
      if (index % 3 === 0) harness.clock.advance(1);
      created.push((await createKey(harness, jar, { name: `key ${index}`, scopes: ['home:read'] })).body.api_key.id);
    }
    await harness.createApiKey(await harness.createUser(), ['home:read']);

    const seen: string[] = (await harness.walkPages('/api/v1/api-keys', { jar, limit: 3 })).items.map((key: { id: string }) => key.id);
    expect([...seen].sort()).toEqual([...created].sort());
    expect(seen.slice(0, 1)).toEqual([created[6]]);
    expect((await harness.request('GET', '/api/v1/api-keys?cursor=bogus', { jar })).status).toBe(422);
  });
});
