import type { EventEmitter } from 'node:events';
import type { AgentLogger, EventSink } from '@z4j/agent';
import { Job, QueueEvents, type ConnectionOptions, type Queue } from 'bullmq';
import type { CancelledJobs } from './cancelled-jobs.js';
import { mapJobEvent, type StreamEvent } from './job-event-mapper.js';
import type { LocalWorkers } from './local-workers.js';
import { streamTail } from './stream-tail.js';
import { taskIdOf } from './task-id.js';

/** Stream events that can be a task transition (see mapJobEvent); the others are not subscribed. */
const MAPPED_EVENTS = ['added', 'active', 'completed', 'failed', 'waiting', 'delayed', 'removed'] as const;
/** Events after which a job is no longer active. */
const EXIT_EVENTS = ['completed', 'failed', 'waiting', 'delayed', 'removed'] as const;

/** What a {@link QueueEventSource} needs. */
export interface QueueEventSourceDeps {
  readonly sink: EventSink;
  readonly workers: LocalWorkers;
  readonly cancelled: CancelledJobs;
  readonly logger: AgentLogger;
  /** Connection for the blocking stream reader; an ioredis instance is duplicated, never blocked on. */
  readonly connection?: ConnectionOptions;
}

/**
 * Reports one queue's job transitions as task events, read from the queue's Redis event stream through BullMQ's
 * QueueEvents: the primary (and only) event source of the adapter.
 *
 * Why QueueEvents and not Worker events: the stream is written by BullMQ's Lua scripts for every job of the queue,
 * whichever process adds or runs it (workers on other hosts, sandboxed processors, a web process that only adds
 * jobs), so one agent anywhere sees complete coverage. Worker events exist only in the process running the worker;
 * using both would report local jobs twice. Stream entry ids carry the Redis server time, which becomes each event's
 * `occurred_at`: agents in several processes reading the same stream stamp an event identically, and the brain's
 * dedupe collapses their copies.
 *
 * Reading starts at the stream's last entry at `open()` (not at `$` when the reader first blocks), so nothing
 * added after `open()` resolves is missed. Events produced while no agent runs, or trimmed from the stream
 * (BullMQ keeps about `streams.events.maxLen`, default 10 000) before being read, are not reported.
 *
 * Per event the job is fetched once for its name, data, attempts and stack; events are handled concurrently
 * (the commands pipeline on the connection) and the order they reach the brain does not matter, since the brain
 * orders a task's states by `occurred_at`.
 *
 * @example
 * const source = await QueueEventSource.open(queue, { sink, workers, cancelled, logger });
 * // …
 * await source.close();
 */
export class QueueEventSource {
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  readonly #deps: QueueEventSourceDeps;
  readonly #release: () => Promise<void>;
  readonly #inFlight = new Set<Promise<void>>();
  #running: Promise<void> = Promise.resolve();

  private constructor(queue: Queue, events: QueueEvents, deps: QueueEventSourceDeps, release: () => Promise<void>) {
    this.#queue = queue;
    this.#events = events;
    this.#deps = deps;
    this.#release = release;
  }

  /** Subscribes from the stream's current end; resolves once the reader's connection is ready. */
  static async open(queue: Queue, deps: QueueEventSourceDeps): Promise<QueueEventSource> {
    const lastEventId = await streamTail(await queue.client, queue.toKey('events'));
    const { connection, release } = readerConnection(deps.connection ?? queue.opts.connection);
    const events = new QueueEvents(queue.name, { connection, prefix: queue.opts.prefix, lastEventId, autorun: false });
    const source = new QueueEventSource(queue, events, deps, release);
    events.on('error', (error) => deps.logger.warn({ err: error, queue: queue.name }, 'bullmq:events:error'));
    for (const name of MAPPED_EVENTS) {
      asEmitter(events).on(name, (fields: Readonly<Record<string, unknown>> & { jobId?: unknown }, streamId: string) => {
        if (typeof fields.jobId === 'string') source.#track({ event: name, jobId: fields.jobId, streamId, fields });
      });
    }
    source.#running = events.run().catch((error: unknown) => {
      deps.logger.error({ err: error, queue: queue.name }, 'bullmq:events:stopped');
    });
    await events.waitUntilReady();
    return source;
  }

  /**
   * Resolves with the stream event that takes the job out of `active` (completed, failed, waiting, delayed or
   * removed), or undefined after `timeoutMs` or when `signal` aborts. Listens from the moment it is called, so call
   * it before doing what makes the job leave.
   */
  waitForExit(jobId: string, timeoutMs: number, signal: AbortSignal): Promise<string | undefined> {
    return new Promise((resolve) => {
      const emitter = asEmitter(this.#events);
      const listeners = EXIT_EVENTS.map((name) => [`${name}:${jobId}`, () => finish(name)] as const);
      const onAbort = () => finish(undefined);
      const timer = setTimeout(onAbort, timeoutMs);
      timer.unref();
      const finish = (event: string | undefined) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        for (const [name, listener] of listeners) emitter.off(name, listener);
        resolve(event);
      };
      for (const [name, listener] of listeners) emitter.on(name, listener);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
  }

  /** Stops reading, then waits for the events already read to reach the sink. */
  async close(): Promise<void> {
    await this.#events.close();
    await this.#running;
    await Promise.allSettled([...this.#inFlight]);
    await this.#release();
  }

  #track(event: StreamEvent): void {
    const work = this.#report(event).finally(() => this.#inFlight.delete(work));
    this.#inFlight.add(work);
  }

  async #report(event: StreamEvent): Promise<void> {
    const queue = this.#queue.name;
    try {
      // A removed job is gone: its earlier events already told the brain its name.
      const job = event.event === 'removed' ? undefined : await Job.fromId(this.#queue, event.jobId);
      const mapped = mapJobEvent(event, job, {
        queue,
        workerName: this.#deps.workers.runnerOf(queue, event.jobId),
        cancelled: event.event === 'failed' && this.#deps.cancelled.take(taskIdOf(queue, event.jobId)),
      });
      if (mapped) this.#deps.sink.emit(mapped.kind, mapped.input);
    } catch (error) {
      this.#deps.logger.warn({ err: error, queue, job: event.jobId, event: event.event }, 'bullmq:events:report_failed');
    }
  }
}

/** QueueEvents also emits `<event>:<jobId>`, which its typed `on` does not describe: use the plain emitter's. */
function asEmitter(events: QueueEvents): EventEmitter {
  return events;
}

/**
 * QueueEvents blocks its connection on XREAD. Given connection options it opens its own; given an ioredis instance
 * (shared by the user's Queue) it would block that one, so the adapter reads on a duplicate and closes it at the end.
 */
function readerConnection(connection: ConnectionOptions): { connection: ConnectionOptions; release: () => Promise<void> } {
  const duplicate = (connection as { duplicate?: unknown }).duplicate;
  if (typeof duplicate !== 'function') return { connection, release: async () => undefined };
  const own = (duplicate as () => ConnectionOptions & { quit(): Promise<unknown> }).call(connection);
  return {
    connection: own,
    release: async () => {
      await own.quit().catch(() => undefined);
    },
  };
}
