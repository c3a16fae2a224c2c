import { sql, type Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import { TASK_TREE_FIELDS, taskSelection } from './task-fields.js';

/** The most nodes one tree answer holds; a bigger canvas says `truncated: true`. */
export const TREE_MAX_NODES = 1000;

export interface TaskTree {
  /** The task the tree was asked for. */
  readonly task_id: string;
  /** The canvas root: the task's `root_task_id`, else its topmost known ancestor (itself when it has none). */
  readonly root_task_id: string;
  /** Ancestors of the task up to the root, then the root's descendants; oldest first, each task once. */
  readonly nodes: Record<string, unknown>[];
  readonly truncated: boolean;
}

/**
 * The canvas (chain, group, chord) around one task, within its project and
 * engine: its ancestors by `parent_task_id` up to the root, and every task
 * below the root (by `parent_task_id`, recursively, plus every task that
 * names the root as its `root_task_id`: group members often carry only that).
 * Both walks use the `(project_id, parent_task_id)` / `(project_id,
 * root_task_id)` indexes and stop at {@link TREE_MAX_NODES}, nearest the root
 * first when cut; cycles in bad data end because the recursive UNION drops
 * rows it already produced.
 */
export async function loadTaskTree(
  db: Kysely<Database>,
  target: { readonly projectId: string; readonly engine: string; readonly taskId: string; readonly rootTaskId: string | null },
): Promise<TaskTree> {
  const { projectId, engine, taskId } = target;
  const up = await sql<{ task_id: string }>`
    with recursive up(task_id, parent_task_id) as (
      select t.task_id, t.parent_task_id from tasks t
       where t.project_id = ${projectId} and t.engine = ${engine} and t.task_id = ${taskId}
      union
      select t.task_id, t.parent_task_id from tasks t join up on t.task_id = up.parent_task_id
       where t.project_id = ${projectId} and t.engine = ${engine}
    )
    select task_id from up limit ${TREE_MAX_NODES}`.execute(db);
  const ancestors = up.rows.map((row) => row.task_id);
  const rootTaskId = target.rootTaskId ?? ancestors.at(-1) ?? taskId;

  const room = TREE_MAX_NODES - ancestors.length;
  const down = await sql<{ task_id: string }>`
    with recursive down(task_id) as (
      select ${rootTaskId}::text
      union
      select t.task_id from tasks t join down on t.parent_task_id = down.task_id
       where t.project_id = ${projectId} and t.engine = ${engine}
    )
    (select task_id from down limit ${room + 1})
    union all
    (select t.task_id from tasks t
      where t.project_id = ${projectId} and t.engine = ${engine} and t.root_task_id = ${rootTaskId}
      limit ${room + 1})`.execute(db);
  const ids = new Set(ancestors);
  let truncated = false;
  for (const { task_id: id } of down.rows) {
    if (ids.has(id)) continue;
    if (ids.size >= TREE_MAX_NODES) {
      truncated = true;
      break;
    }
    ids.add(id);
  }
  const nodes = await db
    .selectFrom('tasks')
    .select(taskSelection(TASK_TREE_FIELDS))
    .where('tasks.project_id', '=', projectId)
    .where('tasks.engine', '=', engine)
    .where('tasks.task_id', '=', sql<string>`any(${[...ids]}::text[])`)
    .orderBy('tasks.created_at')
    .orderBy('tasks.id')
    .execute();
  return { task_id: taskId, root_task_id: rootTaskId, nodes, truncated };
}
