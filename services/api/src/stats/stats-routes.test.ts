import type { Insertable } from 'kysely';
import { expect, it } from 'vitest';
import type { Database } from '@z4j/db';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

/** 2026-03-01T00:00Z plus `minutes`, as an ISO string. */
function t(minutes: number): string {
  return new Date(Date.UTC(2026, 2, 1) + minutes * 60_000).toISOString();
}

/** A finished task: created a second before it finished. */
function finished(
  index: number,
  minute: number,
  state: 'success' | 'failure' | 'revoked',
  runtime: number | null,
  retries = 0,
): Insertable<Database['tasks']> {
  const at = Date.parse(t(minute));
  return {
    project_id: '',
    engine: 'celery',
    task_id: `f${index}`,
    name: 'app.job',
    state,
    runtime_ms: runtime,
    retry_count: retries,
    finished_at: new Date(at).toISOString(),
    created_at: new Date(at - 1000).toISOString(),
  };
}

describeEachDatabase('stats and trends over HTTP', postgres, ({ skip, test }) => {
  async function setup() {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const alphaId = await harness.createProject('alpha');
    const betaId = await harness.createProject('beta');
    const rows = [
      // 00:00–01:00: four successes and a failure that had been retried once.
      finished(1, 5, 'success', 10),
      finished(2, 15, 'success', 20),
      finished(3, 25, 'success', 30),
      finished(4, 35, 'success', 40),
      finished(5, 45, 'failure', 100, 1),
      // 01:00–02:00: nothing finished; one task still pending.
      { ...finished(6, 90, 'success', null), state: 'pending' as const, finished_at: null },
      // 02:00–03:00: a success after two retries and a revoked task without a runtime.
      finished(7, 150, 'success', 5, 2),
      finished(8, 170, 'revoked', null),
      // Just outside the window on both sides (created inside / before it).
      finished(9, 180, 'success', 999),
      finished(10, -1, 'failure', 999),
    ];
    await harness.db
      .insertInto('tasks')
      .values(rows.map((row) => ({ ...row, project_id: alphaId })))
      .execute();
    await harness.db
      .insertInto('tasks')
      .values(rows.map((row) => ({ ...row, project_id: betaId, runtime_ms: 1 })))
      .execute();
    return { harness, jar: await harness.sessionJar(viewer) };
  }

  it.skipIf(skip)('stats: tasks created by state, and outcomes, failure rate and runtime percentiles of tasks finished', async () => {
    const { harness, jar } = await setup();
    const reply = await harness.request('GET', `/api/v1/projects/alpha/stats?since=${t(0)}&until=${t(180)}`, { jar });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toEqual({
      since: t(0),
      until: t(180),
      created: {
        total: 9,
        by_state: { pending: 1, received: 0, started: 0, success: 6, failure: 1, retry: 0, revoked: 1, rejected: 0, unknown: 0 },
      },
      finished: {
        succeeded: 5,
        failed: 1,
        revoked: 1,
        retried: 2,
        failure_rate: expect.closeTo(1 / 6, 12),
        // runtimes 5, 10, 20, 30, 40, 100 (continuous percentiles, as Postgres' percentile_cont)
        runtime_ms: { p50: 25, p95: expect.closeTo(85, 9), avg: expect.closeTo(205 / 6, 9) },
      },
    });
    const empty = await harness.request('GET', `/api/v1/projects/alpha/stats?since=${t(60)}&until=${t(61)}`, { jar });
    expect(empty.body.finished).toEqual({
      succeeded: 0,
      failed: 0,
      revoked: 0,
      retried: 0,
      failure_rate: null,
      runtime_ms: { p50: null, p95: null, avg: null },
    });
    // Default window: the 24 h before now.
    const now = harness.clock.now;
    const recent = await harness.request('GET', '/api/v1/projects/alpha/stats', { jar });
    expect(recent.body.until).toBe(now.toISOString());
    expect(Date.parse(recent.body.until) - Date.parse(recent.body.since)).toBe(86_400_000);
    for (const bad of [`since=${t(10)}&until=${t(10)}`, `since=${t(20)}&until=${t(10)}`, 'since=soon']) {
      expect((await harness.request('GET', `/api/v1/projects/alpha/stats?${bad}`, { jar })).status, bad).toBe(422);
    }
  });

  it.skipIf(skip)('trends: every UTC-aligned bucket of the window, with outcomes and runtime percentiles per bucket', async () => {
    const { harness, jar } = await setup();
    const reply = await harness.request('GET', `/api/v1/projects/alpha/trends?since=${t(0)}&until=${t(180)}&bucket=hour`, { jar });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toEqual({
      since: t(0),
      until: t(180),
      bucket: 'hour',
      buckets: [
        {
          start: t(0),
          succeeded: 4,
          failed: 1,
          retried: 1,
          failure_rate: 0.2,
          runtime_ms: { p50: 30, p95: expect.closeTo(88, 9), avg: 40 },
        },
        { start: t(60), succeeded: 0, failed: 0, retried: 0, failure_rate: null, runtime_ms: { p50: null, p95: null, avg: null } },
        { start: t(120), succeeded: 1, failed: 0, retried: 1, failure_rate: 0, runtime_ms: { p50: 5, p95: 5, avg: 5 } },
      ],
    });
    // A window that starts mid-bucket starts with that whole bucket; rows before `since` stay out.
    const shifted = await harness.request('GET', `/api/v1/projects/alpha/trends?since=${t(30)}&until=${t(61)}`, { jar });
    expect(shifted.body.bucket).toBe('hour');
    expect(shifted.body.buckets.map((bucket: { start: string; succeeded: number }) => [bucket.start, bucket.succeeded])).toEqual([
      [t(0), 1],
      [t(60), 0],
    ]);
    const minutes = await harness.request('GET', `/api/v1/projects/alpha/trends?since=${t(0)}&until=${t(60)}&bucket=minute`, { jar });
    expect(minutes.body.buckets).toHaveLength(60);
    expect(minutes.body.buckets[5]).toMatchObject({ start: t(5), succeeded: 1 });
    const days = await harness.request('GET', `/api/v1/projects/alpha/trends?since=${t(-60)}&until=${t(24 * 60)}&bucket=day`, { jar });
    expect(days.body.buckets.map((bucket: { start: string; failed: number }) => [bucket.start, bucket.failed])).toEqual([
      [t(-24 * 60), 1],
      [t(0), 1],
    ]);

    // At most 1000 buckets.
    const exactly = await harness.request('GET', `/api/v1/projects/alpha/trends?since=${t(0)}&until=${t(1000)}&bucket=minute`, { jar });
    expect(exactly.body.buckets).toHaveLength(1000);
    const tooMany = await harness.request('GET', `/api/v1/projects/alpha/trends?since=${t(0)}&until=${t(1001)}&bucket=minute`, { jar });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.details.errors[0]).toEqual({ field: 'query.bucket', message: expect.stringContaining('1001 minute buckets') });
    const years = await harness.request(
      'GET',
      `/api/v1/projects/alpha/trends?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z&bucket=day`,
      {
        jar,
      },
    );
    expect(years.status).toBe(422);
    expect((await harness.request('GET', '/api/v1/projects/alpha/trends?bucket=week', { jar })).status).toBe(422);
  });
});
