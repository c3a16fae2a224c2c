import { CommandError, type EventSink } from '@z4j/agent';
import type { JsonValue } from '@z4j/protocol';
import type { Queue } from 'bullmq';
import type { CancelledJobs } from './cancelled-jobs.js';
import type { LocalWorkers } from './local-workers.js';
import type { QueueEventSource } from './queue-event-source.js';

/**
 * What the command handlers share: the configured queues by name, the local workers, the running event sources (for
 * cancellation), and the sink (for events the stream does not carry, e.g. which jobs a purge removed).
 *
 * @example
 * const queue = queueNamed(context, 'mail');
 */
export interface CommandContext {
  readonly queues: ReadonlyMap<string, Queue>;
  readonly workers: LocalWorkers;
  readonly cancelled: CancelledJobs;
  readonly sources: ReadonlyMap<string, QueueEventSource>;
  readonly sink: EventSink | undefined;
  /** Most jobs a bulk command touches per Redis round of work. */
  readonly chunkSize: number;
  /** How long cancel_task waits for an active job's processor to stop. */
  readonly cancelWaitMs: number;
}

/** A non-empty string parameter, else undefined. */
export function text(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The configured queue of that name, or the only configured queue when no name is given.
 *
 * @throws {CommandError} `unknown_queue` / `queue_required`.
 */
export function queueNamed(context: CommandContext, name: string | undefined): Queue {
  if (name === undefined) {
    if (context.queues.size === 1) return context.queues.values().next().value as Queue;
    throw new CommandError('queue_required', `name one of the queues: ${[...context.queues.keys()].join(', ')}`);
  }
  const queue = context.queues.get(name);
  if (!queue) throw new CommandError('unknown_queue', `this agent does not manage a queue named ${JSON.stringify(name)}`);
  return queue;
}

/** Throws the signal's reason (the command timed out or the agent is stopping) between chunks of a long command. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new CommandError('aborted', 'the command was aborted');
}
