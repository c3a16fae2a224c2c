import { sql, type Kysely, type SqlBool } from 'kysely';
import * as v from 'valibot';
import type { Database } from '@z4j/db';
import { timestampText } from '../audit/timestamp-cursor.js';
import { timestampInput } from '../audit/timestamp-input.js';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';
import { decodeTextCursor, pageOf, paginationQuery } from '../http/pagination.js';
import { isUuid } from '../http/uuid.js';

const WORKER_STATES = ['online', 'offline', 'draining', 'unknown'] as const;

/** What a worker did, from the task projection (`tasks.worker_name`), over the tasks created since a point in time. */
export interface WorkerCounts {
  /** Tasks the worker took, whatever their state now. */
  readonly processed: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Tasks retried at least once (a retry_count above 0, or waiting in `retry`). */
  readonly retried: number;
}

const NO_COUNTS: WorkerCounts = { processed: 0, succeeded: 0, failed: 0, retried: 0 };

function selectWorkers(db: Kysely<Database>, projectId: string) {
  return db
    .selectFrom('workers')
    .select([
      'workers.id',
      'workers.engine',
      'workers.name',
      'workers.hostname',
      'workers.pid',
      'workers.concurrency',
      'workers.queues',
      'workers.state',
      timestampText('workers.last_heartbeat').as('last_heartbeat'),
      'workers.load_average',
      sql<number | null>`${sql.ref('workers.memory_bytes')}::float8`.as('memory_bytes'),
      'workers.active_tasks',
      timestampText('workers.created_at').as('created_at'),
      timestampText('workers.updated_at').as('updated_at'),
    ])
    .where('workers.project_id', '=', projectId);
}

/**
 * Task counts of a page of workers in ONE grouped query (not one per worker),
 * over the tasks created since `since`: the `(project_id, worker_name,
 * created_at desc, ...)` index gives one range per worker, so the cost follows
 * the window, not the lifetime of the project. Keyed by engine + name: two
 * engines may each have a worker of the same name.
 */
export async function countWorkerTasks(
  db: Kysely<Database>,
  projectId: string,
  workers: readonly { readonly engine: string; readonly name: string }[],
  since: Date,
): Promise<Map<string, WorkerCounts>> {
  const counts = new Map<string, WorkerCounts>();
  if (workers.length === 0) return counts;
  const names = [...new Set(workers.map((worker) => worker.name))];
  const rows = await db
    .selectFrom('tasks')
    .select([
      'tasks.engine',
      'tasks.worker_name',
      sql<number>`count(*)::int`.as('processed'),
      sql<number>`(count(*) filter (where ${sql.ref('tasks.state')} = 'success'))::int`.as('succeeded'),
      sql<number>`(count(*) filter (where ${sql.ref('tasks.state')} = 'failure'))::int`.as('failed'),
      sql<number>`(count(*) filter (where ${sql.ref('tasks.retry_count')} > 0 or ${sql.ref('tasks.state')} = 'retry'))::int`.as('retried'),
    ])
    .where('tasks.project_id', '=', projectId)
    .where('tasks.worker_name', '=', sql<string>`any(${names}::text[])`)
    .where('tasks.created_at', '>=', since)
    .groupBy(['tasks.engine', 'tasks.worker_name'])
    .execute();
  for (const row of rows) {
    const { processed, succeeded, failed, retried } = row;
    counts.set(workerKey(row.engine, row.worker_name ?? ''), { processed, succeeded, failed, retried });
  }
  return counts;
}

function workerKey(engine: string, name: string): string {
  return `${engine}\u0000${name}`;
}

/** `?since=` of the worker counts: default the 24 h before now. */
const countsSince = { since: v.optional(timestampInput()) };

function countsWindow(since: Date | undefined, now: Date): Date {
  return since ?? new Date(now.getTime() - 86_400_000);
}

function csvStates() {
  return v.pipe(
    v.string(),
    v.transform((text) => text.split(',').map((item) => item.trim())),
    v.check(
      (items) => items.every((item) => (WORKER_STATES as readonly string[]).includes(item)),
      `expected a comma-separated list of: ${WORKER_STATES.join(', ')}`,
    ),
    v.transform((items) => items as (typeof WORKER_STATES)[number][]),
  );
}

/**
 * The fleet as the engines report it (§5.2): engine-native workers with what
 * they processed, and queues with their depth. Both tables are filled by
 * ingest: workers from task events and `<engine>.worker_details` heartbeats,
 * queues from events and `<engine>.queue_depths` heartbeats (§1.10).
 */
export function createFleetRoutes(deps: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/workers',
      tag: 'workers',
      summary:
        'Workers by name, each with processed / succeeded / failed / retried counts of the tasks created since `since` (default 24 h ago) (filters: state, engine)',
      access: { kind: 'project', role: 'viewer' },
      query: v.object({
        ...paginationQuery(deps.settings).entries,
        ...countsSince,
        state: v.optional(csvStates()),
        engine: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(40))),
      }),
      handler: async ({ c, query, project }) => {
        let select = selectWorkers(deps.db, project.id);
        if (query.state !== undefined) select = select.where('workers.state', 'in', query.state);
        if (query.engine !== undefined) select = select.where('workers.engine', '=', query.engine);
        const after = decodeTextCursor(query.cursor);
        if (after !== undefined) {
          select = select.where(sql<SqlBool>`(${sql.ref('workers.name')}, ${sql.ref('workers.id')}) > (${after[0]}, ${after[1]}::uuid)`);
        }
        const rows = await select
          .orderBy('workers.name')
          .orderBy('workers.id')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => [row.name, row.id]);
        const since = countsWindow(query.since, deps.now());
        const counts = await countWorkerTasks(deps.db, project.id, page.items, since);
        return c.json({
          counts_since: since.toISOString(),
          items: page.items.map((row) => ({ ...row, ...(counts.get(workerKey(row.engine, row.name)) ?? NO_COUNTS) })),
          next_cursor: page.next_cursor,
        });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/workers/:workerId',
      tag: 'workers',
      summary:
        'One worker with its task counts (since `since`, default 24 h ago) and the metadata its engine reported (stats, active, queues, registered, conf)',
      access: { kind: 'project', role: 'viewer' },
      query: v.object(countsSince),
      handler: async ({ c, params, query, project }) => {
        const workerId = params.workerId ?? '';
        if (!isUuid(workerId)) throw apiError.notFound('worker');
        const row = await selectWorkers(deps.db, project.id)
          .select('workers.metadata')
          .where('workers.id', '=', workerId)
          .executeTakeFirst();
        if (!row) throw apiError.notFound('worker');
        const since = countsWindow(query.since, deps.now());
        const counts = await countWorkerTasks(deps.db, project.id, [row], since);
        return c.json({ ...row, counts_since: since.toISOString(), ...(counts.get(workerKey(row.engine, row.name)) ?? NO_COUNTS) });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/queues',
      tag: 'queues',
      summary: 'Queues by name: depth (pending tasks, from agent heartbeats), consumers and when last seen (filter: engine)',
      access: { kind: 'project', role: 'viewer' },
      query: v.object({
        ...paginationQuery(deps.settings).entries,
        engine: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(40))),
      }),
      handler: async ({ c, query, project }) => {
        let select = deps.db
          .selectFrom('queues')
          .select([
            'queues.id',
            'queues.engine',
            'queues.name',
            'queues.broker_type',
            'queues.broker_url_hint',
            'queues.pending_count as depth',
            'queues.consumer_count',
            timestampText('queues.last_seen_at').as('last_seen_at'),
            'queues.metadata',
            timestampText('queues.created_at').as('created_at'),
            timestampText('queues.updated_at').as('updated_at'),
          ])
          .where('queues.project_id', '=', project.id);
        if (query.engine !== undefined) select = select.where('queues.engine', '=', query.engine);
        const after = decodeTextCursor(query.cursor);
        if (after !== undefined) {
          select = select.where(sql<SqlBool>`(${sql.ref('queues.name')}, ${sql.ref('queues.id')}) > (${after[0]}, ${after[1]}::uuid)`);
        }
        const rows = await select
          .orderBy('queues.name')
          .orderBy('queues.id')
          .limit(query.limit + 1)
          .execute();
        return c.json(pageOf(rows, query.limit, (row) => [row.name, row.id]));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/queues/depths',
      tag: 'queues',
      summary: "Each queue's depth per minute over the last `minutes` (1–1440, default 60), from agent heartbeats",
      access: { kind: 'project', role: 'viewer' },
      query: v.object({
        minutes: v.optional(v.pipe(v.string(), v.toNumber(), v.integer('expected whole minutes'), v.minValue(1), v.maxValue(1440)), '60'),
        engine: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(40))),
      }),
      handler: async ({ c, query, project }) => {
        const until = deps.now();
        const since = new Date(Math.floor(until.getTime() / 60_000) * 60_000 - (Number(query.minutes) - 1) * 60_000);
        let select = deps.db
          .selectFrom('queue_depth_samples')
          .select(['engine', 'queue', timestampText('queue_depth_samples.minute').as('minute'), 'depth'])
          .where('project_id', '=', project.id)
          .where('minute', '>=', since);
        if (query.engine !== undefined) select = select.where('engine', '=', query.engine);
        const rows = await select.orderBy('engine').orderBy('queue').orderBy('minute').execute();
        const series = new Map<string, { engine: string; queue: string; points: { minute: string; depth: number }[] }>();
        for (const row of rows) {
          const key = `${row.engine}\u0000${row.queue}`;
          let entry = series.get(key);
          if (!entry) series.set(key, (entry = { engine: row.engine, queue: row.queue, points: [] }));
          entry.points.push({ minute: row.minute, depth: row.depth });
        }
        return c.json({ since: since.toISOString(), until: until.toISOString(), items: [...series.values()] });
      },
    }),
  ];
}
