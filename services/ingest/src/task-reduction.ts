import { JsonFloat, type JsonValue } from '@z4j/protocol';
import { jsonText, storableText } from '@z4j/db';
import type { NormalisedEvent } from './normalise-event.js';
import { parseTimestampMicros } from './occurred-at.js';

/**
 * The task projection (§2.4), reduced in JS: the events of one transaction
 * that are about the same task (project, engine, task_id) become ONE
 * {@link TaskDelta}, because Postgres cannot upsert the same row twice in one
 * statement, and one row per task is also the cheapest thing to send.
 *
 * State machine (the same rule decides inside a delta here and between the
 * delta and the stored row in SQL, see event-writer.ts):
 *
 *   pending ──► received ─► started ─► retry        (tier 0, "in flight")
 *          └──────────────────────────► success | failure | revoked   (tier 1, terminal)
 *
 * A state event wins over the current state when its tier is higher, or the
 * tier is the same and it is newer than the current latest lifecycle time (on
 * an exact tie the higher {@link STATE_RANK} wins, so the outcome does not
 * depend on arrival order). Terminal states therefore beat in-flight ones
 * whatever the timestamps and are never pushed back, and a late `started` after
 * `success` changes nothing. `task.sent`, `task.rejected` and unknown kinds do
 * not move the state (a new row starts `pending`).
 */

export type TaskState = 'pending' | 'received' | 'started' | 'success' | 'failure' | 'retry' | 'revoked' | 'rejected' | 'unknown';
export type TaskPriority = 'critical' | 'high' | 'normal' | 'low';

export const STATE_FOR_KIND: Readonly<Record<string, TaskState>> = {
  'task.received': 'received',
  'task.started': 'started',
  'task.succeeded': 'success',
  'task.failed': 'failure',
  'task.retried': 'retry',
  'task.revoked': 'revoked',
};

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['success', 'failure', 'revoked']);

/** Tie-break inside a tier (equal timestamps); states not listed rank 0. */
export const STATE_RANK: Readonly<Partial<Record<TaskState, number>>> = {
  received: 1,
  started: 2,
  retry: 3,
  success: 4,
  failure: 5,
  revoked: 6,
};

export function stateTier(state: TaskState): 0 | 1 {
  return TERMINAL_STATES.has(state) ? 1 : 0;
}

export function stateRank(state: TaskState): number {
  return STATE_RANK[state] ?? 0;
}

const PRIORITIES: ReadonlySet<string> = new Set(['critical', 'high', 'normal', 'low']);

/** Caps that keep every value inside the columns' btree index entry limit (~2.7 kB). */
export const MAX_TASK_NAME_LENGTH = 500;
export const MAX_REF_LENGTH = 200;
export const MAX_TEXT_LENGTH = 8192;
export const MAX_TAGS = 64;
/** retry_count is an int4. */
export const MAX_RETRY_COUNT = 2_147_483_647;

/** The events of one transaction about one task, reduced. Null = "this delta says nothing about it". */
export interface TaskDelta {
  readonly projectId: string;
  readonly engine: string;
  readonly taskId: string;
  name: string | null;
  queue: string | null;
  workerName: string | null;
  priority: TaskPriority | null;
  /** JSON text. */
  args: string | null;
  kwargs: string | null;
  /** When the event that carried args / kwargs / worker happened (µs). */
  argsMicros: number | null;
  kwargsMicros: number | null;
  workerMicros: number | null;
  parentTaskId: string | null;
  rootTaskId: string | null;
  /** The winning state event of the delta, if any. */
  state: TaskState | null;
  stateMicros: number | null;
  receivedMicros: number | null;
  startedMicros: number | null;
  finishedMicros: number | null;
  /** JSON text of the latest success's result. */
  result: string | null;
  runtimeMs: number | null;
  exception: string | null;
  traceback: string | null;
  /** Largest `retry_count` a retried event carried. */
  retryCount: number | null;
  /** Retried events that carried no count: each adds one. */
  retriesUncounted: number;
  tags: string[] | null;
  etaMicros: number | null;
  /** Latest occurred_at of each informational field, so the newest event wins inside the delta. */
  readonly seen: Map<string, number>;
}

export interface TaskOutcome {
  readonly projectId: string;
  readonly taskName: string;
  readonly state: TaskState;
  /** Seconds, for the duration histogram (succeeded events with a positive runtime). */
  readonly durationSeconds: number | undefined;
}

/** Whether an event feeds the task projection: a task kind about a task. */
export function isTaskEvent(event: NormalisedEvent): boolean {
  return event.taskId !== '' && event.kind.startsWith('task.');
}

/**
 * One delta per (project, engine, task_id), sorted by that key: every replica
 * then locks task rows in the same order and two of them cannot deadlock.
 */
export function reduceTaskEvents(events: readonly NormalisedEvent[]): TaskDelta[] {
  const byKey = new Map<string, TaskDelta>();
  for (const event of events) {
    if (!isTaskEvent(event)) continue;
    const key = taskKey(event.projectId, event.engine, event.taskId);
    let delta = byKey.get(key);
    if (!delta) {
      delta = emptyDelta(event.projectId, event.engine, event.taskId);
      byKey.set(key, delta);
    }
    applyEvent(delta, event);
  }
  return [...byKey.values()].sort(compareTaskDeltas);
}

export function taskKey(projectId: string, engine: string, taskId: string): string {
  return `${projectId}\u0000${engine}\u0000${taskId}`;
}

export function compareTaskDeltas(a: TaskDelta, b: TaskDelta): number {
  return compareText(a.projectId, b.projectId) || compareText(a.engine, b.engine) || compareText(a.taskId, b.taskId);
}

/** Code-unit order; the lock order only has to be the same in every replica, not match a collation. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A delta that says nothing yet about the task. */
export function emptyDelta(projectId: string, engine: string, taskId: string): TaskDelta {
  return {
    projectId,
    engine,
    taskId,
    name: null,
    queue: null,
    workerName: null,
    priority: null,
    args: null,
    kwargs: null,
    argsMicros: null,
    kwargsMicros: null,
    workerMicros: null,
    parentTaskId: null,
    rootTaskId: null,
    state: null,
    stateMicros: null,
    receivedMicros: null,
    startedMicros: null,
    finishedMicros: null,
    result: null,
    runtimeMs: null,
    exception: null,
    traceback: null,
    retryCount: null,
    retriesUncounted: 0,
    tags: null,
    etaMicros: null,
    seen: new Map(),
  };
}

/** Sets an informational field when this event is at least as new as the one that set it before. */
function newest(delta: TaskDelta, field: string, at: number): boolean {
  const previous = delta.seen.get(field);
  if (previous !== undefined && previous > at) return false;
  delta.seen.set(field, at);
  return true;
}

/** Whether `state` at `micros` wins over the delta's current state (the rule in the module comment). */
export function stateWins(state: TaskState, micros: number, current: TaskState | null, currentMicros: number | null): boolean {
  if (current === null) return true;
  const tier = stateTier(state);
  const currentTier = stateTier(current);
  if (tier !== currentTier) return tier > currentTier;
  if (currentMicros === null || micros > currentMicros) return true;
  return micros === currentMicros && stateRank(state) >= stateRank(current);
}

function applyEvent(delta: TaskDelta, event: NormalisedEvent): void {
  const { data, kind } = event;
  const at = event.occurredMicros;

  const name = shortText(data.task_name, MAX_TASK_NAME_LENGTH);
  if (name !== null && newest(delta, 'name', at)) delta.name = name;
  const queue = shortText(data.queue, MAX_REF_LENGTH);
  if (queue !== null && newest(delta, 'queue', at)) delta.queue = queue;
  const worker = shortText(data.worker, MAX_REF_LENGTH);
  if (worker !== null && newest(delta, 'worker', at)) {
    delta.workerName = worker;
    delta.workerMicros = at;
  }
  // Only an explicit priority changes it (a later event without one must not reset it to normal);
  // an unrecognised value means normal, as in the original.
  if (isPresent(data.priority) && newest(delta, 'priority', at)) {
    delta.priority = typeof data.priority === 'string' && PRIORITIES.has(data.priority) ? (data.priority as TaskPriority) : 'normal';
  }
  const tags = tagList(data.tags);
  if (tags !== null && newest(delta, 'tags', at)) delta.tags = tags;
  const eta = typeof data.eta === 'string' ? parseTimestampMicros(data.eta) : undefined;
  if (eta !== undefined && newest(delta, 'eta', at)) delta.etaMicros = eta;

  const state = STATE_FOR_KIND[kind];
  if (state !== undefined && stateWins(state, at, delta.state, delta.stateMicros)) {
    delta.state = state;
    delta.stateMicros = at;
  }

  switch (kind) {
    case 'task.received':
    case 'task.started':
      if (kind === 'task.received') delta.receivedMicros = max(delta.receivedMicros, at);
      else delta.startedMicros = max(delta.startedMicros, at);
      if (isPresent(data.args) && newest(delta, 'args', at)) {
        delta.args = jsonText(data.args);
        delta.argsMicros = at;
      }
      if (isPresent(data.kwargs) && newest(delta, 'kwargs', at)) {
        delta.kwargs = jsonText(data.kwargs);
        delta.kwargsMicros = at;
      }
      if (kind === 'task.received') {
        const parent = canvasRef(data.parent_task_id, event.taskId);
        if (parent !== null && newest(delta, 'parent', at)) delta.parentTaskId = parent;
        const root = canvasRef(data.root_task_id, event.taskId);
        if (root !== null && newest(delta, 'root', at)) delta.rootTaskId = root;
      }
      break;
    case 'task.succeeded':
      delta.finishedMicros = max(delta.finishedMicros, at);
      if (newest(delta, 'success', at)) {
        delta.result = isPresent(data.result) ? jsonText(data.result) : null;
        delta.runtimeMs = nonNegativeInteger(data.runtime_ms) ?? delta.runtimeMs;
      }
      break;
    case 'task.failed':
      delta.finishedMicros = max(delta.finishedMicros, at);
      if (newest(delta, 'failure', at)) {
        delta.exception = shortText(data.exception, MAX_TEXT_LENGTH, false);
        delta.traceback = shortText(data.traceback, MAX_TEXT_LENGTH, false);
      }
      break;
    case 'task.revoked':
      delta.finishedMicros = max(delta.finishedMicros, at);
      break;
    case 'task.retried': {
      const count = nonNegativeInteger(data.retry_count);
      if (count === undefined) delta.retriesUncounted += 1;
      else delta.retryCount = Math.max(delta.retryCount ?? 0, Math.min(count, MAX_RETRY_COUNT));
      break;
    }
    default:
      break;
  }
  // A success clears the failure details (§2.4), whichever order the two arrived in.
  if (delta.state === 'success') {
    delta.exception = null;
    delta.traceback = null;
  }
}

/** The terminal outcomes of a delta's events, for z4j_tasks_total / z4j_task_duration_seconds. */
export function taskOutcomes(events: readonly NormalisedEvent[]): TaskOutcome[] {
  const outcomes: TaskOutcome[] = [];
  for (const event of events) {
    if (!isTaskEvent(event)) continue;
    const state = STATE_FOR_KIND[event.kind];
    if (state === undefined || !TERMINAL_STATES.has(state)) continue;
    const runtime = state === 'success' ? nonNegativeInteger(event.data.runtime_ms) : undefined;
    outcomes.push({
      projectId: event.projectId,
      taskName: shortText(event.data.task_name, MAX_TASK_NAME_LENGTH) ?? 'unknown',
      state,
      durationSeconds: runtime !== undefined && runtime > 0 ? runtime / 1000 : undefined,
    });
  }
  return outcomes;
}

function max(a: number | null, b: number): number {
  return a === null || b > a ? b : a;
}

function isPresent(value: JsonValue | undefined): value is JsonValue {
  return value !== undefined && value !== null;
}

/** A non-empty string (stringified numbers too, as str() did), cut to `limit`. */
export function shortText(value: JsonValue | undefined, limit: number, trim = true): string | null {
  let text: string;
  if (typeof value === 'string') text = trim ? value.trim() : value;
  else if (typeof value === 'number' || typeof value === 'bigint') text = String(value);
  else return null;
  if (text === '') return null;
  return storableText(text.length > limit ? text.slice(0, limit) : text);
}

/** int() of the original: integers, integral floats and numeric strings; negatives and junk are dropped. */
export function nonNegativeInteger(value: JsonValue | undefined): number | undefined {
  let number: number;
  if (typeof value === 'number') number = value;
  else if (value instanceof JsonFloat) number = value.value;
  else if (typeof value === 'bigint') number = value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Number.NaN;
  else if (typeof value === 'string' && /^\s*\d+(\.\d*)?\s*$/.test(value)) number = Number(value);
  else return undefined;
  if (!Number.isFinite(number) || number < 0) return undefined;
  const truncated = Math.trunc(number);
  return Number.isSafeInteger(truncated) ? truncated : undefined;
}

/** Parent/root reference: at most 200 chars and not the task itself (§2.3). */
function canvasRef(value: JsonValue | undefined, taskId: string): string | null {
  if (typeof value !== 'string') return null;
  const ref = value.trim();
  if (ref === '' || ref.length > MAX_REF_LENGTH || ref.includes('\u0000') || ref === taskId) return null;
  return storableText(ref);
}

function tagList(value: JsonValue | undefined): string[] | null {
  if (!Array.isArray(value)) return null;
  const tags: string[] = [];
  for (const item of value) {
    const tag = shortText(item, MAX_REF_LENGTH);
    if (tag !== null && !tags.includes(tag)) tags.push(tag);
    if (tags.length >= MAX_TAGS) break;
  }
  return tags;
}
