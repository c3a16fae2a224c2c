import { sql, type Expression, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';
import * as v from 'valibot';
import type { Database } from '@z4j/db';
import { decodeTimestampCursor, timestampCursorKey, timestampText, type TimestampCursor } from '../audit/timestamp-cursor.js';
import { timestampInput } from '../audit/timestamp-input.js';
import { exportFormatInput } from '../exports/table-export.js';
import { pageOf, paginationQuery } from '../http/pagination.js';
import {
  TASK_FIELD_NAMES,
  TASK_LIST_FIELDS,
  TASK_PRIORITIES,
  TASK_STATES,
  taskSelection,
  type TaskField,
  type TaskPriority,
  type TaskState,
} from './task-fields.js';

/** A comma-separated list whose every entry is one of `allowed` (`state=failure,retry`); blanks are ignored. */
function csvOf<const T extends string>(allowed: readonly T[], what: string) {
  const known: ReadonlySet<string> = new Set(allowed);
  return v.pipe(
    v.string(),
    v.maxLength(1000),
    v.transform((text) => [...new Set(text.split(',').map((item) => item.trim()))].filter((item) => item !== '')),
    v.check((items) => items.length > 0, `expected at least one ${what}`),
    v.check((items) => items.every((item) => known.has(item)), `expected a comma-separated list of: ${allowed.join(', ')}`),
    v.transform((items) => items as T[]),
  );
}

function text(max: number) {
  return v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(max));
}

/**
 * `GET /projects/{slug}/tasks` query (§5.2): paging, filters, projection and
 * export format. Filters: `state` / `priority` (csv of the enums), `name`,
 * `queue`, `worker`, `engine` (exact), `since` (inclusive) / `until`
 * (exclusive) on `created_at`, and `search` (see {@link searchCondition}).
 */
export function taskListQuery(settings: { readonly restDefaultPageSize: number; readonly restMaxPageSize: number }) {
  return v.object({
    ...paginationQuery(settings).entries,
    state: v.optional(csvOf(TASK_STATES, 'state')),
    priority: v.optional(csvOf(TASK_PRIORITIES, 'priority')),
    name: v.optional(text(500)),
    queue: v.optional(text(500)),
    worker: v.optional(text(500)),
    engine: v.optional(text(40)),
    since: v.optional(timestampInput()),
    until: v.optional(timestampInput()),
    search: v.optional(text(500)),
    fields: v.optional(csvOf(TASK_FIELD_NAMES, 'field')),
    format: exportFormatInput(),
  });
}

export type TaskListQuery = v.InferOutput<ReturnType<typeof taskListQuery>>;

export interface TaskFilters {
  readonly state?: readonly TaskState[] | undefined;
  readonly priority?: readonly TaskPriority[] | undefined;
  readonly name?: string | undefined;
  readonly queue?: string | undefined;
  readonly worker?: string | undefined;
  readonly engine?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  readonly search?: string | undefined;
}

/** LIKE treats `%`, `_` and the escape character `\` specially; user text matches them literally. */
export function escapeLike(input: string): string {
  return input.replace(/[\\%_]/g, (char) => `\\${char}`);
}

/** Substring search needs 3 characters: a trigram index cannot narrow a shorter pattern, so it would read every row. */
export const MIN_SUBSTRING_SEARCH = 3;

/**
 * Free-text `search`, OR-ed over what people paste into a search box, each
 * arm answerable by an index so the whole condition is one BitmapOr:
 * - a task id prefix (`task_id like 'x%'`, the `(project_id, task_id
 *   text_pattern_ops)` btree): ids copied from a log, whole or cut short;
 * - a substring of the task name or the exception class (`ilike '%x%'`, the
 *   trigram GIN indexes), from 3 characters on;
 * - when the text is JSON, containment in the arguments (GIN `jsonb_path_ops`):
 *   an object in kwargs (`{"user_id": 42}`), an array in args (`[42, "x"]`),
 *   any other value as one of the args (`42`, `"x"`). A JSON object or array
 *   is only that: no task id or name starts with `{` or `[`.
 * On a big table the planner answers a selective search with a BitmapOr of
 * those indexes and a plentiful one by walking the newest-first index.
 */
export function searchCondition(search: string): Expression<SqlBool> {
  const json = jsonKind(search);
  // The text goes to Postgres as typed (not re-serialised by JS), so big integers keep every digit.
  if (json === 'object') return sql<SqlBool>`${sql.ref('tasks.kwargs')} @> ${search}::jsonb`;
  if (json === 'array') return sql<SqlBool>`${sql.ref('tasks.args')} @> ${search}::jsonb`;
  const escaped = escapeLike(search);
  const arms: Expression<SqlBool>[] = [sql<SqlBool>`${sql.ref('tasks.task_id')} like ${`${escaped}%`}`];
  if ([...search].length >= MIN_SUBSTRING_SEARCH) {
    arms.push(sql<SqlBool>`${sql.ref('tasks.name')} ilike ${`%${escaped}%`}`);
    arms.push(sql<SqlBool>`${sql.ref('tasks.exception')} ilike ${`%${escaped}%`}`);
  }
  if (json === 'scalar') arms.push(sql<SqlBool>`${sql.ref('tasks.args')} @> ${`[${search}]`}::jsonb`);
  return sql<SqlBool>`(${sql.join(arms, sql` or `)})`;
}

/**
 * A number with an exponent beyond Postgres' numeric (`8e771126`: easily a hex task-id prefix) is JSON to JS but
 * fails the `::jsonb` cast ("value overflows numeric format", a 500). Text with any 4-digit exponent is searched as
 * text only; no real argument is written that way.
 */
const HUGE_EXPONENT = /\d[eE][+-]?\d{4,}/;

function jsonKind(input: string): 'object' | 'array' | 'scalar' | undefined {
  if (HUGE_EXPONENT.test(input)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(input);
  } catch {
    return undefined;
  }
  if (Array.isArray(value)) return 'array';
  return value !== null && typeof value === 'object' ? 'object' : 'scalar';
}

/**
 * The project's tasks narrowed by `filters`. Each equality filter has its own
 * `(project_id, <column>, created_at desc, id desc)` index (migration 0004), so
 * a filter plus newest-first plus a limit is one ordered index range scan.
 */
export function filteredTasks(
  db: Kysely<Database>,
  projectId: string,
  filters: TaskFilters,
): SelectQueryBuilder<Database, 'tasks', object> {
  let select = db.selectFrom('tasks').where('tasks.project_id', '=', projectId);
  if (filters.state !== undefined) select = select.where('tasks.state', 'in', [...filters.state]);
  if (filters.priority !== undefined) select = select.where('tasks.priority', 'in', [...filters.priority]);
  if (filters.name !== undefined) select = select.where('tasks.name', '=', filters.name);
  if (filters.queue !== undefined) select = select.where('tasks.queue', '=', filters.queue);
  if (filters.worker !== undefined) select = select.where('tasks.worker_name', '=', filters.worker);
  if (filters.engine !== undefined) select = select.where('tasks.engine', '=', filters.engine);
  if (filters.since !== undefined) select = select.where('tasks.created_at', '>=', filters.since);
  if (filters.until !== undefined) select = select.where('tasks.created_at', '<', filters.until);
  if (filters.search !== undefined) select = select.where(searchCondition(filters.search));
  return select;
}

type TaskRow = Record<string, unknown>;

/** The query of one keyset page, newest first by `(created_at, id)`, each row with its position (`__at`, `__id`). */
export function taskPageQuery(
  db: Kysely<Database>,
  projectId: string,
  filters: TaskFilters,
  fields: readonly TaskField[],
  after: TimestampCursor | undefined,
  limit: number,
) {
  let select = filteredTasks(db, projectId, filters);
  if (after !== undefined) {
    select = select.where(
      sql<SqlBool>`(${sql.ref('tasks.created_at')}, ${sql.ref('tasks.id')}) < (${after.at}::timestamptz, ${after.id}::uuid)`,
    );
  }
  return select
    .select([...taskSelection(fields), timestampText('tasks.created_at').as('__at'), 'tasks.id as __id'])
    .orderBy('tasks.created_at', 'desc')
    .orderBy('tasks.id', 'desc')
    .limit(limit);
}

/** One keyset page and the position of each of its rows. */
export async function fetchTaskPage(
  db: Kysely<Database>,
  projectId: string,
  filters: TaskFilters,
  fields: readonly TaskField[],
  after: TimestampCursor | undefined,
  limit: number,
): Promise<{ rows: TaskRow[]; keys: TimestampCursor[] }> {
  const found = await taskPageQuery(db, projectId, filters, fields, after, limit).execute();
  const rows: TaskRow[] = [];
  const keys: TimestampCursor[] = [];
  for (const { __at, __id, ...row } of found as (TaskRow & { __at: string; __id: string })[]) {
    rows.push(row);
    keys.push({ at: __at, id: __id });
  }
  return { rows, keys };
}

/** A page of the task list: `{items, next_cursor}` with a µs-exact `(created_at, id)` cursor. */
export async function listTasks(
  db: Kysely<Database>,
  projectId: string,
  query: TaskListQuery,
): Promise<{ items: TaskRow[]; next_cursor: string | null }> {
  const after = query.cursor === undefined ? undefined : decodeTimestampCursor(query.cursor);
  const page = await fetchTaskPage(db, projectId, query, query.fields ?? TASK_LIST_FIELDS, after, query.limit + 1);
  const indexed = page.rows.map((row, index) => ({ row, key: page.keys[index]! }));
  const { items, next_cursor } = pageOf(indexed, query.limit, ({ key }) => timestampCursorKey(key.at, key.id));
  return { items: items.map(({ row }) => row), next_cursor };
}

/** How many tasks match, counted up to `max` (enough to tell "more than the export cap" without counting everything). */
export async function countTasksUpTo(db: Kysely<Database>, projectId: string, filters: TaskFilters, max: number): Promise<number> {
  const row = await db
    .selectFrom(
      filteredTasks(db, projectId, filters)
        .select(sql`1`.as('one'))
        .limit(max)
        .as('matched'),
    )
    .select(sql<number>`count(*)::int`.as('count'))
    .executeTakeFirstOrThrow();
  return row.count;
}

/** Size of one keyset page read by an export. */
export const EXPORT_BATCH_SIZE = 1000;

/**
 * The filtered tasks for an export, newest first, as keyset pages of
 * {@link EXPORT_BATCH_SIZE}, stopping after `max` rows: each page is its own
 * short query, so a slow download holds no connection or snapshot open.
 */
export async function* taskBatches(
  db: Kysely<Database>,
  projectId: string,
  filters: TaskFilters,
  fields: readonly TaskField[],
  max: number,
): AsyncGenerator<TaskRow[]> {
  let after: TimestampCursor | undefined;
  let left = max;
  while (left > 0) {
    const page = await fetchTaskPage(db, projectId, filters, fields, after, Math.min(EXPORT_BATCH_SIZE, left));
    if (page.rows.length > 0) yield page.rows;
    left -= page.rows.length;
    const last = page.keys.at(-1);
    if (last === undefined || page.rows.length < EXPORT_BATCH_SIZE) return;
    after = last;
  }
}
