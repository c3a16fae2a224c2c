import { CommandError } from '@z4j/agent';

/**
 * BullMQ job ids are only unique within one queue (the default ids are per-queue counters: every queue has a job
 * "1"), while the brain keys tasks by `(engine, task_id)`. So the task id is `<queue>:<job id>`. BullMQ forbids `:` in
 * queue names, so the first `:` always separates the two, even for job ids that contain `:` (job-scheduler runs are
 * `repeat:<scheduler>:<millis>`).
 *
 * @example
 * taskIdOf('mail', '42'); // 'mail:42'
 */
export function taskIdOf(queue: string, jobId: string): string {
  return `${queue}:${jobId}`;
}

/**
 * The queue and job id of a task id made by {@link taskIdOf}.
 *
 * @throws {CommandError} `invalid_task_id` when there is no `<queue>:` part.
 * @example
 * parseTaskId('mail:repeat:nightly:1700000000000'); // { queue: 'mail', jobId: 'repeat:nightly:1700000000000' }
 */
export function parseTaskId(taskId: string): { readonly queue: string; readonly jobId: string } {
  const { queue, id } = parseQueueRef(taskId, 'task id');
  return { queue, jobId: id };
}

/**
 * Splits any `<queue>:<id>` reference (task ids, schedule names).
 *
 * @throws {CommandError} `invalid_<what>` when there is no `<queue>:` part.
 * @example
 * parseQueueRef('mail:nightly', 'schedule name'); // { queue: 'mail', id: 'nightly' }
 */
export function parseQueueRef(ref: string, what: string): { readonly queue: string; readonly id: string } {
  const at = ref.indexOf(':');
  if (at <= 0 || at === ref.length - 1) {
    throw new CommandError(`invalid_${what.replaceAll(' ', '_')}`, `expected a ${what} "<queue>:<id>", got ${JSON.stringify(ref)}`);
  }
  return { queue: ref.slice(0, at), id: ref.slice(at + 1) };
}
