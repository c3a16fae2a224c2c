import { sql, type Insertable } from 'kysely';
import { expect, it } from 'vitest';
import type { Database } from '@z4j/db';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';
import { TREE_MAX_NODES } from './task-tree.js';

const postgres = await probePostgres();

type TaskSeed = Partial<Insertable<Database['tasks']>>;

const MICROS_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;

/** Inserts tasks straight into the projection (what ingest would have written); json columns as JSON text. */
async function seed(harness: ApiHarness, projectId: string, rows: readonly TaskSeed[]): Promise<void> {
  await harness.db
    .insertInto('tasks')
    .values(
      rows.map((row, index) => ({ project_id: projectId, engine: 'celery', task_id: `task-${index}`, name: 'app.tasks.noop', ...row })),
    )
    .execute();
}

/** `2026-03-01T12:00:00Z` plus `minutes`. */
function at(minutes: number): string {
  return new Date(Date.UTC(2026, 2, 1, 12) + minutes * 60_000).toISOString();
}

describeEachDatabase('tasks over HTTP', postgres, ({ skip, test }) => {
  async function setup() {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const alphaId = await harness.createProject('alpha');
    const betaId = await harness.createProject('beta');
    return { harness, viewer, alphaId, betaId, jar: await harness.sessionJar(viewer) };
  }

  function taskIds(harness: ApiHarness, jar: CookieJar) {
    return async (query: string): Promise<string[]> => {
      const reply = await harness.request('GET', `/api/v1/projects/alpha/tasks?${query}`, { jar });
      expect(reply.status, reply.text).toBe(200);
      return (reply.body.items as { task_id: string }[]).map((item) => item.task_id);
    };
  }

  it.skipIf(skip)('lists newest first and narrows by each filter; bad filter values are 422 naming the field', async () => {
    const { harness, alphaId, betaId, jar } = await setup();
    await seed(harness, alphaId, [
      { task_id: 'a1', name: 'billing.charge', state: 'success', priority: 'high', queue: 'billing', worker_name: 'w1', created_at: at(1) },
      {
        task_id: 'a2',
        name: 'billing.refund',
        state: 'failure',
        priority: 'normal',
        queue: 'billing',
        worker_name: 'w2',
        created_at: at(2),
      },
      { task_id: 'a3', name: 'mail.send', state: 'started', priority: 'low', queue: 'mail', worker_name: 'w1', created_at: at(3) },
      { task_id: 'a4', name: 'mail.send', state: 'retry', priority: 'critical', queue: 'mail', engine: 'rq', created_at: at(4) },
      { task_id: 'a5', name: 'billing.charge', state: 'failure', priority: 'high', queue: 'billing', worker_name: 'w1', created_at: at(5) },
    ]);
    await seed(harness, betaId, [{ task_id: 'b1', name: 'billing.charge', state: 'failure', created_at: at(6) }]);
    const ids = taskIds(harness, jar);

    expect(await ids('')).toEqual(['a5', 'a4', 'a3', 'a2', 'a1']);
    expect(await ids('state=failure')).toEqual(['a5', 'a2']);
    expect(await ids('state=failure,retry')).toEqual(['a5', 'a4', 'a2']);
    expect(await ids('state=%20success%20,')).toEqual(['a1']);
    expect(await ids('priority=high')).toEqual(['a5', 'a1']);
    expect(await ids('priority=low,critical')).toEqual(['a4', 'a3']);
    expect(await ids('name=mail.send')).toEqual(['a4', 'a3']);
    expect(await ids('name=mail')).toEqual([]); // exact, not a prefix
    expect(await ids('queue=billing')).toEqual(['a5', 'a2', 'a1']);
    expect(await ids('worker=w1')).toEqual(['a5', 'a3', 'a1']);
    expect(await ids('engine=rq')).toEqual(['a4']);
    expect(await ids(`since=${at(2)}&until=${at(4)}`)).toEqual(['a3', 'a2']);
    expect(await ids(`since=${encodeURIComponent('2026-03-01T14:03:00+02:00')}`)).toEqual(['a5', 'a4', 'a3']);
    expect(await ids('state=failure&queue=billing&worker=w1&name=billing.charge')).toEqual(['a5']);

    const projected = await harness.request('GET', '/api/v1/projects/alpha/tasks?fields=task_id,state,created_at&limit=1', { jar });
    expect(projected.body.items).toEqual([{ task_id: 'a5', state: 'failure', created_at: expect.stringMatching(MICROS_TEXT) }]);
    expect(projected.body.items[0].created_at).toBe('2026-03-01T12:05:00.000000+00:00');
    const summary = await harness.request('GET', '/api/v1/projects/alpha/tasks?limit=1', { jar });
    expect(Object.keys(summary.body.items[0])).not.toContain('args');
    expect(summary.body.items[0]).toMatchObject({ task_id: 'a5', engine: 'celery', retry_count: 0, runtime_ms: null });

    for (const [bad, field] of [
      ['state=finished', 'query.state'],
      ['state=', 'query.state'],
      ['priority=urgent', 'query.priority'],
      ['fields=task_id,password', 'query.fields'],
      ['since=yesterday', 'query.since'],
      ['until=2026-02-30T00:00:00Z', 'query.until'],
      ['format=pdf', 'query.format'],
      ['cursor=bogus', 'query.cursor'],
      ['limit=100000', 'query.limit'],
    ] as const) {
      const reply = await harness.request('GET', `/api/v1/projects/alpha/tasks?${bad}`, { jar });
      expect(reply.status, bad).toBe(422);
      expect(reply.body.details.errors.map((error: { field: string }) => error.field)).toContain(field);
    }
  });

  it.skipIf(skip)('search matches a name substring, an exception substring, a task_id prefix and JSON args / kwargs', async () => {
    const { harness, alphaId, jar } = await setup();
    await seed(harness, alphaId, [
      { task_id: '7f3a9c2e-0000-4000-8000-000000000001', name: 'reports.build_monthly', created_at: at(1) },
      { task_id: 'b2', name: 'payments.capture', exception: 'CardDeclinedError', state: 'failure', created_at: at(2) },
      { task_id: 'b3', name: 'mail.send', kwargs: JSON.stringify({ user_id: 42, template: 'welcome' }), created_at: at(3) },
      { task_id: 'b4', name: 'mail.send', args: JSON.stringify([42, 'x%y']), kwargs: JSON.stringify({}), created_at: at(4) },
      { task_id: 'b5', name: 'odd_name%here', created_at: at(5) },
      { task_id: 'x7f3', name: 'other', created_at: at(6) },
    ]);
    const ids = taskIds(harness, jar);
    const search = (text: string) => ids(`search=${encodeURIComponent(text)}`);

    expect(await search('monthly')).toEqual(['7f3a9c2e-0000-4000-8000-000000000001']);
    expect(await search('REPORTS.BUILD')).toEqual(['7f3a9c2e-0000-4000-8000-000000000001']);
    expect(await search('declined')).toEqual(['b2']);
    expect(await search('7f3a')).toEqual(['7f3a9c2e-0000-4000-8000-000000000001']); // prefix: not x7f3
    expect(await search('b')).toEqual(['b5', 'b4', 'b3', 'b2']); // under 3 characters: task_id prefix only
    expect(await search('{"user_id": 42}')).toEqual(['b3']);
    expect(await search('{"user_id": 43}')).toEqual([]);
    expect(await search('[42]')).toEqual(['b4']);
    // JSON to JS but beyond Postgres' numeric (seen as a hex task-id prefix in bench:api): text search, never a 500.
    expect(await search('8e771126')).toEqual([]);
    expect(await search('[1e999999]')).toEqual([]);
    expect(await search('"x%y"')).toEqual(['b4']);
    // LIKE wildcards are literal.
    expect(await search('name%')).toEqual(['b5']);
    expect(await search('e_h')).toEqual([]);
    expect(await search('%')).toEqual([]);
    expect(await ids(`search=mail&state=failure`)).toEqual([]);
    expect(await ids(`search=${encodeURIComponent('{"template": "welcome"}')}&name=mail.send`)).toEqual(['b3']);
  });

  it.skipIf(skip)('paging through 10,000 tasks (several per microsecond) yields each exactly once, in order', async () => {
    const { harness, alphaId, betaId, jar } = await setup();
    // Three tasks share each microsecond, and a thousand microseconds share each millisecond: a cursor that kept only
    // a JS Date (ms) would skip or repeat rows.
    await sql`
      insert into tasks (project_id, engine, task_id, name, state, created_at)
      select ${alphaId}::uuid, 'celery', 'p-' || lpad(i::text, 5, '0'), 'app.page', 'success',
             timestamptz '2026-03-01 12:00:00+00' + ((i / 3) * interval '1 microsecond')
        from generate_series(1, 10000) as i`.execute(harness.db);
    await sql`
      insert into tasks (project_id, engine, task_id, name, created_at)
      select ${betaId}::uuid, 'celery', 'q-' || i, 'app.page', timestamptz '2026-03-01 12:00:00+00'
        from generate_series(1, 50) as i`.execute(harness.db);

    const walked = await harness.walkPages('/api/v1/projects/alpha/tasks?fields=id,task_id,created_at', { jar, limit: 500 });
    const items = walked.items as { id: string; task_id: string; created_at: string }[];
    const seen = items.map((item) => item.task_id);
    const keys = items.map((item) => `${item.created_at}|${item.id}`);
    const pages = walked.pages;

    expect(pages).toBe(20);
    expect(seen).toHaveLength(10_000);
    expect(new Set(seen).size).toBe(10_000);
    // Newest first by (created_at, id): the µs texts sort like the timestamps.
    const sorted = [...keys].sort().reverse();
    expect(keys).toEqual(sorted);
    // The same walk with a filter and a different page size.
    const filtered = (await harness.walkPages('/api/v1/projects/alpha/tasks?state=success&fields=task_id', { jar, limit: 333 })).items.map(
      (item: { task_id: string }) => item.task_id,
    );
    // No task twice, none missing.
    expect(filtered).toHaveLength(10_000);
    expect(new Set(filtered).size).toBe(10_000);
  });

  it.skipIf(skip)('shows one task in full, and 404s an unknown one or one of another project', async () => {
    const { harness, alphaId, betaId, jar } = await setup();
    await seed(harness, alphaId, [
      {
        engine: 'celery',
        task_id: 'fa1/with slash',
        name: 'billing.charge',
        state: 'failure',
        args: JSON.stringify([1, 'two']),
        kwargs: JSON.stringify({ amount: 12.5 }),
        result: null,
        exception: 'CardDeclinedError',
        traceback: 'Traceback (most recent call last):\n  ...',
        retry_count: 2,
        runtime_ms: 1234,
        worker_name: 'celery@host-1',
        parent_task_id: 'p0',
        root_task_id: 'r0',
        tags: ['billing', 'eu'],
        received_at: '2026-03-01T12:00:00.000001Z',
        started_at: '2026-03-01T12:00:00.000002Z',
        finished_at: '2026-03-01T12:00:01.234002Z',
        created_at: '2026-03-01T12:00:00.000001Z',
      },
    ]);
    await seed(harness, betaId, [{ task_id: 'only-in-beta' }]);

    const reply = await harness.request('GET', `/api/v1/projects/alpha/tasks/celery/${encodeURIComponent('fa1/with slash')}`, { jar });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toEqual({
      id: expect.any(String),
      engine: 'celery',
      task_id: 'fa1/with slash',
      name: 'billing.charge',
      queue: null,
      state: 'failure',
      priority: 'normal',
      worker_name: 'celery@host-1',
      retry_count: 2,
      runtime_ms: 1234,
      exception: 'CardDeclinedError',
      traceback: 'Traceback (most recent call last):\n  ...',
      args: [1, 'two'],
      kwargs: { amount: 12.5 },
      result: null,
      parent_task_id: 'p0',
      root_task_id: 'r0',
      tags: ['billing', 'eu'],
      metadata: {},
      eta: null,
      received_at: '2026-03-01T12:00:00.000001+00:00',
      started_at: '2026-03-01T12:00:00.000002+00:00',
      finished_at: '2026-03-01T12:00:01.234002+00:00',
      created_at: '2026-03-01T12:00:00.000001+00:00',
      updated_at: expect.stringMatching(MICROS_TEXT),
    });
    for (const path of ['celery/nope', 'rq/fa1%2Fwith%20slash', 'celery/only-in-beta']) {
      const missing = await harness.request('GET', `/api/v1/projects/alpha/tasks/${path}`, { jar });
      expect(missing.status, path).toBe(404);
      expect(missing.body.message).toBe('task not found');
    }
  });

  it.skipIf(skip)('the tree holds the ancestors up to the root and every descendant of the root, and is bounded', async () => {
    const { harness, alphaId, jar } = await setup();
    // root ─┬─ a ── a1 ── a1x           (chain by parent)
    //       ├─ b                         (group member with only root_task_id)
    //       └─ c ── c1
    // other-root ── z                    (another canvas)
    await seed(harness, alphaId, [
      { task_id: 'root', created_at: at(0) },
      { task_id: 'a', parent_task_id: 'root', root_task_id: 'root', created_at: at(1) },
      { task_id: 'a1', parent_task_id: 'a', root_task_id: 'root', created_at: at(2) },
      { task_id: 'a1x', parent_task_id: 'a1', created_at: at(3) },
      { task_id: 'b', root_task_id: 'root', created_at: at(4) },
      { task_id: 'c', parent_task_id: 'root', created_at: at(5) },
      { task_id: 'c1', parent_task_id: 'c', created_at: at(6) },
      { task_id: 'other-root', created_at: at(7) },
      { task_id: 'z', parent_task_id: 'other-root', created_at: at(8) },
      // Same ids on another engine are another canvas.
      { task_id: 'a', engine: 'rq', parent_task_id: 'root', created_at: at(9) },
      // Bad data: a cycle.
      { task_id: 'loop1', parent_task_id: 'loop2', created_at: at(10) },
      { task_id: 'loop2', parent_task_id: 'loop1', created_at: at(11) },
    ]);
    const tree = async (taskId: string) => {
      const reply = await harness.request('GET', `/api/v1/projects/alpha/tasks/celery/${taskId}/tree`, { jar });
      expect(reply.status, reply.text).toBe(200);
      return reply.body as { task_id: string; root_task_id: string; truncated: boolean; nodes: { task_id: string; engine: string }[] };
    };
    const canvas = ['root', 'a', 'a1', 'a1x', 'b', 'c', 'c1'];
    for (const from of ['a1x', 'c1', 'root', 'b']) {
      const found = await tree(from);
      expect(found.root_task_id, from).toBe('root');
      expect(found.nodes.map((node) => node.task_id)).toEqual(canvas);
      expect(found.nodes.every((node) => node.engine === 'celery')).toBe(true);
      expect(found.truncated).toBe(false);
    }
    expect((await tree('z')).nodes.map((node) => node.task_id)).toEqual(['other-root', 'z']);
    const loop = await tree('loop1');
    expect(new Set(loop.nodes.map((node) => node.task_id))).toEqual(new Set(['loop1', 'loop2']));
    expect((await harness.request('GET', '/api/v1/projects/alpha/tasks/celery/nope/tree', { jar })).status).toBe(404);

    // A canvas wider than the bound is cut and says so.
    await sql`
      insert into tasks (project_id, engine, task_id, name, parent_task_id, root_task_id)
      select ${alphaId}::uuid, 'celery', 'wide-' || i, 'app.fanout', 'wide-root', 'wide-root'
        from generate_series(1, ${TREE_MAX_NODES + 50}) as i`.execute(harness.db);
    await seed(harness, alphaId, [{ task_id: 'wide-root' }]);
    const wide = await tree('wide-7');
    expect(wide.truncated).toBe(true);
    expect(wide.nodes).toHaveLength(TREE_MAX_NODES);
    expect(wide.nodes.map((node) => node.task_id)).toContain('wide-root');
    expect(wide.nodes.map((node) => node.task_id)).toContain('wide-7');
  });

  it.skipIf(skip)("pages through one task's raw events oldest first with a microsecond cursor", async () => {
    const { harness, alphaId, betaId, jar } = await setup();
    const kinds = ['task.received', 'task.started', 'task.retried', 'task.started', 'task.failed'];
    const event = (projectId: string, taskId: string, index: number, kind: string, engine = 'celery') => ({
      project_id: projectId,
      // All within one millisecond, 1 µs apart; two share a microsecond (tiebreak by id).
      occurred_at: `${new Date().toISOString().slice(0, 10)}T10:00:00.000${String(Math.min(index, 3)).padStart(3, '0')}Z`,
      engine,
      task_id: taskId,
      kind,
      payload: JSON.stringify({ kind, task_id: taskId, data: { n: index } }),
    });
    await harness.db
      .insertInto('events')
      .values([
        ...kinds.map((kind, index) => event(alphaId, 't-1', index, kind)),
        event(alphaId, 't-2', 0, 'task.received'),
        event(alphaId, 't-1', 9, 'task.received', 'rq'),
        event(betaId, 't-1', 0, 'task.received'),
      ])
      .execute();

    const walked: { kind: string; occurred_at: string; id: string }[] = (
      await harness.walkPages('/api/v1/projects/alpha/events?task_id=t-1&engine=celery', { jar, limit: 2 })
    ).items;
    expect(walked).toHaveLength(5);
    expect(walked.map((row) => row.occurred_at.slice(-12))).toEqual([
      '000000+00:00',
      '000001+00:00',
      '000002+00:00',
      '000003+00:00',
      '000003+00:00',
    ]);
    expect(walked[0]).toMatchObject({ kind: 'task.received', engine: 'celery', task_id: 't-1', payload: { data: { n: 0 } } });
    const ties = walked.slice(3).map((row) => row.id);
    expect(ties).toEqual([...ties].sort());

    const allEngines = await harness.request('GET', '/api/v1/projects/alpha/events?task_id=t-1&limit=50', { jar });
    expect(allEngines.body.items).toHaveLength(6);
    expect((await harness.request('GET', '/api/v1/projects/alpha/events', { jar })).status).toBe(422);
  });

  it.skipIf(skip)('viewers and task-scoped API keys read tasks; non-members get 404', async () => {
    const { harness, viewer, alphaId, jar } = await setup();
    await seed(harness, alphaId, [{ task_id: 'x' }]);
    const outsider = await harness.createUser({ memberships: { beta: 'admin' } });
    const outsiderJar = await harness.sessionJar(outsider);
    for (const path of ['tasks', 'tasks/celery/x', 'tasks/celery/x/tree', 'events?task_id=x']) {
      expect((await harness.request('GET', `/api/v1/projects/alpha/${path}`, { jar })).status, path).toBe(200);
      const hidden = await harness.request('GET', `/api/v1/projects/alpha/${path}`, { jar: outsiderJar });
      expect(hidden.status, path).toBe(404);
      expect(hidden.body.message).toBe('project not found');
    }
    const bearer = async (scopes: string[]) =>
      (
        await harness.request('GET', '/api/v1/projects/alpha/tasks', {
          headers: { authorization: `Bearer ${await harness.createApiKey(viewer, scopes)}` },
        })
      ).status;
    expect(await bearer(['tasks:read'])).toBe(200);
    expect(await bearer(['agents:read'])).toBe(403);
  });
});
