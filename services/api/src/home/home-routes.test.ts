import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('home cards over HTTP', postgres, ({ skip, test }) => {
  async function agent(
    harness: ApiHarness,
    projectId: string,
    fields: { state: 'online' | 'offline' | 'unknown'; seenSecondsAgo?: number; revoked?: boolean },
  ) {
    const now = harness.clock.now.getTime();
    await harness.db
      .insertInto('agents')
      .values({
        project_id: projectId,
        name: `agent-${randomBytes(4).toString('hex')}`,
        token_hash: randomBytes(32).toString('hex'),
        state: fields.state,
        last_seen_at: fields.seenSecondsAgo === undefined ? null : new Date(now - fields.seenSecondsAgo * 1000),
        revoked_at: fields.revoked ? new Date(now) : null,
      })
      .execute();
  }

  async function setup() {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const member = await harness.createUser({ memberships: { alpha: 'viewer', gamma: 'operator' } });
    const alpha = await harness.createProject('alpha');
    const beta = await harness.createProject('beta');
    const gamma = await harness.createProject('gamma');
    return { harness, member, alpha, beta, gamma, jar: await harness.sessionJar(member) };
  }

  it.skipIf(skip)('summary: per visible project, tasks of the last 24 h by state and agents online / offline', async () => {
    const { harness, member, alpha, beta, gamma, jar } = await setup();
    const now = harness.clock.now.getTime();
    const ago = (hours: number) => new Date(now - hours * 3_600_000);
    const states = [
      [alpha, 'success', 1],
      [alpha, 'success', 23],
      [alpha, 'failure', 2],
      [alpha, 'started', 0.1],
      [alpha, 'success', 25], // older than 24 h
      [beta, 'failure', 1], // not visible
      [gamma, 'retry', 3],
    ] as const;
    await harness.db
      .insertInto('tasks')
      .values(
        states.map(([projectId, state, hours], index) => ({
          project_id: projectId,
          engine: 'celery',
          task_id: `t${index}`,
          name: 'app.job',
          state,
          created_at: ago(hours),
        })),
      )
      .execute();
    await agent(harness, alpha, { state: 'online', seenSecondsAgo: 5 });
    await agent(harness, alpha, { state: 'online', seenSecondsAgo: 5 });
    await agent(harness, alpha, { state: 'online', seenSecondsAgo: 600 }); // stale: the health sweep has not run yet
    await agent(harness, alpha, { state: 'offline', seenSecondsAgo: 900 });
    await agent(harness, alpha, { state: 'unknown' });
    await agent(harness, alpha, { state: 'online', seenSecondsAgo: 1, revoked: true });
    await agent(harness, beta, { state: 'online', seenSecondsAgo: 1 });
    // Archived projects drop off the home page.
    const archived = await harness.createProject('delta');
    await harness.db.insertInto('memberships').values({ user_id: member.id, project_id: archived, role: 'viewer' }).execute();
    await harness.db.updateTable('projects').set({ is_active: false }).where('id', '=', archived).execute();

    const reply = await harness.request('GET', '/api/v1/home/summary', { jar });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.since).toBe(ago(24).toISOString());
    expect(reply.body.items).toEqual([
      {
        project_id: alpha,
        project_slug: 'alpha',
        project_name: 'alpha',
        tasks: {
          total: 4,
          by_state: { pending: 0, received: 0, started: 1, success: 2, failure: 1, retry: 0, revoked: 0, rejected: 0, unknown: 0 },
        },
        agents: { online: 2, offline: 3 },
      },
      {
        project_id: gamma,
        project_slug: 'gamma',
        project_name: 'gamma',
        tasks: { total: 1, by_state: expect.objectContaining({ retry: 1, success: 0 }) },
        agents: { online: 0, offline: 0 },
      },
    ]);

    const admin = await harness.createUser({ isAdmin: true });
    const everything = await harness.request('GET', '/api/v1/home/summary', { jar: await harness.sessionJar(admin) });
    expect(everything.body.items.map((item: { project_slug: string }) => item.project_slug)).toEqual(['alpha', 'beta', 'gamma']);
    const loner = await harness.createUser();
    expect((await harness.request('GET', '/api/v1/home/summary', { jar: await harness.sessionJar(loner) })).body.items).toEqual([]);
    // A key bound to one project sees that project only.
    const bound = await harness.createApiKey(admin, ['home:read'], beta);
    const viaKey = await harness.request('GET', '/api/v1/home/summary', { headers: { authorization: `Bearer ${bound}` } });
    expect(viaKey.body.items.map((item: { project_slug: string }) => item.project_slug)).toEqual(['beta']);
    expect((await harness.request('GET', '/api/v1/home/summary')).status).toBe(401);
  });

  it.skipIf(skip)('recent failures: the failed tasks of the visible projects, newest first, paged exactly once each', async () => {
    const { harness, alpha, beta, gamma, jar } = await setup();
    // 40 failures spread over three projects, several sharing a microsecond, plus successes in between.
    await sql`
      insert into tasks (project_id, engine, task_id, name, state, exception, finished_at, created_at)
      select (array[${alpha}::uuid, ${beta}::uuid, ${gamma}::uuid])[1 + i % 3], 'celery', 'f' || i, 'app.job',
             case when i % 4 = 0 then 'success' else 'failure' end::task_state, 'ValueError',
             timestamptz '2026-03-01 12:00:00+00' + (i / 2) * interval '1 microsecond',
             timestamptz '2026-03-01 12:00:00+00' + (i / 2) * interval '1 microsecond'
        from generate_series(1, 54) as i`.execute(harness.db);
    const expected = (
      await harness.db
        .selectFrom('tasks')
        .select(['task_id', 'project_id'])
        .where('state', '=', 'failure')
        .where('project_id', 'in', [alpha, gamma])
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute()
    ).map((row) => row.task_id);
    expect(expected.length).toBeGreaterThan(20);

    const walk = async (walker: CookieJar, limit: number) =>
      (await harness.walkPages('/api/v1/home/recent-failures', { jar: walker, limit })).items as {
        task_id: string;
        project_slug: string;
        exception: string;
        created_at: string;
      }[];
    for (const limit of [1, 4, 50]) {
      const seen = await walk(jar, limit);
      expect(seen.map((row) => row.task_id)).toEqual(expected);
    }
    const first = (await walk(jar, 50))[0]!;
    expect(first).toMatchObject({ exception: 'ValueError', created_at: expect.stringMatching(/\.\d{6}\+00:00$/) });
    expect(new Set((await walk(jar, 50)).map((row) => row.project_slug))).toEqual(new Set(['alpha', 'gamma']));
    const loner = await harness.createUser();
    expect((await harness.request('GET', '/api/v1/home/recent-failures', { jar: await harness.sessionJar(loner) })).body).toEqual({
      items: [],
      next_cursor: null,
    });
  });
});
