import { expect, it } from 'vitest';
import { appendAuditRow, type AuditEntry } from '@z4j/audit';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';

const postgres = await probePostgres();

interface RowView {
  id: string;
  action: string;
  project_id: string | null;
  user_id: string | null;
  user_email: string | null;
  occurred_at: string;
}

describeEachDatabase('audit log over HTTP', postgres, ({ skip, test }) => {
  /** A timestamp after every row already in the chain (rows of earlier tests in this file stay: the log is append-only). */
  async function afterHead(harness: ApiHarness): Promise<number> {
    const head = await harness.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.max('occurred_at').as('latest'))
      .executeTakeFirst();
    const latest = head?.latest ? new Date(head.latest).getTime() : 0;
    return Math.max(latest, harness.clock.now.getTime()) + 60_000;
  }

  async function append(harness: ApiHarness, entry: Partial<AuditEntry> & { action: string }, at: Date): Promise<string> {
    const row = await appendAuditRow(harness.db, { target_type: 'test', result: 'success', ...entry }, { secret: TEST_SECRET, now: at });
    return row.id;
  }

  async function walk(harness: ApiHarness, path: string, jar: CookieJar, limit: number): Promise<RowView[]> {
    return (await harness.walkPages(path, { jar, limit })).items as RowView[];
  }

  it.skipIf(skip)('a project admin pages through every row of the project exactly once, newest first, in the stored shape', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const alphaId = await harness.createProject('alpha');
    const betaId = await harness.createProject('beta');
    // One instant for every row: the writer spaces them 1 µs apart, finer than a JS Date, so the cursor must be exact.
    const at = new Date(await afterHead(harness));
    const written: string[] = [];
    for (let index = 0; index < 11; index += 1) {
      written.push(await append(harness, { action: `test.step.${index}`, project_id: alphaId, user_id: admin.id }, at));
      await append(harness, { action: 'test.elsewhere', project_id: betaId }, at);
    }
    await append(harness, { action: 'test.global' }, at);
    const rich = await append(
      harness,
      {
        action: 'agent.token.minted',
        target_type: 'agent',
        target_id: 'agent-1',
        project_id: alphaId,
        user_id: admin.id,
        source_ip: '192.0.2.10',
        user_agent: 'curl/8',
        metadata: { name: 'worker-1' },
      },
      at,
    );
    written.push(rich);

    const jar = await harness.sessionJar(admin);
    for (const limit of [1, 3, 50]) {
      const rows = await walk(harness, '/api/v1/projects/alpha/audit', jar, limit);
      expect(rows.map((row) => row.id)).toEqual([...written].reverse());
    }

    const first = await harness.request('GET', '/api/v1/projects/alpha/audit?limit=1', { jar });
    expect(first.body.items[0]).toEqual({
      id: rich,
      action: 'agent.token.minted',
      target_type: 'agent',
      target_id: 'agent-1',
      result: 'success',
      outcome: 'allow',
      project_id: alphaId,
      project_slug: 'alpha',
      user_id: admin.id,
      user_email: admin.email,
      api_key_id: null,
      source_ip: '192.0.2.10',
      user_agent: 'curl/8',
      metadata: { name: 'worker-1' },
      occurred_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/),
    });
    const stored = await harness.db.selectFrom('audit_log').select('row_hmac').where('id', '=', rich).executeTakeFirstOrThrow();
    expect(first.text).not.toContain(stored.row_hmac);
    expect((await harness.request('GET', '/api/v1/projects/alpha/audit?cursor=not-a-cursor', { jar })).status).toBe(422);
    expect((await harness.request('GET', '/api/v1/projects/alpha/audit?limit=0', { jar })).status).toBe(422);
  });

  it.skipIf(skip)('filters by action prefix, user and time window', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const other = await harness.createUser({ memberships: { alpha: 'operator' } });
    const alphaId = await harness.createProject('alpha');
    const base = await afterHead(harness);
    const minute = (n: number) => new Date(base + n * 60_000);
    const minted = await append(harness, { action: 'agent.token.minted', project_id: alphaId, user_id: admin.id }, minute(0));
    const revoked = await append(harness, { action: 'agent.token.revoked', project_id: alphaId, user_id: other.id }, minute(1));
    const created = await append(harness, { action: 'api_key.created', project_id: alphaId, user_id: other.id }, minute(2));
    const odd = await append(harness, { action: 'agentXtoken', project_id: alphaId, user_id: admin.id }, minute(3));
    const jar = await harness.sessionJar(admin);
    const ids = async (query: string) => {
      const reply = await harness.request('GET', `/api/v1/projects/alpha/audit?${query}`, { jar });
      expect(reply.status).toBe(200);
      return (reply.body.items as RowView[]).map((row) => row.id);
    };

    expect(await ids('action=agent.')).toEqual([revoked, minted]);
    expect(await ids('action=agent.token.minted')).toEqual([minted]);
    // `_` and `%` are literal in the prefix, not LIKE wildcards.
    expect(await ids('action=agent_')).toEqual([]);
    expect(await ids('action=%25')).toEqual([]);
    expect(await ids(`user_id=${other.id}`)).toEqual([created, revoked]);
    expect(await ids(`user_id=${admin.id}&action=agent`)).toEqual([odd, minted]);
    expect(await ids(`since=${minute(1).toISOString()}&until=${minute(3).toISOString()}`)).toEqual([created, revoked]);
    expect(await ids(`since=${encodeURIComponent('2999-01-01T00:00:00+02:00')}`)).toEqual([]);
    for (const bad of ['since=yesterday', 'until=2026-02-31T00:00:00Z', 'user_id=42', `action=${'a'.repeat(81)}`]) {
      const reply = await harness.request('GET', `/api/v1/projects/alpha/audit?${bad}`, { jar });
      expect(reply.status).toBe(422);
    }
  });

  it.skipIf(skip)(
    'the project audit is for project admins only: viewers and operators 403, non-members 404, admin keys need audit:read',
    async () => {
      const harness = createApiHarness(test().database.db);
      await harness.reset();
      const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
      const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
      const operator = await harness.createUser({ memberships: { alpha: 'operator' } });
      const outsider = await harness.createUser({ memberships: { beta: 'admin' } });
      const globalAdmin = await harness.createUser({ isAdmin: true });

      for (const [user, status] of [
        [viewer, 403],
        [operator, 403],
        [outsider, 404],
        [admin, 200],
        [globalAdmin, 200],
      ] as const) {
        expect((await harness.request('GET', '/api/v1/projects/alpha/audit', { jar: await harness.sessionJar(user) })).status).toBe(status);
      }
      const bearer = (token: string) =>
        harness.request('GET', '/api/v1/projects/alpha/audit', { headers: { authorization: `Bearer ${token}` }, ip: '10.0.0.2' });
      expect((await bearer(await harness.createApiKey(admin, ['audit:read']))).status).toBe(200);
      expect((await bearer(await harness.createApiKey(admin, ['agents:read']))).status).toBe(403);
      expect((await bearer(await harness.createApiKey(viewer, ['audit:read']))).status).toBe(403);
    },
  );

  it.skipIf(skip)('activity shows the rows of the projects the caller can see; global admins see every row', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const alphaViewer = await harness.createUser({ memberships: { alpha: 'viewer', gamma: 'operator' } });
    const loner = await harness.createUser();
    const globalAdmin = await harness.createUser({ isAdmin: true });
    const alphaId = await harness.createProject('alpha');
    const betaId = await harness.createProject('beta');
    const gammaId = await harness.createProject('gamma');
    const at = new Date(await afterHead(harness));
    const alphaRows: string[] = [];
    for (let index = 0; index < 4; index += 1) {
      alphaRows.push(await append(harness, { action: 'test.alpha', project_id: alphaId, user_id: alphaViewer.id }, at));
      alphaRows.push(await append(harness, { action: 'test.gamma', project_id: gammaId }, at));
    }
    const betaRow = await append(harness, { action: 'test.beta', project_id: betaId, user_id: alphaViewer.id }, at);
    const globalRow = await append(harness, { action: 'test.global', user_id: alphaViewer.id }, at);

    const visible = await walk(harness, '/api/v1/activity', await harness.sessionJar(alphaViewer), 3);
    expect(visible.map((row) => row.id)).toEqual([...alphaRows].reverse());
    expect(new Set(visible.map((row) => row.project_id))).toEqual(new Set([alphaId, gammaId]));

    expect((await harness.request('GET', '/api/v1/activity', { jar: await harness.sessionJar(loner) })).body).toEqual({
      items: [],
      next_cursor: null,
    });

    const adminJar = await harness.sessionJar(globalAdmin);
    const everything = await walk(harness, '/api/v1/activity?action=test.', adminJar, 4);
    expect(everything.slice(0, 10).map((row) => row.id)).toEqual([globalRow, betaRow, ...[...alphaRows].reverse()]);
    expect(everything[0]).toMatchObject({ project_id: null, project_slug: null, user_email: alphaViewer.email });
    // Every row exactly once, across earlier tests' rows too.
    const total = await harness.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('action', 'like', 'test.%')
      .executeTakeFirstOrThrow();
    expect(new Set(everything.map((row) => row.id)).size).toBe(everything.length);
    expect(everything.length).toBe(Number(total.count));

    const filtered = await harness.request('GET', `/api/v1/activity?action=test.beta&user_id=${alphaViewer.id}`, { jar: adminJar });
    expect(filtered.body.items.map((row: RowView) => row.id)).toEqual([betaRow]);

    // A key bound to one project cannot read cross-project activity.
    const bound = await harness.createApiKey(globalAdmin, ['activity:read'], alphaId);
    const refused = await harness.request('GET', '/api/v1/activity', { headers: { authorization: `Bearer ${bound}` }, ip: '10.0.0.3' });
    expect(refused.status).toBe(403);
    const unbound = await harness.createApiKey(alphaViewer, ['activity:read']);
    const viaKey = await harness.request('GET', '/api/v1/activity?limit=500', {
      headers: { authorization: `Bearer ${unbound}` },
      ip: '10.0.0.3',
    });
    expect(viaKey.body.items.map((row: RowView) => row.id)).toEqual([...alphaRows].reverse());
  });
});
