import { hostname, loadavg } from 'node:os';
import type { WorkerDetail } from '@z4j/agent';
import type { Job, Worker } from 'bullmq';
import { taskIdOf } from './task-id.js';

/**
 * The BullMQ workers running in this process. They are not an event source (QueueEvents is, see
 * queue-event-source.ts): their own events only serve to know which jobs each one is running right now, for the
 * heartbeat's worker details, for the `worker` of task events, and to cancel an active job through
 * `Worker#cancelJob`, which only works in the process that runs the job.
 *
 * @example
 * const workers = new LocalWorkers([worker]);
 * workers.start();
 * workers.details(); // [{ name: 'mail@web-1:4242', concurrency: 5, queues: ['mail'], active: [{ id: 'mail:7', name: 'send' }] }]
 */
export class LocalWorkers {
  readonly #entries: readonly WorkerEntry[];

  constructor(workers: readonly Worker[]) {
    const host = hostname();
    const perQueue = new Map<string, number>();
    this.#entries = workers.map((worker) => {
      const seen = (perQueue.get(worker.name) ?? 0) + 1;
      perQueue.set(worker.name, seen);
      return new WorkerEntry(worker, workerName(worker, host, seen));
    });
  }

  /** Starts tracking the jobs each worker runs. */
  start(): void {
    for (const entry of this.#entries) entry.attach();
  }

  stop(): void {
    for (const entry of this.#entries) entry.detach();
  }

  /** One detail per worker that is still running. */
  details(): WorkerDetail[] {
    const load = loadavg();
    return this.#entries
      .filter((entry) => entry.worker.isRunning())
      .map((entry) => ({
        name: entry.name,
        pid: process.pid,
        concurrency: entry.worker.concurrency,
        queues: [entry.worker.name],
        active: [...entry.active.entries()].map(([jobId, name]) => ({ id: taskIdOf(entry.worker.name, jobId), name })),
        loadAverage: load,
      }));
  }

  /** The detail name of the local worker running this job right now, if any. */
  runnerOf(queue: string, jobId: string): string | undefined {
    return this.#entries.find((entry) => entry.worker.name === queue && entry.active.has(jobId))?.name;
  }

  /**
   * Aborts the AbortSignal of the job's processor in whichever local worker of `queue` runs it. False when no local
   * worker runs it, or its processor was declared without the `signal` parameter (BullMQ then has nothing to abort).
   */
  cancel(queue: string, jobId: string, reason: string): boolean {
    return this.#entries.some((entry) => entry.worker.name === queue && entry.worker.cancelJob(jobId, reason));
  }
}

/**
 * A worker's `name` option when set (BullMQ stores it on each job as `processedBy`, so task events and the worker row
 * agree), else `<queue>@<host>:<pid>`, numbered from the second worker of a queue in this process.
 */
function workerName(worker: Worker, host: string, seen: number): string {
  if (typeof worker.opts.name === 'string' && worker.opts.name !== '') return worker.opts.name;
  return `${worker.name}@${host}:${process.pid}${seen > 1 ? `#${seen}` : ''}`;
}

/** One worker and the jobs it is running (job id → job name), kept from its own active/completed/failed events. */
class WorkerEntry {
  readonly active = new Map<string, string>();
  readonly #onActive = (job: Job) => {
    if (job.id !== undefined) this.active.set(job.id, job.name);
  };
  readonly #onDone = (job: Job | undefined) => {
    if (job?.id !== undefined) this.active.delete(job.id);
  };
  /** A stalled job was taken back from whichever worker had it; it is not running here any more. */
  readonly #onStalled = (jobId: string) => this.active.delete(jobId);
  readonly #onClosed = () => this.active.clear();

  constructor(
    readonly worker: Worker,
    readonly name: string,
  ) {}

  attach(): void {
    this.worker.on('active', this.#onActive);
    this.worker.on('completed', this.#onDone);
    this.worker.on('failed', this.#onDone);
    this.worker.on('stalled', this.#onStalled);
    this.worker.on('closed', this.#onClosed);
  }

  detach(): void {
    this.worker.off('active', this.#onActive);
    this.worker.off('completed', this.#onDone);
    this.worker.off('failed', this.#onDone);
    this.worker.off('stalled', this.#onStalled);
    this.worker.off('closed', this.#onClosed);
    this.active.clear();
  }
}
