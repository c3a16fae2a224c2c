import { CommandError } from '@z4j/agent';
import type { JsonObject } from '@z4j/protocol';
import { Job } from 'bullmq';
import { queueNamed, text, type CommandContext } from './command-context.js';
import { delayFromEta, jobData } from './job-data.js';
import { parseTaskId, taskIdOf } from './task-id.js';

/**
 * `submit_task` `{name, args, kwargs, queue, eta}`: `queue.add(name, data, { delay })`. `priority` is not mapped:
 * BullMQ's numeric priorities have no fixed meaning to translate critical/high/normal/low into.
 *
 * @example
 * await submitTask(context, { name: 'send', args: [{ to: 'a@b.c' }], queue: 'mail' }); // { task_id: 'mail:43' }
 */
export async function submitTask(context: CommandContext, parameters: JsonObject): Promise<JsonObject> {
  const name = text(parameters.name);
  if (name === undefined) throw new CommandError('invalid_parameters', 'submit_task needs a job name in "name"');
  const queue = queueNamed(context, text(parameters.queue));
  const delay = delayFromEta(parameters.eta, Date.now());
  const job = await queue.add(name, jobData(parameters.args, parameters.kwargs), delay > 0 ? { delay } : {});
  return { task_id: taskIdOf(queue.name, job.id ?? ''), queue: queue.name };
}

/** The job a task id names, in one of the configured queues. */
async function findJob(context: CommandContext, parameters: JsonObject): Promise<{ taskId: string; job: Job | undefined; queue: string }> {
  const taskId = text(parameters.task_id);
  if (taskId === undefined) throw new CommandError('invalid_parameters', 'task_id is required');
  const { queue, jobId } = parseTaskId(taskId);
  return { taskId, job: await Job.fromId(queueNamed(context, queue), jobId), queue };
}

/**
 * `retry_task`: `job.retry()` on a failed (or completed) job, which runs the same job id again, with
 * `override_args`/`override_kwargs` written as its new data first. A job BullMQ no longer has (removeOnFail) is
 * submitted anew from the brain's copy (`task_name`, `args`) when the brain sent one, like an engine without native
 * retry (§3.2). A delayed retry (`eta_seconds` > 0) is refused: BullMQ retries a finished job straight into waiting.
 *
 * @example
 * await retryTask(context, { task_id: 'mail:7' }); // { task_id: 'mail:7', retried: true, previous_state: 'failed' }
 */
export async function retryTask(context: CommandContext, parameters: JsonObject): Promise<JsonObject> {
  const { taskId, job, queue } = await findJob(context, parameters);
  const overridden = (parameters.override_args ?? null) !== null || (parameters.override_kwargs ?? null) !== null;
  if (!job) {
    const name = text(parameters.task_name);
    if (name === undefined) throw new CommandError('task_not_found', `no job ${taskId} (it may have been removed)`);
    const data = overridden ? jobData(parameters.override_args, parameters.override_kwargs) : jobData(parameters.args, parameters.kwargs);
    const resubmitted = await submitTask(context, { name, args: [data], queue, eta: parameters.eta_seconds ?? null });
    return { ...resubmitted, resubmitted: true };
  }
  const eta = typeof parameters.eta_seconds === 'number' ? parameters.eta_seconds : 0;
  if (eta > 0) throw new CommandError('unsupported', 'BullMQ retries a finished job at once; eta_seconds is not supported');
  const state = await job.getState();
  if (state !== 'failed' && state !== 'completed') {
    throw new CommandError('not_retryable', `job ${taskId} is ${state}; only failed or completed jobs can be retried`);
  }
  if (overridden) await job.updateData(jobData(parameters.override_args, parameters.override_kwargs));
  await job.retry(state);
  return { task_id: taskId, retried: true, previous_state: state };
}

/**
 * `cancel_task`, by the job's state:
 *   waiting, delayed, prioritized, … → removed (`task.revoked` comes from the stream's `removed`);
 *   active in a worker of THIS process → its processor's AbortSignal is aborted (`Worker#cancelJob`); the command
 *     waits up to `cancelWaitMs` for the job to leave `active`. If the processor rejected and the job failed, that
 *     failure is reported as `task.revoked` (terminated). If BullMQ moved it back for a retry (the processor threw a
 *     plain Error with attempts left), the retry is removed;
 *   active elsewhere, or with a processor declared without the `signal` parameter → refused (`not_cancellable`);
 *   completed or failed → refused.
 *
 * @example
 * await cancelTask(context, { task_id: 'mail:7' }, signal); // { cancelled: true, previous_state: 'active', terminated: true }
 */
export async function cancelTask(context: CommandContext, parameters: JsonObject, signal: AbortSignal): Promise<JsonObject> {
  const { taskId, job, queue } = await findJob(context, parameters);
  if (!job?.id) throw new CommandError('task_not_found', `no job ${taskId}`);
  const state = await job.getState();
  if (state === 'completed' || state === 'failed') throw new CommandError('not_cancellable', `job ${taskId} already ${state}`);
  if (state !== 'active') {
    try {
      await job.remove();
      return { cancelled: true, previous_state: state, terminated: false };
    } catch (error) {
      // It may have started between getState and remove (BullMQ refuses to remove a locked job): cancel it running.
      if ((await job.getState()) !== 'active') throw error;
    }
  }
  return cancelActive(context, queue, job, signal);
}

/**
 * Aborts the processor's signal and waits for the job to leave `active`. A processor that rejects with a retryable
 * error sends the job back to waiting/delayed: that retry is removed, or, when a worker already picked it up again
 * (no backoff), cancelled again, until the job is gone, failed, or `cancelWaitMs` is over.
 */
async function cancelActive(context: CommandContext, queue: string, job: Job, signal: AbortSignal): Promise<JsonObject> {
  const jobId = job.id ?? '';
  const taskId = taskIdOf(queue, jobId);
  const source = context.sources.get(queue);
  if (!source) throw new CommandError('not_running', 'the adapter is not running');
  const deadline = Date.now() + context.cancelWaitMs;
  context.cancelled.add(taskId);
  try {
    for (let round = 0; ; round += 1) {
      const giveUp = new AbortController();
      const exited = source.waitForExit(jobId, Math.max(0, deadline - Date.now()), AbortSignal.any([signal, giveUp.signal]));
      if (!context.workers.cancel(queue, jobId, 'cancelled through z4j')) {
        giveUp.abort();
        if (round === 0) {
          throw new CommandError(
            'not_cancellable',
            `job ${taskId} is active, but not in a worker of this process whose processor takes an AbortSignal ` +
              '(async (job, token, signal) => …); cancel it through the agent of the process running it',
          );
        }
        // Picked up again but not yet tracked by its worker: try again on the next turn of the event loop.
        if (Date.now() >= deadline) throw cancelTimeout(taskId, context.cancelWaitMs);
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const outcome = await exited;
      if (outcome === 'failed' || outcome === 'removed') return { cancelled: true, previous_state: 'active', terminated: true };
      if (outcome === undefined) throw cancelTimeout(taskId, context.cancelWaitMs);
      if (outcome === 'completed') throw new CommandError('not_cancellable', `job ${taskId} completed before its processor stopped`);
      try {
        await job.remove();
        return { cancelled: true, previous_state: 'active', terminated: true, retry_removed: true };
      } catch (error) {
        if ((await job.getState()) !== 'active') throw error;
      }
    }
  } catch (error) {
    context.cancelled.take(taskId);
    throw error;
  }
}

function cancelTimeout(taskId: string, ms: number): CommandError {
  return new CommandError(
    'cancel_timeout',
    `job ${taskId}: its AbortSignal was aborted but it did not stop within ${ms} ms; its processor must reject when the signal aborts (throw UnrecoverableError to skip retries)`,
  );
}

const ENGINE_STATES: Readonly<Record<string, string>> = {
  completed: 'success',
  failed: 'failure',
  active: 'started',
  waiting: 'pending',
  delayed: 'pending',
  prioritized: 'pending',
  'waiting-children': 'pending',
};

/**
 * `reconcile_task`: the job's BullMQ state as the brain's `engine_state` (pending|started|success|failure|unknown),
 * with `finished_at` and `exception` for finished jobs. A job BullMQ no longer has is `unknown`.
 *
 * @example
 * await reconcileTask(context, { task_id: 'mail:7' }); // { engine_state: 'failure', state: 'failed', finished_at: '…', exception: 'boom' }
 */
export async function reconcileTask(context: CommandContext, parameters: JsonObject): Promise<JsonObject> {
  const { job } = await findJob(context, parameters);
  if (!job) return { engine_state: 'unknown', state: 'missing', finished_at: null, exception: null };
  const state = await job.getState();
  const finished = state === 'completed' || state === 'failed';
  return {
    engine_state: ENGINE_STATES[state] ?? 'unknown',
    state,
    finished_at: finished && job.finishedOn !== undefined ? new Date(job.finishedOn).toISOString() : null,
    exception: state === 'failed' ? job.failedReason || null : null,
    attempts_made: job.attemptsMade,
  };
}
