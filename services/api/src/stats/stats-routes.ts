import { sql, type Kysely } from 'kysely';
import * as v from 'valibot';
import type { Database } from '@z4j/db';
import { timestampInput } from '../audit/timestamp-input.js';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';
import { TASK_STATES, type TaskState } from '../tasks/task-fields.js';

const DAY_MS = 86_400_000;

/** Trend bucket widths. Buckets are aligned to UTC (a day bucket is a UTC day), like the events partitions. */
export const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: DAY_MS } as const;
export type BucketSize = keyof typeof BUCKET_MS;
const BUCKET_INTERVAL: Readonly<Record<BucketSize, string>> = { minute: '1 minute', hour: '1 hour', day: '1 day' };

/** The most buckets one trends answer holds. */
export const MAX_TREND_BUCKETS = 1000;

export interface TimeWindow {
  readonly since: Date;
  readonly until: Date;
}

/** `since` (inclusive) and `until` (exclusive): until defaults to now, since to 24 h before until. */
export function resolveWindow(query: { since?: Date | undefined; until?: Date | undefined }, now: Date): TimeWindow {
  const until = query.until ?? now;
  const since = query.since ?? new Date(until.getTime() - DAY_MS);
  if (since.getTime() >= until.getTime()) throw apiError.validation([{ field: 'query.since', message: 'must be before until' }]);
  return { since, until };
}

export interface RuntimeSummary {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly avg: number | null;
}

/** The runtime percentiles of finished tasks (ordered-set aggregates skip the nulls of tasks without a runtime). */
const runtimeColumns = [
  sql<number | null>`percentile_cont(0.5) within group (order by ${sql.ref('tasks.runtime_ms')})`.as('p50'),
  sql<number | null>`percentile_cont(0.95) within group (order by ${sql.ref('tasks.runtime_ms')})`.as('p95'),
  sql<number | null>`avg(${sql.ref('tasks.runtime_ms')})::float8`.as('avg'),
] as const;

const finishedColumns = [
  sql<number>`(count(*) filter (where ${sql.ref('tasks.state')} = 'success'))::int`.as('succeeded'),
  sql<number>`(count(*) filter (where ${sql.ref('tasks.state')} = 'failure'))::int`.as('failed'),
  sql<number>`(count(*) filter (where ${sql.ref('tasks.state')} = 'revoked'))::int`.as('revoked'),
  // Finished after at least one retry.
  sql<number>`(count(*) filter (where ${sql.ref('tasks.retry_count')} > 0))::int`.as('retried'),
  ...runtimeColumns,
] as const;

/** failed / (succeeded + failed), or null when nothing finished either way. */
function failureRate(succeeded: number, failed: number): number | null {
  return succeeded + failed === 0 ? null : failed / (succeeded + failed);
}

/**
 * Aggregates of one project's tasks in a window: how many tasks were created
 * by their current state (the `(project_id, created_at)` index), and of the
 * tasks that finished in the window (the partial `(project_id, finished_at)`
 * index) the outcomes, failure rate and runtime percentiles.
 */
export async function projectStats(db: Kysely<Database>, projectId: string, window: TimeWindow) {
  const byState = await db
    .selectFrom('tasks')
    .select(['tasks.state', sql<number>`count(*)::int`.as('count')])
    .where('tasks.project_id', '=', projectId)
    .where('tasks.created_at', '>=', window.since)
    .where('tasks.created_at', '<', window.until)
    .groupBy('tasks.state')
    .execute();
  const counts = Object.fromEntries(TASK_STATES.map((state) => [state, 0])) as Record<TaskState, number>;
  for (const row of byState) counts[row.state] = row.count;
  const finished = await db
    .selectFrom('tasks')
    .select([...finishedColumns])
    .where('tasks.project_id', '=', projectId)
    .where('tasks.finished_at', '>=', window.since)
    .where('tasks.finished_at', '<', window.until)
    .executeTakeFirstOrThrow();
  return {
    since: window.since.toISOString(),
    until: window.until.toISOString(),
    created: { total: Object.values(counts).reduce((sum, count) => sum + count, 0), by_state: counts },
    finished: {
      succeeded: finished.succeeded,
      failed: finished.failed,
      revoked: finished.revoked,
      retried: finished.retried,
      failure_rate: failureRate(finished.succeeded, finished.failed),
      runtime_ms: { p50: finished.p50, p95: finished.p95, avg: finished.avg },
    },
  };
}

export interface TrendBucket {
  readonly start: string;
  readonly succeeded: number;
  readonly failed: number;
  readonly retried: number;
  readonly failure_rate: number | null;
  readonly runtime_ms: RuntimeSummary;
}

/**
 * Outcomes per time bucket of the tasks that finished in the window, by
 * `date_bin` over `finished_at` (UTC-aligned buckets, every bucket present,
 * empty ones as zeros). A window that needs more than {@link MAX_TREND_BUCKETS}
 * buckets is a 422: ask for a wider bucket or a shorter window.
 */
export async function projectTrends(db: Kysely<Database>, projectId: string, window: TimeWindow, bucket: BucketSize) {
  const width = BUCKET_MS[bucket];
  const first = Math.floor(window.since.getTime() / width) * width;
  const count = Math.ceil((window.until.getTime() - first) / width);
  if (count > MAX_TREND_BUCKETS) {
    throw apiError.validation([
      {
        field: 'query.bucket',
        message: `since..until spans ${count} ${bucket} buckets, more than ${MAX_TREND_BUCKETS}: use a wider bucket or a shorter window`,
      },
    ]);
  }
  // Origin 2000-01-01T00:00Z is a whole number of days after the Unix epoch, so the bins match `first` above.
  const binned = sql<Date>`date_bin(${BUCKET_INTERVAL[bucket]}::interval, ${sql.ref('tasks.finished_at')}, timestamptz '2000-01-01 00:00:00+00')`;
  const rows = await db
    .selectFrom('tasks')
    .select([binned.as('bucket'), ...finishedColumns])
    .where('tasks.project_id', '=', projectId)
    .where('tasks.finished_at', '>=', window.since)
    .where('tasks.finished_at', '<', window.until)
    .groupBy(sql`1`)
    .execute();
  const byStart = new Map(rows.map((row) => [new Date(row.bucket).getTime(), row]));
  const buckets: TrendBucket[] = [];
  for (let index = 0; index < count; index += 1) {
    const start = first + index * width;
    const row = byStart.get(start);
    buckets.push({
      start: new Date(start).toISOString(),
      succeeded: row?.succeeded ?? 0,
      failed: row?.failed ?? 0,
      retried: row?.retried ?? 0,
      failure_rate: row ? failureRate(row.succeeded, row.failed) : null,
      runtime_ms: { p50: row?.p50 ?? null, p95: row?.p95 ?? null, avg: row?.avg ?? null },
    });
  }
  return { since: window.since.toISOString(), until: window.until.toISOString(), bucket, buckets };
}

const windowEntries = {
  since: v.optional(timestampInput()),
  until: v.optional(timestampInput()),
};

/** Project aggregates for the overview cards and the trends charts (§5.2). */
export function createStatsRoutes(deps: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/stats',
      tag: 'stats',
      summary:
        'Task counts by state (created in since..until, default the last 24 h), and the outcomes, failure rate and runtime p50/p95 of tasks finished then',
      access: { kind: 'project', role: 'viewer' },
      query: v.object(windowEntries),
      handler: async ({ c, query, project }) => c.json(await projectStats(deps.db, project.id, resolveWindow(query, deps.now()))),
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/trends',
      tag: 'stats',
      summary:
        'Per bucket (minute, hour or day; at most 1000 buckets) of since..until: succeeded, failed and retried tasks finished in it, failure rate and runtime p50/p95',
      access: { kind: 'project', role: 'viewer' },
      query: v.object({
        ...windowEntries,
        bucket: v.optional(v.picklist(Object.keys(BUCKET_MS) as BucketSize[], 'expected minute, hour or day'), 'hour'),
      }),
      handler: async ({ c, query, project }) =>
        c.json(await projectTrends(deps.db, project.id, resolveWindow(query, deps.now()), query.bucket)),
    }),
  ];
}
