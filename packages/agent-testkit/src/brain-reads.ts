import type { Kysely, Selectable } from 'kysely';
import type { Database } from '@z4j/db';

/**
 * What the suite reads back from the brain: its own tables, as the ingest projections and the gateway wrote them.
 * Every read is scoped to the suite's project (and engine), so other suites on the same server never interfere.
 */

/** The scope of the reads: the suite's project and the adapter's engine. */
export interface BrainScope {
  readonly db: Kysely<Database>;
  readonly projectId: string;
  readonly engine: string;
}

const TASK_COLUMNS = [
  'task_id',
  'state',
  'name',
  'queue',
  'args',
  'result',
  'exception',
  'traceback',
  'retry_count',
  'worker_name',
  'started_at',
  'finished_at',
] as const;

/** A task as the brain projected it from the events. */
export type TaskRow = Pick<Selectable<Database['tasks']>, (typeof TASK_COLUMNS)[number]>;
/** A task's state in the brain (`success`, `failure`, `revoked`, …). */
export type TaskState = TaskRow['state'];

/**
 * The `tasks` rows of these task ids, by task id.
 *
 * @example
 * const rows = await taskRows(scope, ['work:1']);
 * rows.get('work:1')?.state; // 'success'
 */
export async function taskRows(scope: BrainScope, taskIds: readonly string[]): Promise<Map<string, TaskRow>> {
  if (taskIds.length === 0) return new Map();
  const rows = await scope.db
    .selectFrom('tasks')
    .select(TASK_COLUMNS)
    .where('project_id', '=', scope.projectId)
    .where('engine', '=', scope.engine)
    .where('task_id', 'in', [...taskIds])
    .execute();
  return new Map(rows.map((row) => [row.task_id, row]));
}

/** One task's row, or undefined before the brain has it. */
export async function taskRow(scope: BrainScope, taskId: string): Promise<TaskRow | undefined> {
  return (await taskRows(scope, [taskId])).get(taskId);
}

/** The suite's stored events: the partitioned `events` table, narrowed to the project and engine. */
function scopedEvents(scope: BrainScope) {
  return scope.db.selectFrom('events').where('project_id', '=', scope.projectId).where('engine', '=', scope.engine);
}

/**
 * The kinds of the events the brain stored for one task, sorted by name (events of one millisecond have no order of
 * their own).
 *
 * @example
 * await eventKinds(scope, 'work:1'); // ['task.received', 'task.started', 'task.succeeded']
 */
export async function eventKinds(scope: BrainScope, taskId: string): Promise<string[]> {
  const rows = await scopedEvents(scope).select('kind').where('task_id', '=', taskId).execute();
  return rows.map((row) => row.kind).sort();
}

/** Distinct event ids the brain stored for these tasks: what survived every re-send and restart, each once. */
export async function distinctEventCount(scope: BrainScope, taskIds: readonly string[]): Promise<number> {
  if (taskIds.length === 0) return 0;
  const row = await scopedEvents(scope)
    .select(({ fn }) => fn.count<string>('id').distinct().as('n'))
    .where('task_id', 'in', [...taskIds])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Stored events of one kind that are not about a task (schedule snapshots, …), of this engine. */
export async function engineEventCount(scope: BrainScope, kind: string): Promise<number> {
  const row = await scopedEvents(scope)
    .select(({ fn }) => fn.countAll<string>().as('n'))
    .where('kind', '=', kind)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The `workers` row the heartbeats and events made for a worker of this engine. */
export async function workerRow(scope: BrainScope, name: string) {
  return scope.db
    .selectFrom('workers')
    .select(['name', 'state', 'concurrency', 'queues'])
    .where('project_id', '=', scope.projectId)
    .where('engine', '=', scope.engine)
    .where('name', '=', name)
    .executeTakeFirst();
}

/** A queue's depth as the last heartbeat reported it, or undefined before one did. */
export async function queueDepth(scope: BrainScope, queue: string): Promise<number | undefined> {
  const row = await scope.db
    .selectFrom('queues')
    .select('pending_count')
    .where('project_id', '=', scope.projectId)
    .where('engine', '=', scope.engine)
    .where('name', '=', queue)
    .executeTakeFirst();
  return row?.pending_count;
}

/** What the agent's hello told the brain. */
export async function agentRow(
  scope: BrainScope,
  agentId: string,
): Promise<Pick<Selectable<Database['agents']>, 'state' | 'engine_adapters' | 'scheduler_adapters' | 'capabilities'>> {
  return scope.db
    .selectFrom('agents')
    .select(['state', 'engine_adapters', 'scheduler_adapters', 'capabilities'])
    .where('id', '=', agentId)
    .executeTakeFirstOrThrow();
}

/** The brain's copy of a schedule, by the name its scheduler reports. */
export async function scheduleRow(
  scope: BrainScope,
  name: string,
): Promise<
  Pick<Selectable<Database['schedules']>, 'id' | 'name' | 'scheduler' | 'task_name' | 'kind' | 'expression' | 'is_enabled'> | undefined
> {
  return scope.db
    .selectFrom('schedules')
    .select(['id', 'name', 'scheduler', 'task_name', 'kind', 'expression', 'is_enabled'])
    .where('project_id', '=', scope.projectId)
    .where('name', '=', name)
    .executeTakeFirst();
}
