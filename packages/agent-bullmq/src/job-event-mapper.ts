import type { EmitInput, TaskEventData, TaskEventKind } from '@z4j/agent';
import type { Job } from 'bullmq';
import { taskIdOf } from './task-id.js';

/**
 * One entry of a queue's BullMQ event stream (`<prefix>:<queue>:events`), as QueueEvents delivers it: the event
 * name, its fields, and the stream entry id (`<redis ms>-<seq>`).
 *
 * @example
 * const event: StreamEvent = { event: 'completed', jobId: '42', streamId: '1700000000000-0', fields: { returnvalue: 'ok' } };
 */
export interface StreamEvent {
  readonly event: string;
  readonly jobId: string;
  readonly streamId: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * The job fields the mapper reads (a live `Job` fetched right after the event, or undefined when it is already gone,
 * e.g. `removeOnComplete`).
 *
 * @example
 * const snapshot: JobSnapshot = await queue.getJob(event.jobId);
 */
export type JobSnapshot = Pick<
  Job,
  | 'name'
  | 'data'
  | 'timestamp'
  | 'delay'
  | 'attemptsMade'
  | 'attemptsStarted'
  | 'failedReason'
  | 'stacktrace'
  | 'processedOn'
  | 'finishedOn'
  | 'processedBy'
  | 'parent'
  | 'opts'
>;

/**
 * What the mapper knows besides the event: the queue, the name of the local worker running the job (if any), and
 * whether a `cancel_task` of this process aborted it.
 *
 * @example
 * const context: MapContext = { queue: 'mail', workerName: 'mail@web-1:4242', cancelled: false };
 */
export interface MapContext {
  readonly queue: string;
  readonly workerName?: string | undefined;
  readonly cancelled?: boolean;
}

/**
 * A task event ready for `sink.emit(kind, input)`.
 *
 * @example
 * const mapped = mapJobEvent(event, job, { queue: 'mail' });
 * if (mapped) sink.emit(mapped.kind, mapped.input);
 */
export interface MappedEvent {
  readonly kind: TaskEventKind;
  readonly input: EmitInput<TaskEventKind>;
}

/** States a job can be removed from without having finished: removing it revokes it. */
const UNFINISHED_STATES: ReadonlySet<string> = new Set([
  'wait',
  'waiting',
  'paused',
  'delayed',
  'prioritized',
  'waiting-children',
  'active',
]);

/**
 * Maps one stream event onto the §2 task lifecycle, or undefined for events that are not a transition of their own:
 *
 *   added                      → task.received (args = [job.data], eta for delayed jobs, parent for flow children)
 *   active                     → task.started
 *   completed                  → task.succeeded (result, runtime_ms)
 *   failed                     → task.failed (exception, traceback, retry_count), or task.revoked {terminated}
 *                                when this process cancelled the job
 *   waiting, prev active       → task.retried (an attempt failed without backoff, or the job stalled)
 *   waiting, prev failed/completed → task.retried (job.retry(): retried on request)
 *   delayed, job ran before    → task.retried (an attempt failed and waits for its backoff)
 *   removed from an unfinished state → task.revoked
 *
 * Everything else (a new job's first `waiting`/`delayed`, progress, stalled, retries-exhausted, removal of finished
 * jobs, …) is covered by one of the above or is not a state change. `occurredAt` is the stream entry's Redis time,
 * so every agent reading the same stream stamps an event identically and the brain collapses their duplicates.
 *
 * @example
 * mapJobEvent({ event: 'active', jobId: '7', streamId: '1700000000000-0', fields: {} }, job, { queue: 'mail' });
 * // { kind: 'task.started', input: { taskId: 'mail:7', occurredAt: 2023-11-14T22:13:20.000Z, data: { task_name, queue: 'mail', … } } }
 */
export function mapJobEvent(event: StreamEvent, job: JobSnapshot | undefined, context: MapContext): MappedEvent | undefined {
  const taskId = taskIdOf(context.queue, event.jobId);
  const occurredAt = streamTime(event.streamId);
  const common = commonData(event, job, context);
  const emit = (kind: TaskEventKind, data: TaskEventData): MappedEvent => ({ kind, input: { taskId, occurredAt, data } });
  const prev = typeof event.fields.prev === 'string' ? event.fields.prev : undefined;

  switch (event.event) {
    case 'added':
      return emit('task.received', {
        ...common,
        args: job ? [job.data] : undefined,
        kwargs: {},
        eta: job && job.delay > 0 ? new Date(job.timestamp + job.delay).toISOString() : undefined,
        parent_task_id: parentTaskId(job),
      });
    case 'active':
      return emit('task.started', { ...common, attempt: job?.attemptsStarted });
    case 'completed': {
      const runtime = job?.processedOn !== undefined && job.finishedOn !== undefined ? job.finishedOn - job.processedOn : undefined;
      return emit('task.succeeded', { ...common, result: event.fields.returnvalue ?? null, runtime_ms: runtime });
    }
    case 'failed': {
      const reason = typeof event.fields.failedReason === 'string' ? event.fields.failedReason : job?.failedReason;
      if (context.cancelled) return emit('task.revoked', { ...common, terminated: true, signum: null, expired: false, reason });
      const traceback = job?.stacktrace?.at(-1) ?? undefined;
      return emit('task.failed', {
        ...common,
        exception: exceptionName(traceback),
        exception_message: reason,
        traceback,
        retry_count: job ? Math.max(0, job.attemptsMade - 1) : undefined,
      });
    }
    case 'waiting':
      if (prev === 'active')
        return emit('task.retried', { ...common, reason: job?.failedReason || 'moved back to waiting', retry_count: retryCount(job) });
      if (prev === 'failed' || prev === 'completed') return emit('task.retried', { ...common, reason: `retried from ${prev}` });
      return undefined;
    case 'delayed':
      // A new delayed job never ran (processedOn unset); its `added` already reported it.
      if (job?.processedOn === undefined) return undefined;
      return emit('task.retried', {
        ...common,
        reason: job.failedReason || 'delayed by its processor',
        retry_count: retryCount(job),
        eta: typeof event.fields.delay === 'number' ? new Date(event.fields.delay).toISOString() : undefined,
      });
    case 'removed':
      if (prev === undefined || !UNFINISHED_STATES.has(prev)) return undefined;
      return emit('task.revoked', { ...common, terminated: prev === 'active', signum: null, expired: false, reason: 'removed' });
    default:
      return undefined;
  }
}

/**
 * Which retry this is. The job is read after the event, and a retry without backoff may have run (and failed) again
 * meanwhile, so its counters can be ahead: failures recorded (one stack per failed attempt) are the best measure, and
 * a retry only happens while attempts remain, so it is at most `attempts - 1`.
 */
function retryCount(job: JobSnapshot | undefined): number | undefined {
  if (!job) return undefined;
  const failures = job.stacktrace?.length || job.attemptsMade;
  const attempts = typeof job.opts.attempts === 'number' && job.opts.attempts > 1 ? job.opts.attempts : Number.POSITIVE_INFINITY;
  return Math.max(1, Math.min(failures, attempts - 1));
}

/** The Redis server time of a stream entry id (`<ms>-<seq>`); now if it cannot be read. */
export function streamTime(streamId: string): Date {
  const dash = streamId.indexOf('-');
  const ms = Number(dash === -1 ? streamId : streamId.slice(0, dash));
  return Number.isSafeInteger(ms) && ms > 0 ? new Date(ms) : new Date();
}

function commonData(event: StreamEvent, job: JobSnapshot | undefined, context: MapContext): TaskEventData {
  const name = job?.name ?? (typeof event.fields.name === 'string' ? event.fields.name : undefined);
  const worker = context.workerName ?? (job?.processedBy || undefined);
  return { task_name: name, queue: context.queue, worker };
}

/** Flow children name their parent by queue key (`<prefix>:<queue>`) and id; the brain links them by task id. */
function parentTaskId(job: JobSnapshot | undefined): string | undefined {
  const parent = job?.parent;
  if (parent?.id === undefined) return undefined;
  const queue = parent.queueKey.slice(parent.queueKey.lastIndexOf(':') + 1);
  return queue === '' ? undefined : taskIdOf(queue, parent.id);
}

/** BullMQ keeps only the stack text: its first line is `<ErrorClass>: <message>`. */
export function exceptionName(traceback: string | undefined): string {
  const match = traceback === undefined ? null : /^([A-Za-z_$][\w$.]*)(?::|\s*(?:\n|$))/.exec(traceback);
  return match?.[1] ?? 'Error';
}
