import { CommandError, type CommandTarget } from '@z4j/agent';
import { isJsonObject, purgeConfirmToken, type JsonObject } from '@z4j/protocol';
import { affectedOf, text, throwIfAborted, type CommandContext } from './command-context.js';
import { parseTaskId, taskIdOf } from './task-id.js';

/*
 * pg-boss has no API to page through a queue's jobs, nor a bounded purge (`purgeQueue` is one DELETE of the whole
 * queue), so these read and delete through pg-boss's own connection (`boss.getDb().executeSql`) with plain SQL on its
 * `job` table (schema v10: partitioned by `name`, `state` an enum ordered created < retry < active < completed <
 * cancelled < failed). State changes still go through pg-boss's API (`retry`) wherever it has one.
 */

interface DbJobId {
  readonly id: string;
  readonly name: string;
}

async function query<T>(context: CommandContext, sql: string, values: unknown[]): Promise<T[]> {
  const result = await context.boss.getDb().executeSql(sql, values);
  return (result?.rows ?? []) as T[];
}

/**
 * The database's clock as text: a cutoff compared with pg-boss's timestamps in the database, at full (microsecond)
 * precision, which a JS Date would round to milliseconds.
 */
async function databaseNow(context: CommandContext): Promise<string> {
  const [row] = await query<{ at: string }>(context, 'SELECT now()::text AS at', []);
  if (!row) throw new Error('pg-boss database did not answer (is the boss started?)');
  return row.at;
}

/**
 * Jobs waiting per managed queue: pg-boss's `getQueueSize` (state before `active`: created and retry, deferred ones
 * included) for every queue in one statement; 0 for queues without jobs.
 *
 * @example
 * await queueDepths(context); // { mail: 12, reports: 0 }
 */
export async function queueDepths(context: CommandContext): Promise<Record<string, number>> {
  const queues = await context.queues();
  const depths: Record<string, number> = Object.fromEntries(queues.map((queue) => [queue, 0]));
  if (queues.length === 0) return depths;
  const rows = await query<{ name: string; depth: string }>(
    context,
    `SELECT name, count(*) AS depth FROM ${context.schema}.job WHERE name = ANY($1::text[]) AND state < 'active' GROUP BY name`,
    [queues],
  );
  for (const row of rows) depths[row.name] = Number(row.depth);
  return depths;
}

/** The queue a queue-scoped command names: `parameters.queue`, else the target's id (target type `queue`). */
function targetQueue(context: CommandContext, target: CommandTarget, parameters: JsonObject): Promise<string> {
  return context.queue(text(parameters.queue) ?? (target.type === 'queue' ? text(target.id) : undefined));
}

/**
 * `purge_queue` `{queue, confirm_token, force}`: deletes the queue's waiting jobs, the same set as pg-boss's
 * `purgeQueue` and `getQueueSize` (created and retry, deferred ones included; active and finished jobs stay). Unless
 * `force`, the confirm token must equal `purgeConfirmToken(queue, depth)` for the depth measured now with
 * `getQueueSize`, so a queue that changed since the operator confirmed is not purged. Deletes `chunkSize` jobs per
 * statement, only jobs created before the purge started (producers adding jobs meanwhile cannot keep it running),
 * skipping rows a worker is fetching right now, and emits `task.revoked` for each deleted job.
 *
 * @example
 * await purgeQueue(context, target, { queue: 'mail', confirm_token: await purgeConfirmToken('mail', 12) }, signal);
 * // { queue: 'mail', depth: 12, purged: 12 }
 */
export async function purgeQueue(
  context: CommandContext,
  target: CommandTarget,
  parameters: JsonObject,
  signal: AbortSignal,
): Promise<JsonObject> {
  const queue = await targetQueue(context, target, parameters);
  const depth = await context.boss.getQueueSize(queue);
  if (parameters.force !== true) {
    const token = text(parameters.confirm_token);
    if (token === undefined) throw new CommandError('confirm_required', `purging ${queue} (depth ${depth}) needs a confirm_token or force`);
    if (token !== (await purgeConfirmToken(queue, depth))) {
      throw new CommandError(
        'confirm_mismatch',
        `the confirm token does not match ${queue} at its current depth ${depth}; look again and confirm`,
      );
    }
  }
  const cutoff = await databaseNow(context);
  let purged = 0;
  for (;;) {
    throwIfAborted(signal);
    const rows = await query<DbJobId>(
      context,
      `WITH doomed AS (
         SELECT id FROM ${context.schema}.job
         WHERE name = $1 AND state < 'active' AND created_on <= $2::timestamptz
         ORDER BY created_on, id
         LIMIT $3
         FOR UPDATE SKIP LOCKED
       )
       DELETE FROM ${context.schema}.job j USING doomed
       WHERE j.name = $1 AND j.id = doomed.id AND j.state < 'active'
       RETURNING j.id, j.name`,
      [queue, cutoff, context.chunkSize],
    );
    purged += rows.length;
    for (const row of rows) {
      context.sink?.emit('task.revoked', {
        taskId: taskIdOf(queue, row.id),
        data: { task_name: queue, queue, terminated: false, signum: null, expired: false, reason: 'purged' },
      });
    }
    if (rows.length < context.chunkSize) break;
  }
  return { queue, depth, purged };
}

/** bulk_retry filter keys: ours, plus the ones the brain fills in (task_names, task_priorities) and `engine`. */
const FILTER_KEYS: ReadonlySet<string> = new Set(['task_ids', 'queue', 'task_name', 'state', 'engine', 'task_names', 'task_priorities']);

/**
 * `bulk_retry` `{filter, max}`: `boss.retry` on failed jobs, at most `max` (the agent caps it at 10 000), `chunkSize`
 * per call. The filter is either `task_ids` (task ids of this engine) or `queue` and/or `task_name` (the same thing in
 * pg-boss; every failed job of it, oldest failure first, only those failed before the command started, so a job
 * failing again meanwhile is not retried twice); without either, every managed queue. `state` may only be `failure`.
 * Any other key is refused rather than ignored, so a filter this adapter does not understand never retries more than
 * was meant.
 *
 * @example
 * await bulkRetry(context, { filter: { queue: 'mail' }, max: 100 }, signal); // { retried: 14, skipped: 0 }
 */
export async function bulkRetry(context: CommandContext, parameters: JsonObject, signal: AbortSignal): Promise<JsonObject> {
  const filter = isJsonObject(parameters.filter) ? parameters.filter : {};
  const unknown = Object.keys(filter).filter((key) => !FILTER_KEYS.has(key));
  if (unknown.length > 0) throw new CommandError('unsupported_filter', `bulk_retry does not understand filter keys: ${unknown.join(', ')}`);
  if (filter.state !== undefined && filter.state !== 'failure' && filter.state !== 'failed') {
    throw new CommandError('unsupported_filter', 'bulk_retry retries failed jobs only (state: failure)');
  }
  const max = typeof parameters.max === 'number' ? Math.max(0, Math.trunc(parameters.max)) : 1000;
  const tally = { retried: 0, skipped: 0 };
  if (Array.isArray(filter.task_ids)) {
    const byQueue = new Map<string, string[]>();
    for (const taskId of filter.task_ids.filter((id): id is string => typeof id === 'string').slice(0, max)) {
      const { queue, jobId } = parseTaskId(taskId);
      byQueue.set(queue, [...(byQueue.get(queue) ?? []), jobId]);
    }
    for (const [named, ids] of byQueue) {
      const queue = await context.queue(named);
      for (let start = 0; start < ids.length; start += context.chunkSize) {
        throwIfAborted(signal);
        const chunk = ids.slice(start, start + context.chunkSize);
        const retried = affectedOf(await context.boss.retry(queue, chunk)) ?? 0;
        tally.retried += retried;
        tally.skipped += chunk.length - retried;
      }
    }
    return tally;
  }
  const name = text(filter.queue) ?? text(filter.task_name);
  if (text(filter.queue) !== undefined && text(filter.task_name) !== undefined && filter.queue !== filter.task_name) {
    throw new CommandError('unsupported_filter', "in pg-boss a job's name is its queue; queue and task_name differ");
  }
  const queues = name === undefined ? await context.queues() : [await context.queue(name)];
  const cutoff = await databaseNow(context);
  const seen = new Set<string>();
  while (tally.retried < max) {
    throwIfAborted(signal);
    const page = await query<DbJobId>(
      context,
      `SELECT id, name FROM ${context.schema}.job
       WHERE name = ANY($1::text[]) AND state = 'failed' AND completed_on <= $2::timestamptz
       ORDER BY completed_on, id
       LIMIT $3`,
      [queues, cutoff, Math.min(context.chunkSize, max - tally.retried)],
    );
    const fresh = page.filter((row) => !seen.has(taskIdOf(row.name, row.id)));
    if (fresh.length === 0) break;
    const byQueue = new Map<string, string[]>();
    for (const row of fresh) {
      seen.add(taskIdOf(row.name, row.id));
      byQueue.set(row.name, [...(byQueue.get(row.name) ?? []), row.id]);
    }
    for (const [queue, ids] of byQueue) {
      const retried = affectedOf(await context.boss.retry(queue, ids)) ?? 0;
      tally.retried += retried;
      tally.skipped += ids.length - retried;
    }
  }
  return tally;
}
