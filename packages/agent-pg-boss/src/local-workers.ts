import { hostname, loadavg } from 'node:os';
import type { EventSink, WorkerDetail } from '@z4j/agent';
import type PgBoss from 'pg-boss';
import { failureEvent, handlerBudgetMs } from './job-events.js';
import type { RunningJobs } from './running-jobs.js';
import { taskIdOf } from './task-id.js';

/**
 * What a wrapped handler gets besides its jobs.
 *
 * @example
 * const handler: PgBossWorkHandler = async ([job], { signal }) => fetch(job.data.url, { signal });
 */
export interface PgBossWorkContext {
  /**
   * Aborts when `cancel_task` cancels a job of this batch (reason: an Error named `JobCancelledError`), or just
   * before pg-boss's expiration (`expireInSeconds`) would fail the batch (reason: an Error named `TimeoutError`).
   * Reject (e.g. `signal.throwIfAborted()`) or return soon after it fires.
   */
  readonly signal: AbortSignal;
}

/**
 * A pg-boss v10 work handler, plus a context: it gets the jobs pg-boss fetched together (one with the default
 * `batchSize`), each with its metadata (the adapter always fetches with `includeMetadata`). Resolving completes
 * every job of the batch (with the value as the output when there is one job), rejecting fails every job of it,
 * exactly as with `boss.work`.
 *
 * @example
 * const handler: PgBossWorkHandler<{ to: string }> = async ([job], { signal }) => sendMail(job.data.to, { signal });
 */
export type PgBossWorkHandler<T = object> = (jobs: PgBoss.JobWithMetadata<T>[], context: PgBossWorkContext) => Promise<unknown>;

interface WorkerEntry {
  readonly id: string;
  readonly queue: string;
  readonly batchSize: number;
}

/**
 * The pg-boss workers this process registered through the adapter (`adapter.work`). pg-boss has no event stream for
 * job transitions, so the wrapper around each handler is where the adapter learns them: `task.started` for every job
 * of a fetched batch, then `task.succeeded`, `task.retried` or `task.failed` when the handler settles (the job a
 * cancel_task cancelled reports nothing here; the command reports `task.revoked`).
 *
 * @example
 * const workers = new LocalWorkers(boss, running, () => sink, 'pg-boss@web-1:42');
 * await workers.work('mail', { batchSize: 5 }, async (jobs, { signal }) => { … });
 * workers.details(); // [{ name: 'pg-boss@web-1:42', concurrency: 5, queues: ['mail'], active: [] }]
 */
export class LocalWorkers {
  readonly #workers = new Map<string, WorkerEntry>();

  constructor(
    private readonly boss: PgBoss,
    private readonly running: RunningJobs,
    private readonly sink: () => EventSink | undefined,
    readonly name: string = `pg-boss@${hostname()}:${process.pid}`,
  ) {}

  /** `boss.work(queue, { ...options, includeMetadata: true }, wrapped)`; resolves with pg-boss's worker id. */
  async work<T>(queue: string, options: PgBoss.WorkOptions, handler: PgBossWorkHandler<T>): Promise<string> {
    const id = await this.boss.work<T>(queue, { ...options, includeMetadata: true }, (jobs) => this.#run(queue, jobs, handler));
    this.#workers.set(id, { id, queue, batchSize: Math.max(1, options.batchSize ?? 1) });
    return id;
  }

  /** `boss.offWork(queue)` or `boss.offWork({ id })`, and forgets those workers. */
  async offWork(value: string | { readonly id: string }): Promise<void> {
    await (typeof value === 'string' ? this.boss.offWork(value) : this.boss.offWork({ id: value.id }));
    for (const worker of [...this.#workers.values()]) {
      if (typeof value === 'string' ? worker.queue === value : worker.id === value.id) this.#workers.delete(worker.id);
    }
  }

  /** One detail for this process: every wrapped worker's queue, the sum of their batch sizes, the running jobs. */
  details(): WorkerDetail[] {
    if (this.#workers.size === 0) return [];
    const workers = [...this.#workers.values()];
    return [
      {
        name: this.name,
        pid: process.pid,
        concurrency: workers.reduce((sum, worker) => sum + worker.batchSize, 0),
        queues: [...new Set(workers.map((worker) => worker.queue))],
        active: this.running.active(),
        loadAverage: loadavg(),
      },
    ];
  }

  async #run<T>(queue: string, jobs: PgBoss.JobWithMetadata<T>[], handler: PgBossWorkHandler<T>): Promise<unknown> {
    const controller = new AbortController();
    const exited = this.running.begin(
      queue,
      jobs.map((job) => job.id),
      controller,
    );
    const startedAt = Date.now();
    const worker = this.name;
    for (const job of jobs) {
      this.sink()?.emit('task.started', {
        taskId: taskIdOf(queue, job.id),
        data: { task_name: job.name, queue, worker, args: [job.data], kwargs: {}, retry_count: job.retryCount },
      });
    }
    const budgetMs = handlerBudgetMs(jobs);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const error = Object.assign(new Error(`handler execution exceeded ${budgetMs} ms (the jobs' expireInSeconds)`), {
          name: 'TimeoutError',
        });
        controller.abort(error);
        reject(error);
      }, budgetMs);
    });
    try {
      const result = await Promise.race([Promise.resolve().then(() => handler(jobs, { signal: controller.signal })), expired]);
      const runtimeMs = Date.now() - startedAt;
      for (const job of jobs) {
        if (this.running.takeCancelled(queue, job.id)) continue;
        this.sink()?.emit('task.succeeded', {
          taskId: taskIdOf(queue, job.id),
          data: { task_name: job.name, queue, worker, result: jobs.length === 1 ? result : null, runtime_ms: runtimeMs },
        });
      }
      return result;
    } catch (error) {
      const runtimeMs = Date.now() - startedAt;
      for (const job of jobs) {
        if (this.running.takeCancelled(queue, job.id)) continue;
        const [kind, data] = failureEvent(job, error, worker, runtimeMs);
        if (kind === 'task.retried') this.sink()?.emit(kind, { taskId: taskIdOf(queue, job.id), data });
        else this.sink()?.emit(kind, { taskId: taskIdOf(queue, job.id), data });
      }
      throw error;
    } finally {
      clearTimeout(timer);
      exited();
    }
  }
}
