import { sql, type RawBuilder } from 'kysely';
import { timestampText } from '../audit/timestamp-cursor.js';

/** Task states (reference §2.4) and priorities, as the `task_state` / `task_priority` enums spell them. */
export const TASK_STATES = ['pending', 'received', 'started', 'success', 'failure', 'retry', 'revoked', 'rejected', 'unknown'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TASK_PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

function column(name: string): RawBuilder<unknown> {
  return sql`${sql.ref(`tasks.${name}`)}`;
}

/**
 * Every field a task view can carry, as the SQL that reads it. Timestamps are
 * Postgres' own UTC text with microseconds (`2026-01-01T12:00:00.000001+00:00`,
 * as audit rows show them), never a JS Date that would drop the µs; `runtime_ms`
 * (int8) is read as a double so both drivers hand back a number.
 */
const FIELDS = {
  id: column('id'),
  engine: column('engine'),
  task_id: column('task_id'),
  name: column('name'),
  queue: column('queue'),
  state: column('state'),
  priority: column('priority'),
  worker_name: column('worker_name'),
  retry_count: column('retry_count'),
  runtime_ms: sql`${sql.ref('tasks.runtime_ms')}::float8`,
  exception: column('exception'),
  traceback: column('traceback'),
  args: column('args'),
  kwargs: column('kwargs'),
  result: column('result'),
  parent_task_id: column('parent_task_id'),
  root_task_id: column('root_task_id'),
  tags: column('tags'),
  metadata: column('metadata'),
  eta: timestampText('tasks.eta'),
  received_at: timestampText('tasks.received_at'),
  started_at: timestampText('tasks.started_at'),
  finished_at: timestampText('tasks.finished_at'),
  created_at: timestampText('tasks.created_at'),
  updated_at: timestampText('tasks.updated_at'),
} satisfies Record<string, RawBuilder<unknown>>;

export type TaskField = keyof typeof FIELDS;
export const TASK_FIELDS: Readonly<Record<TaskField, RawBuilder<unknown>>> = FIELDS;
export const TASK_FIELD_NAMES = Object.keys(TASK_FIELDS) as TaskField[];

/** Heavy payload fields: in the detail and in exports, but in a list page only when `fields` names them. */
const HEAVY_FIELDS: ReadonlySet<TaskField> = new Set(['args', 'kwargs', 'result', 'traceback', 'metadata']);

/** What a list page shows when the caller names no `fields`. */
export const TASK_LIST_FIELDS: readonly TaskField[] = TASK_FIELD_NAMES.filter((field) => !HEAVY_FIELDS.has(field));

/** What the detail shows and an export holds by default: everything. */
export const TASK_ALL_FIELDS: readonly TaskField[] = TASK_FIELD_NAMES;

/** The nodes of a canvas tree: enough to draw and label each box. */
export const TASK_TREE_FIELDS: readonly TaskField[] = [
  'id',
  'engine',
  'task_id',
  'name',
  'state',
  'queue',
  'worker_name',
  'parent_task_id',
  'root_task_id',
  'retry_count',
  'runtime_ms',
  'exception',
  'created_at',
  'started_at',
  'finished_at',
];

export function isTaskField(name: string): name is TaskField {
  return Object.hasOwn(TASK_FIELDS, name);
}

/** The select list for `fields`, each aliased to its field name. */
export function taskSelection(fields: readonly TaskField[]) {
  return fields.map((field) => TASK_FIELDS[field].as(field));
}
