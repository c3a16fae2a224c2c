import type { EventDataByKind } from '@z4j/agent';
import type PgBoss from 'pg-boss';

/**
 * How a wrapped handler's outcome maps onto task events (reference §2.3), from the job row pg-boss fetched with
 * metadata. pg-boss decides a failed job's fate in SQL (`failJobs`): it goes back to `retry` while
 * `retry_count < retry_limit`, else to `failed`; `retry_count` was already raised when the attempt was fetched. The
 * same rule here gives the same answer without reading the job again.
 *
 * @example
 * failureEvent(job, new RangeError('boom'), 'pg-boss@web-1:42', 12);
 * // ['task.retried', { task_name: 'mail', queue: 'mail', retry_count: 1, reason: 'boom', exception: 'RangeError', … }]
 */
export function failureEvent(
  job: Pick<PgBoss.JobWithMetadata<unknown>, 'name' | 'retryCount' | 'retryLimit'>,
  error: unknown,
  worker: string,
  runtimeMs: number,
): ['task.retried', EventDataByKind['task.retried']] | ['task.failed', EventDataByKind['task.failed']] {
  const described = describeError(error);
  if (job.retryCount < job.retryLimit) {
    return [
      'task.retried',
      { task_name: job.name, queue: job.name, worker, retry_count: job.retryCount + 1, reason: described.exception_message, ...described },
    ];
  }
  return [
    'task.failed',
    { task_name: job.name, queue: job.name, worker, retry_count: job.retryCount, runtime_ms: runtimeMs, ...described },
  ];
}

/**
 * `exception` (class name), `exception_message` and `traceback` (the stack; the sink cuts it to 4096 characters) of a
 * thrown value. A subclass that does not set `name` is reported by its constructor's name.
 *
 * @example
 * describeError(new TypeError('x')); // { exception: 'TypeError', exception_message: 'x', traceback: 'TypeError: x\n    at …' }
 */
export function describeError(error: unknown): { exception: string; exception_message: string; traceback?: string } {
  if (error instanceof Error) {
    const exception = error.name !== 'Error' ? error.name : error.constructor.name || 'Error';
    return error.stack === undefined
      ? { exception, exception_message: error.message }
      : { exception, exception_message: error.message, traceback: error.stack };
  }
  return { exception: typeof error, exception_message: String(error) };
}

/**
 * How long the adapter lets a handler run: pg-boss fails a batch whose handler outlives the largest
 * `expireInSeconds` of its jobs (at least 1 s) without stopping the handler, so the wrapper aborts the handler's
 * signal and gives up a little earlier, and pg-boss then fails the jobs with the wrapper's error. That way the
 * wrapper, not a timer race, decides which event the jobs get.
 *
 * @example
 * handlerBudgetMs([{ expireInSeconds: 900 }]); // 899 750
 */
export function handlerBudgetMs(jobs: readonly Pick<PgBoss.Job, 'expireInSeconds'>[]): number {
  const seconds = jobs.reduce((most, job) => Math.max(most, Number(job.expireInSeconds) || 0), 0);
  const limitMs = Math.max(1, seconds) * 1000;
  return Math.round(Math.max(limitMs - 250, limitMs * 0.9));
}
