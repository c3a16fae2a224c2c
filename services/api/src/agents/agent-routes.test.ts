import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { AGENT_REVOKED_CHANNEL, listAgents } from '@z4j/enrolment';
import { decodeHmacSecret, deriveProjectSecret, hashAgentToken } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('agents over HTTP', postgres, ({ skip, test }) => {
  function mint(harness: ApiHarness, jar: CookieJar, name: string, slug = 'alpha') {
    return harness.request('POST', `/api/v1/projects/${slug}/agents`, { jar, csrf: true, body: { name } });
  }

  it.skipIf(skip)('an admin mints an agent (token + hmac_secret once, only the hash stored), which then appears in the list', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const jar = await harness.sessionJar(admin);
    const projectId = await harness.createProject('alpha');

    const minted = await mint(harness, jar, ' worker-1 ');
    expect(minted.status).toBe(201);
    const { agent, token, hmac_secret: hmacSecret } = minted.body;
    expect(agent).toMatchObject({ name: 'worker-1', state: 'unknown', revoked: false, revoked_at: null, last_seen_at: null });
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(decodeHmacSecret(hmacSecret)).toEqual(deriveProjectSecret(TEST_SECRET, projectId));
    const stored = await harness.db.selectFrom('agents').selectAll().where('id', '=', agent.id).executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(hashAgentToken(TEST_SECRET, token));
    expect(JSON.stringify(stored)).not.toContain(token);

    const duplicate = await mint(harness, jar, 'worker-1');
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toBe('conflict');
    expect((await mint(harness, jar, '')).status).toBe(422);

    // The agent reports in (as the gateway records a hello); the list shows its versions to a viewer.
    await harness.db
      .updateTable('agents')
      .set({
        state: 'online',
        protocol_version: '2',
        metadata: JSON.stringify({ version: '1.6.0', host: 'web-1' }),
        engine_adapters: ['celery'],
      })
      .where('id', '=', agent.id)
      .execute();
    const listed = await harness.request('GET', '/api/v1/projects/alpha/agents', { jar: await harness.sessionJar(viewer) });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([
      expect.objectContaining({
        id: agent.id,
        name: 'worker-1',
        state: 'online',
        protocol_version: '2',
        agent_version: '1.6.0',
        host: 'web-1',
        engine_adapters: ['celery'],
        revoked: false,
      }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain('token_hash');
    // Same agents the CLI sees.
    expect((await listAgents(harness.db, 'alpha')).map((row) => row.agent_id)).toEqual([agent.id]);

    const audit = await harness.db
      .selectFrom('audit_log')
      .select(['action', 'target_type', 'user_id', 'project_id', 'metadata'])
      .where('target_id', '=', agent.id)
      .execute();
    expect(audit).toEqual([
      { action: 'agent.token.minted', target_type: 'agent', user_id: admin.id, project_id: projectId, metadata: { name: 'worker-1' } },
    ]);
    expect(JSON.stringify(audit)).not.toContain(token);
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);
  });

  it.skipIf(skip)('viewers and operators cannot mint or revoke (403); non-members get 404', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const operator = await harness.createUser({ memberships: { alpha: 'operator' } });
    const outsider = await harness.createUser({ memberships: { beta: 'admin' } });
    const agentId = (await mint(harness, await harness.sessionJar(admin), 'worker')).body.agent.id;

    for (const user of [viewer, operator]) {
      const jar = await harness.sessionJar(user);
      expect((await harness.request('GET', '/api/v1/projects/alpha/agents', { jar })).status).toBe(200);
      expect((await mint(harness, jar, 'mine')).status).toBe(403);
      expect((await harness.request('DELETE', `/api/v1/projects/alpha/agents/${agentId}`, { jar, csrf: true })).status).toBe(403);
    }
    const outsiderJar = await harness.sessionJar(outsider);
    const hidden = await harness.request('GET', '/api/v1/projects/alpha/agents', { jar: outsiderJar });
    expect(hidden.status).toBe(404);
    expect(hidden.body.message).toBe('project not found');
    expect((await mint(harness, outsiderJar, 'sneaky')).status).toBe(404);
    expect((await harness.request('GET', '/api/v1/projects/alpha/agent-workers', { jar: outsiderJar })).status).toBe(404);
    expect((await harness.request('GET', '/api/v1/projects/alpha/agents', {})).status).toBe(401);
    expect((await listAgents(harness.db, 'alpha')).map((agent) => agent.name)).toEqual(['worker']);
  });

  it.skipIf(skip)('revoking marks revoked_at, NOTIFYs z4j_agent_revoked after the commit, and is scoped to the project', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin', beta: 'admin' } });
    const jar = await harness.sessionJar(admin);
    const alphaAgent = (await mint(harness, jar, 'worker')).body.agent.id;
    const betaAgent = (await mint(harness, jar, 'worker', 'beta')).body.agent.id;
    const publishedBefore = harness.published.length;

    // An agent of another project, an unknown id and a malformed id are all simply not found here.
    for (const id of [betaAgent, randomUUID(), 'nope']) {
      const reply = await harness.request('DELETE', `/api/v1/projects/alpha/agents/${id}`, { jar, csrf: true });
      expect(reply.status).toBe(404);
      expect(reply.body.message).toBe('agent not found');
    }
    expect(harness.published.length).toBe(publishedBefore);

    harness.clock.advance(1_000);
    const revoked = await harness.request('DELETE', `/api/v1/projects/alpha/agents/${alphaAgent}`, { jar, csrf: true });
    expect(revoked.status).toBe(204);
    expect(harness.published.slice(publishedBefore)).toEqual([{ channel: AGENT_REVOKED_CHANNEL, payload: alphaAgent }]);
    const rows = await harness.db.selectFrom('agents').select(['id', 'revoked_at', 'state']).orderBy('name').execute();
    expect(rows.find((row) => row.id === alphaAgent)).toEqual({ id: alphaAgent, revoked_at: harness.clock.now, state: 'offline' });
    expect(rows.find((row) => row.id === betaAgent)?.revoked_at).toBeNull();
    const listed = await harness.request('GET', '/api/v1/projects/alpha/agents', { jar });
    expect(listed.body.items).toEqual([
      expect.objectContaining({ id: alphaAgent, revoked: true, revoked_at: harness.clock.now.toISOString() }),
    ]);

    // Again: still 204 and a fresh signal for any straggling socket, but no second audit row.
    expect((await harness.request('DELETE', `/api/v1/projects/alpha/agents/${alphaAgent}`, { jar, csrf: true })).status).toBe(204);
    expect(harness.published.slice(publishedBefore)).toHaveLength(2);
    const audit = await harness.db
      .selectFrom('audit_log')
      .select(['action', 'metadata'])
      .where('target_id', '=', alphaAgent)
      .orderBy('occurred_at')
      .execute();
    expect(audit).toEqual([
      { action: 'agent.token.minted', metadata: { name: 'worker' } },
      { action: 'agent.token.revoked', metadata: { name: 'worker' } },
    ]);
  });

  it.skipIf(skip)('fresh MFA: a session of an MFA user must have verified recently to mint', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_MFA_VERIFICATION_TTL_SECONDS: '600' });
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    await harness.db
      .updateTable('users')
      .set({
        mfa_enrolled_at: new Date(harness.clock.now.getTime() - 86_400_000),
        mfa_secret_encrypted: Buffer.from('sealed-secret-placeholder'),
      })
      .where('id', '=', admin.id)
      .execute();

    const stale = await harness.sessionJar(admin, { mfaVerifiedAt: new Date(harness.clock.now.getTime() - 601_000) });
    const refused = await mint(harness, stale, 'worker');
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('mfa_reverify_required');
    // Reads and revokes do not need a fresh verification.
    expect((await harness.request('GET', '/api/v1/projects/alpha/agents', { jar: stale })).status).toBe(200);

    const fresh = await harness.sessionJar(admin, { mfaVerifiedAt: new Date(harness.clock.now.getTime() - 60_000) });
    expect((await mint(harness, fresh, 'worker')).status).toBe(201);

    // API keys are exempt (§6.1): the key's agents:write scope is what counts.
    const token = await harness.createApiKey(admin, ['agents:write']);
    const viaKey = await harness.request('POST', '/api/v1/projects/alpha/agents', {
      headers: { authorization: `Bearer ${token}` },
      ip: '10.0.0.1',
      body: { name: 'from-ci' },
    });
    expect(viaKey.status).toBe(201);
    const minted = await harness.db
      .selectFrom('audit_log')
      .select(['api_key_id'])
      .where('target_id', '=', viaKey.body.agent.id)
      .executeTakeFirstOrThrow();
    expect(minted.api_key_id).toEqual(expect.any(String));
  });

  it.skipIf(skip)('lists per-worker connections of the project only, newest first, paged and filtered by agent', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin', beta: 'admin' } });
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const jar = await harness.sessionJar(admin);
    const alphaId = await harness.createProject('alpha');
    const betaId = await harness.createProject('beta');
    const one = (await mint(harness, jar, 'one')).body.agent.id;
    const two = (await mint(harness, jar, 'two')).body.agent.id;
    const other = (await mint(harness, jar, 'other', 'beta')).body.agent.id;
    const base = Date.parse('2026-01-01T12:00:00Z');
    const workers = [
      { agent_id: one, project_id: alphaId, worker_id: 'celery-100-1', role: 'task', framework: 'celery', pid: 100 },
      { agent_id: one, project_id: alphaId, worker_id: 'celery-101-1', role: 'task', framework: 'celery', pid: 101 },
      { agent_id: one, project_id: alphaId, worker_id: 'django-200-1', role: 'web', framework: 'django', pid: 200 },
      { agent_id: two, project_id: alphaId, worker_id: 'rq-300-1', role: 'task', framework: 'rq', pid: 300 },
      { agent_id: two, project_id: alphaId, worker_id: '', role: null, framework: null, pid: null },
      { agent_id: other, project_id: betaId, worker_id: 'celery-1-1', role: 'task', framework: 'celery', pid: 1 },
    ];
    // Two rows share a created_at to the microsecond: the id breaks the tie.
    const createdAt = (index: number) => new Date(base + Math.min(index, 3) * 1000);
    for (const [index, worker] of workers.entries()) {
      await harness.db
        .insertInto('agent_workers')
        .values({ ...worker, state: index === 4 ? 'offline' : 'online', created_at: createdAt(index), last_seen_at: createdAt(index) })
        .execute();
    }

    const viewerJar = await harness.sessionJar(viewer);
    const seen: { worker_id: string; agent_name: string }[] = (
      await harness.walkPages('/api/v1/projects/alpha/agent-workers', { jar: viewerJar, limit: 2 })
    ).items;
    expect(seen.map((worker) => worker.worker_id).sort()).toEqual(['', 'celery-100-1', 'celery-101-1', 'django-200-1', 'rq-300-1']);
    expect(
      seen
        .slice(0, 2)
        .map((worker) => worker.worker_id)
        .sort(),
    ).toEqual(['', 'rq-300-1']);
    expect(seen.find((worker) => worker.worker_id === 'django-200-1')).toMatchObject({
      agent_id: one,
      agent_name: 'one',
      role: 'web',
      framework: 'django',
      pid: 200,
      state: 'online',
      last_seen_at: createdAt(2).toISOString(),
    });

    const filtered = await harness.request('GET', `/api/v1/projects/alpha/agent-workers?agent_id=${two}`, { jar: viewerJar });
    expect(filtered.body.items.map((worker: { worker_id: string }) => worker.worker_id).sort()).toEqual(['', 'rq-300-1']);
    expect((await harness.request('GET', '/api/v1/projects/alpha/agent-workers?agent_id=x', { jar: viewerJar })).status).toBe(422);
  });

  it.skipIf(skip)('pages the agent list by name', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const jar = await harness.sessionJar(admin);
    const names = ['delta', 'alpha', 'charlie', 'bravo', 'echo'];
    for (const name of names) expect((await mint(harness, jar, name)).status).toBe(201);
    const seen: string[] = (await harness.walkPages('/api/v1/projects/alpha/agents', { jar, limit: 2 })).items.map(
      (agent: { name: string }) => agent.name,
    );
    expect(seen).toEqual([...names].sort());
  });
});
