import { sql, type SqlBool } from 'kysely';
import * as v from 'valibot';
import { decodeTimestampCursor, timestampCursorKey, timestampText } from '../audit/timestamp-cursor.js';
import { assertExportWithinCap, exportFileStamp, exportResponse } from '../exports/table-export.js';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';
import { pageOf, paginationQuery } from '../http/pagination.js';
import { TASK_ALL_FIELDS, taskSelection } from './task-fields.js';
import { countTasksUpTo, listTasks, taskBatches, taskListQuery } from './task-listing.js';
import { loadTaskTree } from './task-tree.js';

/**
 * The read side of tasks (§5.2): the filtered, cursor-paged list (and its
 * CSV / XLSX / JSON export with the same filters), one task in full, its
 * canvas tree, and the raw events it was projected from.
 */
export function createTaskRoutes(deps: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/tasks',
      tag: 'tasks',
      summary:
        'Tasks, newest first (filters: state, priority, name, queue, worker, engine, since, until, search; fields; format=csv|xlsx|json exports every match)',
      access: { kind: 'project', role: 'viewer' },
      query: taskListQuery(deps.settings),
      handler: async ({ c, query, project }) => {
        if (query.format === undefined) return c.json(await listTasks(deps.db, project.id, query));
        const cap = deps.settings.tasksExportMaxRows;
        assertExportWithinCap(await countTasksUpTo(deps.db, project.id, query, cap + 1), cap);
        const fields = query.fields ?? TASK_ALL_FIELDS;
        return exportResponse({
          format: query.format,
          basename: `${project.slug}-tasks-${exportFileStamp(deps.now())}`,
          columns: fields,
          batches: taskBatches(deps.db, project.id, query, fields, cap),
          sheetName: 'tasks',
          onStreamError: (error) => deps.logger.error({ err: error, project: project.slug }, 'api:tasks:export_failed'),
        });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/tasks/:engine/:taskId',
      tag: 'tasks',
      summary: 'One task in full: args, kwargs, result, exception and traceback, timestamps, retries, worker, parent and root',
      access: { kind: 'project', role: 'viewer' },
      handler: async ({ c, params, project }) => {
        const task = await deps.db
          .selectFrom('tasks')
          .select(taskSelection(TASK_ALL_FIELDS))
          .where('tasks.project_id', '=', project.id)
          .where('tasks.engine', '=', params.engine ?? '')
          .where('tasks.task_id', '=', params.taskId ?? '')
          .executeTakeFirst();
        if (!task) throw apiError.notFound('task');
        return c.json(task);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/tasks/:engine/:taskId/tree',
      tag: 'tasks',
      summary: "The task's canvas tree: its ancestors up to the root and the root's descendants (at most 1000 nodes)",
      access: { kind: 'project', role: 'viewer' },
      handler: async ({ c, params, project }) => {
        const engine = params.engine ?? '';
        const taskId = params.taskId ?? '';
        const task = await deps.db
          .selectFrom('tasks')
          .select('tasks.root_task_id')
          .where('tasks.project_id', '=', project.id)
          .where('tasks.engine', '=', engine)
          .where('tasks.task_id', '=', taskId)
          .executeTakeFirst();
        if (!task) throw apiError.notFound('task');
        return c.json(await loadTaskTree(deps.db, { projectId: project.id, engine, taskId, rootTaskId: task.root_task_id }));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/events',
      tag: 'events',
      summary: 'The raw events of one task, oldest first (task_id required; engine optional)',
      access: { kind: 'project', role: 'viewer' },
      query: v.object({
        ...paginationQuery(deps.settings).entries,
        task_id: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
        engine: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(40))),
      }),
      handler: async ({ c, query, project }) => {
        // (project_id, task_id, occurred_at) index on every daily partition; ties on occurred_at (µs) go by id.
        let select = deps.db
          .selectFrom('events')
          .select([
            'events.id',
            'events.engine',
            'events.task_id',
            'events.kind',
            'events.agent_id',
            timestampText('events.occurred_at').as('occurred_at'),
            timestampText('events.ingested_at').as('ingested_at'),
            'events.payload',
          ])
          .where('events.project_id', '=', project.id)
          .where('events.task_id', '=', query.task_id);
        if (query.engine !== undefined) select = select.where('events.engine', '=', query.engine);
        if (query.cursor !== undefined) {
          const after = decodeTimestampCursor(query.cursor);
          select = select.where(
            sql<SqlBool>`(${sql.ref('events.occurred_at')}, ${sql.ref('events.id')}) > (${after.at}::timestamptz, ${after.id}::uuid)`,
          );
        }
        const rows = await select
          .orderBy('events.occurred_at')
          .orderBy('events.id')
          .limit(query.limit + 1)
          .execute();
        return c.json(pageOf(rows, query.limit, (row) => timestampCursorKey(row.occurred_at, row.id)));
      },
    }),
  ];
}
