import { CommandError } from '@z4j/agent';
import type { JsonObject, JsonValue } from '@z4j/protocol';
import type PgBoss from 'pg-boss';
import { affectedOf, sendJob, text, type CommandContext } from './command-context.js';
import { jobData, startAfterOf } from './job-data.js';
import { parseTaskId, taskIdOf } from './task-id.js';

/**
 * `submit_task` `{name, args, kwargs, queue, eta}`: `boss.send(queue, data, { startAfter })`. In pg-boss a job's name
 * IS its queue, so `name` and `queue` must agree when both are given. `priority` (critical|high|normal|low) is not
 * mapped: pg-boss's integer priorities have no fixed meaning to translate it into.
 *
 * @example
 * await submitTask(context, { name: 'mail', args: [{ to: 'a@b.c' }] }); // { task_id: 'mail:0b6e…', queue: 'mail' }
 */
export async function submitTask(context: CommandContext, parameters: JsonObject): Promise<JsonObject> {
  const name = text(parameters.name);
  const named = text(parameters.queue);
  if (name !== undefined && named !== undefined && name !== named) {
    throw new CommandError(
      'invalid_parameters',
      `a pg-boss job's name is its queue; name ${JSON.stringify(name)} ≠ queue ${JSON.stringify(named)}`,
    );
  }
  if (name === undefined && named === undefined)
    throw new CommandError('invalid_parameters', 'submit_task needs the queue in "name" or "queue"');
  const queue = await context.queue(named ?? name);
  return submitTo(context, queue, jobData(parameters.args, parameters.kwargs), parameters.eta, {});
}

async function submitTo(
  context: CommandContext,
  queue: string,
  data: JsonValue,
  eta: JsonValue | undefined,
  options: PgBoss.SendOptions,
): Promise<JsonObject> {
  const startAfter = startAfterOf(eta);
  const id = await sendJob(context, queue, data, startAfter === undefined ? options : { ...options, startAfter });
  if (id === null) throw new CommandError('not_created', `pg-boss created no job in ${queue} (its policy kept it out)`);
  return { task_id: taskIdOf(queue, id), queue };
}

/** The job a task id names, in a managed queue; archived jobs (completed or failed long ago) included. */
async function findJob(context: CommandContext, parameters: JsonObject) {
  const taskId = text(parameters.task_id);
  if (taskId === undefined) throw new CommandError('invalid_parameters', 'task_id is required');
  const { queue: named, jobId } = parseTaskId(taskId);
  const queue = await context.queue(named);
  const job = await context.boss.getJobById<unknown>(queue, jobId, { includeArchive: true });
  return { taskId, queue, jobId, job };
}

/**
 * `retry_task`, by the job's state:
 *   failed → `boss.retry` (the same job runs again: state `retry`, one more attempt allowed);
 *   cancelled → `boss.resume` (back to `created`);
 *   completed, or failed but already archived → a new job with the same data (`resubmitted: true`, new task id);
 *   gone from pg-boss → a new job from the brain's copy (`task_name`, `args`) when it sent one;
 *   created, retry, active → refused (`not_retryable`).
 * `override_args`/`override_kwargs` or `eta_seconds` > 0 always submit a new job: pg-boss cannot change a job's data
 * or start time in place.
 *
 * @example
 * await retryTask(context, { task_id: 'mail:0b6e…' }); // { task_id: 'mail:0b6e…', retried: true, previous_state: 'failed' }
 */
export async function retryTask(context: CommandContext, parameters: JsonObject): Promise<JsonObject> {
  const { taskId, queue, jobId, job } = await findJob(context, parameters);
  const overridden = (parameters.override_args ?? null) !== null || (parameters.override_kwargs ?? null) !== null;
  const eta = typeof parameters.eta_seconds === 'number' && parameters.eta_seconds > 0 ? parameters.eta_seconds : undefined;
  const resubmit = async (data: JsonValue, previous: string) => ({
    ...(await submitTo(context, queue, data, eta, job ? optionsOf(job) : {})),
    resubmitted: true,
    original_task_id: taskId,
    previous_state: previous,
  });
  if (!job) {
    if (text(parameters.task_name) === undefined) throw new CommandError('task_not_found', `no job ${taskId} (it may have been deleted)`);
    const data = overridden ? jobData(parameters.override_args, parameters.override_kwargs) : jobData(parameters.args, parameters.kwargs);
    return resubmit(data, 'missing');
  }
  if (overridden) return resubmit(jobData(parameters.override_args, parameters.override_kwargs), job.state);
  if (eta !== undefined || job.state === 'completed') return resubmit(job.data as JsonValue, job.state);
  if (job.state === 'failed') {
    if (affectedOf(await context.boss.retry(queue, jobId)) === 0) return resubmit(job.data as JsonValue, job.state);
    return { task_id: taskId, retried: true, previous_state: 'failed' };
  }
  if (job.state === 'cancelled') {
    context.running.takeCancelled(queue, jobId);
    if (affectedOf(await context.boss.resume(queue, jobId)) === 0) return resubmit(job.data as JsonValue, job.state);
    return { task_id: taskId, retried: true, previous_state: 'cancelled' };
  }
  throw new CommandError('not_retryable', `job ${taskId} is ${job.state}; only failed, cancelled or completed jobs can be retried`);
}

/** The per-job options worth keeping when a job is submitted again. */
function optionsOf(job: PgBoss.JobWithMetadata<unknown>): PgBoss.SendOptions {
  return { priority: job.priority, retryLimit: job.retryLimit, retryDelay: job.retryDelay, retryBackoff: job.retryBackoff };
}

/**
 * `cancel_task`, by the job's state:
 *   created or retry → `boss.cancel` (state `cancelled`), `task.revoked` (terminated: false);
 *   active in a wrapped worker of THIS process → `boss.cancel` first (pg-boss then ignores the handler's outcome: its
 *     complete/fail only touch active jobs), then the handler's AbortSignal is aborted and the command waits up to
 *     `cancelWaitMs` for it to settle; `task.revoked` (terminated: true if it settled in time);
 *   active elsewhere → refused (`not_cancellable`): the handler there would run on, and its agent report an outcome
 *     pg-boss no longer records; cancel it through the agent of the process running it;
 *   completed, failed, cancelled → refused.
 *
 * @example
 * await cancelTask(context, { task_id: 'mail:0b6e…' }, signal); // { cancelled: true, previous_state: 'active', terminated: true }
 */
export async function cancelTask(context: CommandContext, parameters: JsonObject, signal: AbortSignal): Promise<JsonObject> {
  const { taskId, queue, jobId, job } = await findJob(context, parameters);
  if (!job) throw new CommandError('task_not_found', `no job ${taskId}`);
  if (job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled') {
    throw new CommandError('not_cancellable', `job ${taskId} is already ${job.state}`);
  }
  if (job.state === 'active' && !context.running.has(queue, jobId)) {
    throw new CommandError(
      'not_cancellable',
      `job ${taskId} is active, but not in a worker of this process registered with adapter.work(); cancel it through the agent of the process running it`,
    );
  }
  // Marked before the cancel, so a handler settling in between reports nothing; unmarked if nothing was cancelled.
  context.running.markCancelled(queue, jobId);
  if (affectedOf(await context.boss.cancel(queue, jobId)) === 0) {
    context.running.takeCancelled(queue, jobId);
    const now = await context.boss.getJobById(queue, jobId, { includeArchive: true });
    throw new CommandError('not_cancellable', `job ${taskId} is already ${now?.state ?? 'gone'}`);
  }
  let terminated = false;
  let stopped = true;
  if (context.running.has(queue, jobId)) {
    const reason = Object.assign(new Error(`job ${taskId} was cancelled through z4j`), { name: 'JobCancelledError' });
    stopped = await context.running.abort(queue, jobId, reason, context.cancelWaitMs, signal);
    terminated = stopped;
  } else {
    // Never ran here: no handler will take the mark.
    context.running.takeCancelled(queue, jobId);
  }
  context.sink?.emit('task.revoked', {
    taskId,
    data: { task_name: queue, queue, worker: context.worker, terminated, signum: null, expired: false },
  });
  return { cancelled: true, previous_state: job.state, terminated, handler_stopped: stopped };
}

const ENGINE_STATES: Readonly<Record<string, string>> = {
  created: 'pending',
  retry: 'pending',
  active: 'started',
  completed: 'success',
  failed: 'failure',
};

/**
 * `reconcile_task`: the job's pg-boss state as the brain's `engine_state` (pending|started|success|failure|unknown;
 * `cancelled` has no such state and answers `unknown`, with `state: 'cancelled'`), with `finished_at` and the failure
 * message for finished jobs. A job pg-boss no longer has (deleted after its retention) is `unknown`.
 *
 * @example
 * await reconcileTask(context, { task_id: 'mail:0b6e…' }); // { engine_state: 'failure', state: 'failed', finished_at: '…', exception: 'boom' }
 */
export async function reconcileTask(context: CommandContext, parameters: JsonObject): Promise<JsonObject> {
  const { job } = await findJob(context, parameters);
  if (!job) return { engine_state: 'unknown', state: 'missing', finished_at: null, exception: null };
  const finished = job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled';
  return {
    engine_state: ENGINE_STATES[job.state] ?? 'unknown',
    state: job.state,
    finished_at: finished && job.completedOn ? new Date(job.completedOn).toISOString() : null,
    exception: job.state === 'failed' ? failureMessage(job.output) : null,
    retry_count: job.retryCount,
  };
}

/** pg-boss stores a failure as the serialized error (`{ name, message, stack }`), or `{ value }` for a non-object. */
function failureMessage(output: unknown): string | null {
  if (typeof output !== 'object' || output === null) return null;
  const record = output as Record<string, unknown>;
  if (typeof record.message === 'string') return record.message;
  const value = record.value;
  if (typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>).message === 'string') {
    return (value as Record<string, string>).message ?? null;
  }
  return value === undefined ? null : JSON.stringify(value);
}
