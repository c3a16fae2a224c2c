import { CommandError } from '@z4j/agent';

/**
 * pg-boss addresses a job by `(queue name, job id)`: every job API (`getJobById`, `cancel`, `retry`, `resume`) takes
 * both, and the job table is partitioned by queue, so finding a job by its id alone scans every partition. The brain
 * keys tasks by `(engine, task_id)` and sends only the task id with `cancel_task` and `reconcile_task`, so the task
 * id carries the queue: `<queue>:<job id>`. Job ids are UUIDs (the column is `uuid`), which never contain `:`, so the
 * LAST `:` separates the two even for queue names that contain one (pg-boss does not forbid it).
 *
 * @example
 * taskIdOf('mail', '0b6e7c56-8f0f-4c4d-9d7a-6a3f0f3f6c1e'); // 'mail:0b6e7c56-8f0f-4c4d-9d7a-6a3f0f3f6c1e'
 */
export function taskIdOf(queue: string, jobId: string): string {
  return `${queue}:${jobId}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The queue and job id of a task id made by {@link taskIdOf}.
 *
 * @throws {CommandError} `invalid_task_id` when it is not `<queue>:<uuid>`.
 * @example
 * parseTaskId('billing:v2:0b6e7c56-8f0f-4c4d-9d7a-6a3f0f3f6c1e'); // { queue: 'billing:v2', jobId: '0b6e7c56-…' }
 */
export function parseTaskId(taskId: string): { readonly queue: string; readonly jobId: string } {
  const at = taskId.lastIndexOf(':');
  const queue = taskId.slice(0, Math.max(0, at));
  const jobId = taskId.slice(at + 1);
  if (at <= 0 || !UUID.test(jobId)) {
    throw new CommandError('invalid_task_id', `expected a task id "<queue>:<job uuid>", got ${JSON.stringify(taskId)}`);
  }
  return { queue, jobId };
}
