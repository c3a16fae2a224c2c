import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('workers and queues over HTTP', postgres, ({ skip, test }) => {
  async function setup() {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const alphaId = await harness.createProject('alpha');
    const betaId = await harness.createProject('beta');
    return { harness, alphaId, betaId, jar: await harness.sessionJar(viewer) };
  }

  async function walk(harness: ApiHarness, jar: CookieJar, path: string, limit: number): Promise<Record<string, unknown>[]> {
    return (await harness.walkPages(path, { jar, limit })).items as Record<string, unknown>[];
  }

  it.skipIf(skip)(
    'lists workers by name with task counts from one grouped query per page, and shows one worker with its metadata',
    async () => {
      const { harness, alphaId, betaId, jar } = await setup();
      const workers = await harness.db
        .insertInto('workers')
        .values([
          {
            project_id: alphaId,
            engine: 'celery',
            name: 'celery@a',
            hostname: 'a',
            state: 'online',
            concurrency: 8,
            queues: ['default', 'mail'],
          },
          {
            project_id: alphaId,
            engine: 'celery',
            name: 'celery@b',
            state: 'offline',
            memory_bytes: '6000000000',
            load_average: [0.5, 0.25, 0.1],
          },
          { project_id: alphaId, engine: 'rq', name: 'celery@a', state: 'online' },
          {
            project_id: alphaId,
            engine: 'celery',
            name: 'celery@idle',
            state: 'online',
            metadata: JSON.stringify({ stats: { pool: { 'max-concurrency': 8 } } }),
          },
          { project_id: betaId, engine: 'celery', name: 'celery@a', state: 'online' },
        ])
        .returning(['id', 'project_id', 'engine', 'name'])
        .execute();
      // celery@a (celery): 3 success, 2 failure (one retried), 1 retry, 1 started → 7 processed.
      const tasks: [string, string, string, string, number][] = [
        [alphaId, 'celery', 'celery@a', 'success', 0],
        [alphaId, 'celery', 'celery@a', 'success', 0],
        [alphaId, 'celery', 'celery@a', 'success', 0],
        [alphaId, 'celery', 'celery@a', 'failure', 2],
        [alphaId, 'celery', 'celery@a', 'failure', 0],
        [alphaId, 'celery', 'celery@a', 'retry', 1],
        [alphaId, 'celery', 'celery@a', 'started', 0],
        [alphaId, 'celery', 'celery@b', 'success', 1],
        [alphaId, 'rq', 'celery@a', 'failure', 0],
        [betaId, 'celery', 'celery@a', 'failure', 0],
      ];
      // Older than the default 24 h window of the counts.
      await harness.db
        .insertInto('tasks')
        .values({
          project_id: alphaId,
          engine: 'celery',
          task_id: 'old',
          name: 'app.job',
          worker_name: 'celery@a',
          state: 'failure',
          created_at: '2026-01-01T00:00:00Z',
        })
        .execute();
      await harness.db
        .insertInto('tasks')
        .values(
          tasks.map(([projectId, engine, worker, state, retries], index) => ({
            project_id: projectId,
            engine,
            task_id: `t${index}`,
            name: 'app.job',
            worker_name: worker,
            state: state as 'success',
            retry_count: retries,
          })),
        )
        .execute();

      const listed = await walk(harness, jar, '/api/v1/projects/alpha/workers', 2);
      expect(listed.map((row) => [row.name, row.engine])).toEqual([
        ['celery@a', expect.any(String)],
        ['celery@a', expect.any(String)],
        ['celery@b', 'celery'],
        ['celery@idle', 'celery'],
      ]);
      const byKey = new Map(listed.map((row) => [`${String(row.engine)}/${String(row.name)}`, row]));
      expect(byKey.get('celery/celery@a')).toMatchObject({
        state: 'online',
        concurrency: 8,
        queues: ['default', 'mail'],
        processed: 7,
        succeeded: 3,
        failed: 2,
        retried: 2,
      });
      expect(byKey.get('rq/celery@a')).toMatchObject({ processed: 1, succeeded: 0, failed: 1, retried: 0 });
      expect(byKey.get('celery/celery@b')).toMatchObject({
        state: 'offline',
        memory_bytes: 6_000_000_000,
        load_average: [0.5, 0.25, 0.1],
        processed: 1,
        succeeded: 1,
        retried: 1,
      });
      expect(byKey.get('celery/celery@idle')).toMatchObject({ processed: 0, succeeded: 0, failed: 0, retried: 0 });
      expect(Object.keys(listed[0]!)).not.toContain('metadata');

      expect((await walk(harness, jar, '/api/v1/projects/alpha/workers?state=offline', 10)).map((row) => row.name)).toEqual(['celery@b']);
      expect((await walk(harness, jar, '/api/v1/projects/alpha/workers?engine=rq', 10)).map((row) => row.name)).toEqual(['celery@a']);
      expect((await harness.request('GET', '/api/v1/projects/alpha/workers?state=asleep', { jar })).status).toBe(422);

      const idle = workers.find((row) => row.name === 'celery@idle')!;
      const detail = await harness.request('GET', `/api/v1/projects/alpha/workers/${idle.id}`, { jar });
      expect(detail.status).toBe(200);
      expect(detail.body).toMatchObject({
        id: idle.id,
        name: 'celery@idle',
        metadata: { stats: { pool: { 'max-concurrency': 8 } } },
        processed: 0,
      });
      const busy = workers.find((row) => row.project_id === alphaId && row.engine === 'celery' && row.name === 'celery@a')!;
      expect((await harness.request('GET', `/api/v1/projects/alpha/workers/${busy.id}`, { jar })).body).toMatchObject({
        processed: 7,
        counts_since: new Date(harness.clock.now.getTime() - 86_400_000).toISOString(),
      });
      const lifetime = await harness.request('GET', `/api/v1/projects/alpha/workers/${busy.id}?since=2025-01-01T00:00:00Z`, { jar });
      expect(lifetime.body).toMatchObject({ processed: 8, failed: 3, counts_since: '2025-01-01T00:00:00.000Z' });
      const listedSince = await harness.request('GET', '/api/v1/projects/alpha/workers?since=2025-01-01T00:00:00Z&engine=celery&limit=1', {
        jar,
      });
      expect(listedSince.body.items[0]).toMatchObject({ name: 'celery@a', processed: 8 });
      const foreign = workers.find((row) => row.project_id === betaId)!;
      for (const id of [foreign.id, 'not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
        const missing = await harness.request('GET', `/api/v1/projects/alpha/workers/${id}`, { jar });
        expect(missing.status).toBe(404);
        expect(missing.body.message).toBe('worker not found');
      }
    },
  );

  it.skipIf(skip)('counting tasks for a page of workers is one statement, whatever the page size', async () => {
    const { harness, alphaId, jar } = await setup();
    await sql`
      insert into workers (project_id, engine, name, state)
      select ${alphaId}::uuid, 'celery', 'celery@w' || lpad(i::text, 3, '0'), 'online' from generate_series(1, 120) as i`.execute(
      harness.db,
    );
    await sql`
      insert into tasks (project_id, engine, task_id, name, worker_name, state)
      select ${alphaId}::uuid, 'celery', 't' || i, 'app.job', 'celery@w' || lpad((1 + i % 120)::text, 3, '0'),
             case when i % 4 = 0 then 'failure' else 'success' end::task_state
        from generate_series(1, 2400) as i`.execute(harness.db);
    const statements: string[] = [];
    const logged = createApiHarness(
      test().database.db.withPlugin({
        transformQuery: (args) => {
          if (args.node.kind === 'SelectQueryNode') statements.push(JSON.stringify(args.node).includes('"tasks"') ? 'tasks' : 'other');
          return args.node;
        },
        transformResult: async (args) => args.result,
      }),
    );
    const page = await logged.request('GET', '/api/v1/projects/alpha/workers?limit=100', { jar });
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(100);
    expect(page.body.items.every((row: { processed: number }) => row.processed === 20)).toBe(true);
    expect(page.body.items.reduce((sum: number, row: { failed: number }) => sum + row.failed, 0)).toBe(500);
    expect(statements.filter((kind) => kind === 'tasks')).toHaveLength(1);
  });

  it.skipIf(skip)('lists queues by name with their depth, consumers and last sighting', async () => {
    const { harness, alphaId, betaId, jar } = await setup();
    await harness.db
      .insertInto('queues')
      .values([
        {
          project_id: alphaId,
          engine: 'celery',
          name: 'mail',
          pending_count: 12,
          consumer_count: 2,
          last_seen_at: '2026-03-01T12:00:00.000001Z',
        },
        { project_id: alphaId, engine: 'celery', name: 'default', pending_count: 0, consumer_count: 4 },
        { project_id: alphaId, engine: 'rq', name: 'default', pending_count: 3 },
        { project_id: betaId, engine: 'celery', name: 'secret', pending_count: 99 },
      ])
      .execute();
    const queues = await walk(harness, jar, '/api/v1/projects/alpha/queues', 1);
    expect(queues.map((row) => [row.name, row.engine, row.depth])).toEqual([
      ['default', expect.any(String), expect.any(Number)],
      ['default', expect.any(String), expect.any(Number)],
      ['mail', 'celery', 12],
    ]);
    expect(queues[2]).toMatchObject({ consumer_count: 2, last_seen_at: '2026-03-01T12:00:00.000001+00:00', metadata: {} });
    const rq = await harness.request('GET', '/api/v1/projects/alpha/queues?engine=rq', { jar });
    expect(rq.body.items.map((row: { name: string; depth: number }) => [row.name, row.depth])).toEqual([['default', 3]]);
  });

  it.skipIf(skip)("answers each queue's depth per minute over the window, this project's only", async () => {
    const { harness, alphaId, betaId, jar } = await setup();
    harness.clock.now = new Date('2026-03-01T12:30:20Z');
    const minute = (iso: string) => new Date(iso);
    await harness.db
      .insertInto('queue_depth_samples')
      .values([
        { project_id: alphaId, engine: 'celery', queue: 'mail', minute: minute('2026-03-01T12:28:00Z'), depth: 5 },
        { project_id: alphaId, engine: 'celery', queue: 'mail', minute: minute('2026-03-01T12:30:00Z'), depth: 9 },
        { project_id: alphaId, engine: 'celery', queue: 'default', minute: minute('2026-03-01T12:29:00Z'), depth: 1 },
        // Outside a 3-minute window (12:28–12:30), and another project's.
        { project_id: alphaId, engine: 'celery', queue: 'mail', minute: minute('2026-03-01T12:27:00Z'), depth: 77 },
        { project_id: betaId, engine: 'celery', queue: 'secret', minute: minute('2026-03-01T12:30:00Z'), depth: 99 },
      ])
      .execute();
    const reply = await harness.request('GET', '/api/v1/projects/alpha/queues/depths?minutes=3', { jar });
    expect(reply.status).toBe(200);
    expect(reply.body.since).toBe('2026-03-01T12:28:00.000Z');
    expect(reply.body.items).toEqual([
      { engine: 'celery', queue: 'default', points: [{ minute: '2026-03-01T12:29:00.000000+00:00', depth: 1 }] },
      {
        engine: 'celery',
        queue: 'mail',
        points: [
          { minute: '2026-03-01T12:28:00.000000+00:00', depth: 5 },
          { minute: '2026-03-01T12:30:00.000000+00:00', depth: 9 },
        ],
      },
    ]);
    expect((await harness.request('GET', '/api/v1/projects/alpha/queues/depths?minutes=1441', { jar })).status).toBe(422);
  });
});
