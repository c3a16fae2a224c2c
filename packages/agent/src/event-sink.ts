import { randomUUID } from 'node:crypto';
import { isJsonObject, isoTimestamp, type EventKind, type JsonObject } from '@z4j/protocol';
import { toJsonValue } from './to-json-value.js';

/**
 * Task lifecycle kinds (§2.1); events of these kinds need a `taskId`.
 *
 * @example
 * const kind: TaskEventKind = 'task.succeeded';
 */
export type TaskEventKind =
  'task.sent' | 'task.received' | 'task.started' | 'task.succeeded' | 'task.failed' | 'task.retried' | 'task.revoked' | 'task.rejected';

/**
 * Every kind an adapter may emit (all of §2.1 except `unknown`).
 *
 * @example
 * const kind: EmittableEventKind = 'worker.online';
 */
export type EmittableEventKind = Exclude<EventKind, 'unknown'>;

/**
 * `data` keys the brain reads on every task event (§2.3). Extra keys are kept.
 *
 * @example
 * const data: TaskEventData = { task_name: 'send-mail', queue: 'mail', worker: 'bullmq@web-1' };
 */
export interface TaskEventData {
  /** The brain shows "unknown" when missing. */
  readonly task_name?: string;
  readonly queue?: string;
  readonly worker?: string;
  readonly priority?: 'critical' | 'high' | 'normal' | 'low';
  readonly tags?: readonly string[];
  readonly expected_duration_ms?: number;
  readonly deadline_ms?: number;
  readonly [key: string]: unknown;
}

/**
 * The `data` each kind carries; the named keys are the ones the brain projects onto the task row.
 *
 * @example
 * const data: EventDataByKind['task.failed'] = { task_name: 'mail', exception: 'TimeoutError', traceback: stack };
 */
export interface EventDataByKind {
  'task.sent': TaskEventData & { readonly args?: readonly unknown[]; readonly kwargs?: Readonly<Record<string, unknown>> };
  'task.received': TaskEventData & {
    readonly args?: readonly unknown[];
    readonly kwargs?: Readonly<Record<string, unknown>>;
    readonly parent_task_id?: string | null;
    readonly root_task_id?: string | null;
  };
  'task.started': TaskEventData & { readonly args?: readonly unknown[]; readonly kwargs?: Readonly<Record<string, unknown>> };
  'task.succeeded': TaskEventData & { readonly result?: unknown; readonly runtime_ms?: number };
  'task.failed': TaskEventData & {
    /** Exception class name. */
    readonly exception?: string;
    readonly exception_message?: string;
    /** Cut to 4096 characters, as the Celery mapper does. */
    readonly traceback?: string;
    readonly runtime_ms?: number;
  };
  'task.retried': TaskEventData & { readonly reason?: string; readonly retry_count?: number };
  'task.revoked': TaskEventData & { readonly terminated?: boolean; readonly signum?: number | null; readonly expired?: boolean };
  'task.rejected': TaskEventData;
  'worker.online': { readonly worker?: string; readonly [key: string]: unknown };
  'worker.offline': { readonly worker?: string; readonly worker_name?: string; readonly reason?: string; readonly [key: string]: unknown };
  'worker.heartbeat': { readonly worker?: string; readonly [key: string]: unknown };
  'queue.depth_report': { readonly queue: string; readonly depth: number; readonly [key: string]: unknown };
  'schedule.run_started': Readonly<Record<string, unknown>>;
  'schedule.run_completed': Readonly<Record<string, unknown>>;
  'schedule.created': Readonly<Record<string, unknown>>;
  'schedule.updated': Readonly<Record<string, unknown>>;
  'schedule.deleted': Readonly<Record<string, unknown>>;
  'schedule.snapshot': Readonly<Record<string, unknown>>;
}

/**
 * What {@link EventSink.emit} takes: task kinds need the engine's task (job) id; `occurredAt` defaults to now.
 *
 * @example
 * const input: EmitInput<'task.started'> = { taskId: job.id, data: { task_name: job.name, queue: 'mail' } };
 */
export type EmitInput<K extends EmittableEventKind> = K extends TaskEventKind
  ? { readonly taskId: string; readonly occurredAt?: Date; readonly data: EventDataByKind[K] }
  : { readonly taskId?: string; readonly occurredAt?: Date; readonly data?: EventDataByKind[K] };

/**
 * Where an adapter reports events. One per adapter (it knows the engine name).
 *
 * @example
 * sink.emit('task.succeeded', { taskId: job.id, data: { task_name: job.name, result: job.returnvalue, runtime_ms } });
 */
export interface EventSink {
  /** The adapter's engine name, stamped on every event. */
  readonly engine: string;
  /**
   * Builds the event (uuid `id`, `kind`, `engine`, `task_id`, ISO `occurred_at`, JSON-safe `data`) and hands it to
   * the agent, which redacts and buffers it. Never throws; false when the event was refused (agent not running, a
   * task event without a task id, or an event too large for any frame).
   */
  emit<K extends EmittableEventKind>(kind: K, input: EmitInput<K>): boolean;
}

const TASK_KINDS: ReadonlySet<string> = new Set<TaskEventKind>([
  'task.sent',
  'task.received',
  'task.started',
  'task.succeeded',
  'task.failed',
  'task.retried',
  'task.revoked',
  'task.rejected',
]);
const MAX_TASK_ID_CHARS = 200;
const MAX_TRACEBACK_CHARS = 4096;

/**
 * Builds an {@link EventSink} for one engine. `accept` receives each finished event (before redaction) and says
 * whether it was taken; `onRefused` hears about events that never got that far.
 *
 * @example
 * const sink = createEventSink('bullmq', { now: () => new Date(), accept: (event) => buffer(event), onRefused });
 */
export function createEventSink(
  engine: string,
  deps: {
    readonly now: () => Date;
    readonly accept: (event: JsonObject) => boolean;
    readonly onRefused: (reason: string, kind: string) => void;
  },
): EventSink {
  return {
    engine,
    emit(kind, input) {
      try {
        const taskId = typeof input.taskId === 'string' ? input.taskId : '';
        if (TASK_KINDS.has(kind) && (taskId === '' || taskId.length > MAX_TASK_ID_CHARS)) {
          deps.onRefused(`a ${kind} event needs a taskId of 1 to ${MAX_TASK_ID_CHARS} characters`, kind);
          return false;
        }
        const converted = toJsonValue(input.data ?? {});
        const data: JsonObject = isJsonObject(converted) ? converted : { value: converted };
        if (typeof data.traceback === 'string' && data.traceback.length > MAX_TRACEBACK_CHARS) {
          data.traceback = data.traceback.slice(0, MAX_TRACEBACK_CHARS);
        }
        const at = input.occurredAt instanceof Date && !Number.isNaN(input.occurredAt.getTime()) ? input.occurredAt : deps.now();
        return deps.accept({ id: randomUUID(), kind, engine, task_id: taskId, occurred_at: isoTimestamp(at), data });
      } catch (error) {
        deps.onRefused(error instanceof Error ? error.message : String(error), kind);
        return false;
      }
    },
  };
}
