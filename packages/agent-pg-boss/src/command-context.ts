import { CommandError, type EventSink } from '@z4j/agent';
import type { JsonValue } from '@z4j/protocol';
import type PgBoss from 'pg-boss';
import type { RunningJobs } from './running-jobs.js';
import { taskIdOf } from './task-id.js';

/**
 * What the command handlers share: the boss, its schema (for the few reads pg-boss has no API for: paging through a
 * queue's jobs), which queues the adapter manages, the jobs running in this process, and the sink.
 *
 * @example
 * const queue = await context.queue('mail');
 */
export interface CommandContext {
  readonly boss: PgBoss;
  /** pg-boss's schema as a quoted SQL identifier, e.g. `"pgboss"`. */
  readonly schema: string;
  readonly running: RunningJobs;
  readonly sink: EventSink | undefined;
  /** The `worker` of events this process reports. */
  readonly worker: string;
  /** Most jobs a bulk command touches per statement. */
  readonly chunkSize: number;
  /** How long cancel_task waits for an active job's handler to stop. */
  readonly cancelWaitMs: number;
  /**
   * The managed queue of that name, or the only managed queue when no name is given.
   *
   * @throws {CommandError} `unknown_queue` / `queue_required`.
   */
  queue(name: string | undefined): Promise<string>;
  /** Every managed queue. */
  queues(): Promise<string[]>;
}

/** pg-boss's own queues (the cron timekeeper's `__pgboss__send-it`) are never reported nor commanded. */
export const INTERNAL_QUEUE_PREFIX = '__pgboss__';

/**
 * Resolves queue names against an explicit list, or, without one, against the queues pg-boss has (`getQueues`), so
 * queues created later are picked up.
 *
 * @example
 * const resolve = queueResolver(boss, undefined);
 * await resolve.queue('mail'); // 'mail', or CommandError unknown_queue
 */
export function queueResolver(boss: PgBoss, configured: readonly string[] | undefined): Pick<CommandContext, 'queue' | 'queues'> {
  const queues = async (): Promise<string[]> =>
    configured
      ? [...configured]
      : (await boss.getQueues()).map((queue) => queue.name).filter((name) => !name.startsWith(INTERNAL_QUEUE_PREFIX));
  return {
    queues,
    async queue(name) {
      if (name === undefined) {
        const all = await queues();
        if (all.length === 1 && all[0] !== undefined) return all[0];
        throw new CommandError('queue_required', `name one of the queues: ${all.join(', ')}`);
      }
      const known = configured
        ? configured.includes(name)
        : !name.startsWith(INTERNAL_QUEUE_PREFIX) && (await boss.getQueue(name)) !== null;
      if (!known) throw new CommandError('unknown_queue', `this agent does not manage a queue named ${JSON.stringify(name)}`);
      return name;
    },
  };
}

/** A non-empty string parameter, else undefined. */
export function text(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Throws the signal's reason (the command timed out or the agent is stopping) between chunks of a long command. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new CommandError('aborted', 'the command was aborted');
}

/**
 * How many rows a pg-boss job command (`cancel`, `retry`, `resume`, `deleteJob`) changed. Its typings say `void`, but
 * v10 resolves `{ jobs, requested, affected }`; undefined if a version ever stops saying.
 */
export function affectedOf(result: unknown): number | undefined {
  if (typeof result === 'object' && result !== null && 'affected' in result && typeof result.affected === 'number') return result.affected;
  return undefined;
}

/**
 * `boss.send` plus the `task.received` event (`args: [data]`). Null, and no event, when pg-boss created no job (no
 * such queue, or a singleton/throttling policy kept it out).
 *
 * @example
 * await sendJob(context, 'mail', { to: 'a@b.c' }, {}); // '0b6e7c56-…'
 */
export async function sendJob(
  context: Pick<CommandContext, 'boss' | 'sink'>,
  queue: string,
  data: unknown,
  options: PgBoss.SendOptions,
): Promise<string | null> {
  const id = await context.boss.send(queue, data as object, options);
  if (id !== null) {
    context.sink?.emit('task.received', { taskId: taskIdOf(queue, id), data: { task_name: queue, queue, args: [data], kwargs: {} } });
  }
  return id;
}
