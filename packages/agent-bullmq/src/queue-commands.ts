import { CommandError, type CommandTarget } from '@z4j/agent';
import { isJsonObject, purgeConfirmToken, type JsonObject } from '@z4j/protocol';
import { Job, type Queue } from 'bullmq';
import { queueNamed, text, throwIfAborted, type CommandContext } from './command-context.js';
import { parseTaskId, taskIdOf } from './task-id.js';

/**
 * A queue's depth as the heartbeat reports it and as `purge_queue` measures it for the confirm token: the jobs ready
 * to run (waiting, paused, prioritized). These are the jobs a purge removes. Delayed jobs are not counted nor purged:
 * they are future runs (an eta, a retry's backoff, a job scheduler's next run, and removing that one would end the
 * schedule), like Celery's purge, which leaves tasks with an ETA alone.
 */
const PENDING_TYPES = ['wait', 'paused', 'prioritized'] as const;

/**
 * Jobs in the queue ready to run (see PENDING_TYPES).
 *
 * @example
 * await pendingCount(queue); // 12
 */
export async function pendingCount(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts(...PENDING_TYPES);
  return PENDING_TYPES.reduce((sum, type) => sum + (counts[type] ?? 0), 0);
}

/** The queue a queue-scoped command names: `parameters.queue`, else the target's id (target type `queue`). */
function targetQueue(context: CommandContext, target: CommandTarget, parameters: JsonObject): Queue {
  return queueNamed(context, text(parameters.queue) ?? (target.type === 'queue' ? text(target.id) : undefined));
}

/**
 * `purge_queue` `{queue, confirm_token, force}`: removes every job of the queue ready to run (§3.1). Unless
 * `force`, the confirm token must equal `purgeConfirmToken(queue, depth)` for the depth measured now, so a queue that
 * changed since the operator confirmed is not purged. Jobs are removed `chunkSize` at a time with
 * `queue.clean`, only those created before the purge started (so producers adding jobs meanwhile cannot keep it
 * running), and a `task.revoked` is emitted for each (the stream only says how many were cleaned).
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
  const queue = targetQueue(context, target, parameters);
  const depth = await pendingCount(queue);
  if (parameters.force !== true) {
    const token = text(parameters.confirm_token);
    if (token === undefined)
      throw new CommandError('confirm_required', `purging ${queue.name} (depth ${depth}) needs a confirm_token or force`);
    if (token !== (await purgeConfirmToken(queue.name, depth))) {
      throw new CommandError(
        'confirm_mismatch',
        `the confirm token does not match ${queue.name} at its current depth ${depth}; look again and confirm`,
      );
    }
  }
  const startedAt = Date.now();
  let purged = 0;
  for (const type of PENDING_TYPES) {
    for (;;) {
      throwIfAborted(signal);
      const ids = await queue.clean(Math.max(0, Date.now() - startedAt), context.chunkSize, type);
      purged += ids.length;
      for (const id of ids) {
        context.sink?.emit('task.revoked', {
          taskId: taskIdOf(queue.name, id),
          data: { queue: queue.name, terminated: false, signum: null, expired: false, reason: 'purged' },
        });
      }
      if (ids.length < context.chunkSize) break;
    }
  }
  return { queue: queue.name, depth, purged };
}

/** `pause_queue` / `resume_queue` `{queue}`: BullMQ's global pause (every worker of the queue stops taking jobs). */
export async function setQueuePaused(
  context: CommandContext,
  target: CommandTarget,
  parameters: JsonObject,
  paused: boolean,
): Promise<JsonObject> {
  const queue = targetQueue(context, target, parameters);
  if (paused) await queue.pause();
  else await queue.resume();
  return { queue: queue.name, paused: await queue.isPaused() };
}

/** bulk_retry filter keys: ours, plus the ones the brain fills in (task_names, task_priorities) and `engine`. */
const FILTER_KEYS: ReadonlySet<string> = new Set(['task_ids', 'queue', 'task_name', 'state', 'engine', 'task_names', 'task_priorities']);

interface RetryTally {
  retried: number;
  skipped: number;
  readonly seen: Set<string>;
}

/**
 * `bulk_retry` `{filter, max}`: `job.retry()` on failed jobs, at most `max` (the agent caps it at 10 000), `chunkSize`
 * at a time. The filter is either `task_ids` (task ids of this engine) or `queue` and/or `task_name` (every failed
 * job of those, oldest failure first); `state` may only be `failure`. Any other key is refused rather than ignored,
 * so a filter this adapter does not understand never retries more than was meant.
 *
 * @example
 * await bulkRetry(context, { filter: { queue: 'mail', task_name: 'send' }, max: 100 }, signal); // { retried: 14, skipped: 0 }
 */
export async function bulkRetry(context: CommandContext, parameters: JsonObject, signal: AbortSignal): Promise<JsonObject> {
  const filter = isJsonObject(parameters.filter) ? parameters.filter : {};
  const unknown = Object.keys(filter).filter((key) => !FILTER_KEYS.has(key));
  if (unknown.length > 0) throw new CommandError('unsupported_filter', `bulk_retry does not understand filter keys: ${unknown.join(', ')}`);
  if (filter.state !== undefined && filter.state !== 'failure' && filter.state !== 'failed') {
    throw new CommandError('unsupported_filter', 'bulk_retry retries failed jobs only (state: failure)');
  }
  const max = typeof parameters.max === 'number' ? parameters.max : 1000;
  const tally: RetryTally = { retried: 0, skipped: 0, seen: new Set() };
  if (Array.isArray(filter.task_ids)) {
    const ids = filter.task_ids.filter((id): id is string => typeof id === 'string').slice(0, max);
    for (let start = 0; start < ids.length; start += context.chunkSize) {
      throwIfAborted(signal);
      await retryChunk(context, ids.slice(start, start + context.chunkSize), tally);
    }
  } else {
    const name = text(filter.task_name);
    const queues = filter.queue === undefined ? [...context.queues.values()] : [queueNamed(context, text(filter.queue))];
    for (const queue of queues) await retryFailed(context, queue, name, max, tally, signal);
  }
  return { retried: tally.retried, skipped: tally.skipped };
}

/** Retries the failed jobs among these task ids; others (unknown, not failed) are skipped. */
async function retryChunk(context: CommandContext, taskIds: readonly string[], tally: RetryTally): Promise<void> {
  const outcomes = await Promise.allSettled(
    taskIds.map(async (taskId) => {
      const { queue, jobId } = parseTaskId(taskId);
      const job = await Job.fromId(queueNamed(context, queue), jobId);
      if (!job || (await job.getState()) !== 'failed') return false;
      await job.retry('failed');
      return true;
    }),
  );
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled' && outcome.value) tally.retried += 1;
    else tally.skipped += 1;
  }
}

/**
 * Pages through the failed set oldest first. Retried jobs leave the set, so the next page starts after the jobs kept
 * (skipped) so far; a job seen once is never retried twice in one command, even if it fails again meanwhile.
 */
async function retryFailed(
  context: CommandContext,
  queue: Queue,
  name: string | undefined,
  max: number,
  tally: RetryTally,
  signal: AbortSignal,
): Promise<void> {
  let offset = 0;
  while (tally.retried < max) {
    throwIfAborted(signal);
    const page = await queue.getJobs(['failed'], offset, offset + context.chunkSize - 1, true);
    if (page.length === 0) return;
    const chosen: Job[] = [];
    for (const job of page) {
      const key = taskIdOf(queue.name, job.id ?? '');
      const wanted = job.id !== undefined && !tally.seen.has(key) && (name === undefined || job.name === name);
      if (wanted && tally.retried + chosen.length < max) {
        tally.seen.add(key);
        chosen.push(job);
      } else {
        offset += 1;
      }
    }
    const outcomes = await Promise.allSettled(chosen.map((job) => job.retry('failed')));
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') tally.retried += 1;
      else {
        tally.skipped += 1;
        offset += 1;
      }
    }
    if (page.length < context.chunkSize) return;
  }
}
