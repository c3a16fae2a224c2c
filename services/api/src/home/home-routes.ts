import { sql, type Kysely, type SqlBool } from 'kysely';
import type { Database } from '@z4j/db';
import { decodeTimestampCursor, timestampCursorKey, timestampText } from '../audit/timestamp-cursor.js';
import { defineRoute, type AnyRoute, type ApiDeps, type Principal } from '../http/api-types.js';
import { pageOf, paginationQuery } from '../http/pagination.js';
import { TASK_STATES, type TaskState } from '../tasks/task-fields.js';

const DAY_MS = 86_400_000;

interface VisibleProject {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
}

/**
 * The active projects a caller sees on the home page: every one for a global
 * admin (at most Z4J_ADMIN_PROJECT_LIST_CAP), the membership projects for
 * everyone else, and only its own project for a project-bound API key.
 */
export async function visibleProjects(db: Kysely<Database>, principal: Principal, cap: number): Promise<VisibleProject[]> {
  const boundTo = principal.kind === 'api_key' ? principal.apiKey.projectId : null;
  const userId = principal.user.id;
  return db
    .selectFrom('projects')
    .select(['projects.id', 'projects.slug', 'projects.name'])
    .where('projects.is_active', '=', true)
    .$if(!principal.user.isAdmin, (q) =>
      q.where('projects.id', 'in', (eb) =>
        eb.selectFrom('memberships').select('memberships.project_id').where('memberships.user_id', '=', userId),
      ),
    )
    .$if(boundTo !== null, (q) => q.where('projects.id', '=', boundTo!))
    .orderBy('projects.slug')
    .limit(cap)
    .execute();
}

/** A failed task as the home page lists it, with the project it belongs to. */
export interface RecentFailure {
  readonly project_id: string;
  readonly project_slug: string;
  readonly id: string;
  readonly engine: string;
  readonly task_id: string;
  readonly name: string;
  readonly queue: string | null;
  readonly worker_name: string | null;
  readonly exception: string | null;
  readonly retry_count: number;
  readonly finished_at: string | null;
  readonly created_at: string;
}

/**
 * Cross-project cards of the home page (§8): a per-project summary and the
 * latest failures of every project the caller can see.
 */
export function createHomeRoutes(deps: ApiDeps): AnyRoute[] {
  const { settings } = deps;
  return [
    defineRoute({
      method: 'GET',
      path: '/home/summary',
      tag: 'home',
      summary: 'Per visible project: tasks created in the last 24 h by state, and agents online / offline',
      access: { kind: 'signed_in' },
      handler: async ({ c, principal }) => {
        const now = deps.now();
        const since = new Date(now.getTime() - DAY_MS);
        const projects = await visibleProjects(deps.db, principal, settings.adminProjectListCap);
        const ids = projects.map((project) => project.id);
        const counts = new Map<string, Record<TaskState, number>>();
        const agents = new Map<string, { online: number; offline: number }>();
        if (ids.length > 0) {
          // Two grouped queries for all projects, each an index range per project: (project_id, created_at) and agents'
          // (project_id, state).
          const taskRows = await deps.db
            .selectFrom('tasks')
            .select(['tasks.project_id', 'tasks.state', sql<number>`count(*)::int`.as('count')])
            .where('tasks.project_id', '=', sql<string>`any(${ids}::uuid[])`)
            .where('tasks.created_at', '>=', since)
            .groupBy(['tasks.project_id', 'tasks.state'])
            .execute();
          for (const row of taskRows) {
            let byState = counts.get(row.project_id);
            if (!byState) counts.set(row.project_id, (byState = emptyCounts()));
            byState[row.state] = row.count;
          }
          // Online = says so and heartbeated within Z4J_AGENT_OFFLINE_TIMEOUT_SECONDS (the health sweep may lag); revoked
          // agents are gone for good and not counted.
          const fresh = new Date(now.getTime() - settings.agentOfflineTimeoutSeconds * 1000);
          const agentRows = await deps.db
            .selectFrom('agents')
            .select([
              'agents.project_id',
              sql<number>`(count(*) filter (where ${sql.ref('agents.state')} = 'online' and ${sql.ref('agents.last_seen_at')} >= ${fresh}))::int`.as(
                'online',
              ),
              sql<number>`count(*)::int`.as('total'),
            ])
            .where('agents.project_id', '=', sql<string>`any(${ids}::uuid[])`)
            .where('agents.revoked_at', 'is', null)
            .groupBy('agents.project_id')
            .execute();
          for (const row of agentRows) agents.set(row.project_id, { online: row.online, offline: row.total - row.online });
        }
        return c.json({
          since: since.toISOString(),
          items: projects.map((project) => {
            const byState = counts.get(project.id) ?? emptyCounts();
            return {
              project_id: project.id,
              project_slug: project.slug,
              project_name: project.name,
              tasks: { total: Object.values(byState).reduce((sum, count) => sum + count, 0), by_state: byState },
              agents: agents.get(project.id) ?? { online: 0, offline: 0 },
            };
          }),
        });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/home/recent-failures',
      tag: 'home',
      summary: 'The latest failed tasks across the visible projects, newest first',
      access: { kind: 'signed_in' },
      query: paginationQuery(settings),
      handler: async ({ c, query, principal }) => {
        const projects = await visibleProjects(deps.db, principal, settings.adminProjectListCap);
        if (projects.length === 0) return c.json({ items: [], next_cursor: null });
        const after = query.cursor === undefined ? undefined : decodeTimestampCursor(query.cursor);
        const slugs = new Map(projects.map((project) => [project.id, project.slug]));
        // One ordered (project_id, state, created_at desc, id desc) index scan per project, each stopping after a page,
        // merged and cut to a page: cost grows with projects × page size, never with how many failures there are.
        const cursorCondition = after
          ? sql<SqlBool>`(${sql.ref('t.created_at')}, ${sql.ref('t.id')}) < (${after.at}::timestamptz, ${after.id}::uuid)`
          : sql<SqlBool>`true`;
        const rows = await sql<Omit<RecentFailure, 'project_slug'>>`
          select t.project_id, t.id, t.engine, t.task_id, t.name, t.queue, t.worker_name, t.exception, t.retry_count,
                 ${timestampText('t.finished_at')} as finished_at, ${timestampText('t.created_at')} as created_at
            from unnest(${[...slugs.keys()]}::uuid[]) as p(id)
            cross join lateral (
              select * from tasks t
               where t.project_id = p.id and t.state = 'failure' and ${cursorCondition}
               order by t.created_at desc, t.id desc
               limit ${query.limit + 1}
            ) t
           order by t.created_at desc, t.id desc
           limit ${query.limit + 1}`.execute(deps.db);
        const page = pageOf(rows.rows, query.limit, (row) => timestampCursorKey(row.created_at, row.id));
        return c.json({
          items: page.items.map((row) => ({ ...row, project_slug: slugs.get(row.project_id) ?? null })),
          next_cursor: page.next_cursor,
        });
      },
    }),
  ];
}

function emptyCounts(): Record<TaskState, number> {
  return Object.fromEntries(TASK_STATES.map((state) => [state, 0])) as Record<TaskState, number>;
}
