import { sql, type Kysely } from 'kysely';
import * as v from 'valibot';
import type { Database } from '@z4j/db';
import { AppError } from '@z4j/errors';
import { createSlidingWindowLimiter } from '@z4j/runtime';
import { issueCommand, sourceIpOf, type CommandAgent } from '../commands/command-issuer.js';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps, type RouteInput } from '../http/api-types.js';
import { decodeTextCursor, pageOf, paginationQuery } from '../http/pagination.js';
import { isUuid } from '../http/uuid.js';

/** `trigger` fires a schedule's task at once: at most this many times per schedule per minute. */
export const TRIGGERS_PER_SCHEDULE_PER_MINUTE = 6;

function selectSchedules(db: Kysely<Database>, projectId: string) {
  return db
    .selectFrom('schedules')
    .select([
      'id',
      'project_id',
      'name',
      'engine',
      'scheduler',
      'task_name',
      'kind',
      'expression',
      'timezone',
      'queue',
      'priority',
      'args',
      'kwargs',
      'is_enabled',
      'catch_up',
      'last_run_at',
      'next_run_at',
      'total_runs',
      'external_id',
      'source',
      'source_hash',
      'last_fire_id',
      'created_at',
      'updated_at',
    ])
    .where('project_id', '=', projectId);
}

type ScheduleRow = Awaited<ReturnType<ReturnType<typeof selectSchedules>['executeTakeFirstOrThrow']>>;

/** A schedule as the API shows it. */
export interface SchedulePublic {
  readonly id: string;
  readonly project_id: string;
  readonly name: string;
  readonly engine: string;
  /** Which scheduler owns it (celery-beat, z4j-scheduler, ...): the agent advertising it receives its commands. */
  readonly scheduler: string;
  readonly task_name: string;
  readonly kind: string;
  readonly expression: string;
  readonly timezone: string;
  readonly queue: string | null;
  readonly priority: string;
  readonly args: unknown;
  readonly kwargs: unknown;
  readonly is_enabled: boolean;
  readonly catch_up: string;
  readonly last_run_at: Date | null;
  readonly next_run_at: Date | null;
  /** A bigint column; a count of runs fits a JSON number. */
  readonly total_runs: number;
  readonly external_id: string | null;
  readonly source: string;
  readonly source_hash: string | null;
  readonly last_fire_id: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

function schedulePublic(row: ScheduleRow): SchedulePublic {
  return { ...row, total_runs: Number(row.total_runs) };
}

async function findSchedule(db: Kysely<Database>, projectId: string, scheduleId: string | undefined): Promise<ScheduleRow> {
  const id = (scheduleId ?? '').toLowerCase();
  const row = isUuid(id) ? await selectSchedules(db, projectId).where('id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw apiError.notFound('schedule');
  return row;
}

/**
 * The agent that receives a schedule's commands (§3.1): an online, unrevoked
 * agent of the project that advertises the schedule's scheduler, the most
 * recently seen first. None is 404 `no_agent`, with the reason in details
 * (no agent online at all, or none with this scheduler adapter).
 */
async function pickSchedulerAgent(db: Kysely<Database>, projectId: string, schedule: ScheduleRow): Promise<CommandAgent> {
  const online = await db
    .selectFrom('agents')
    .select([
      'id',
      'name',
      'state',
      'engine_adapters',
      'scheduler_adapters',
      sql<boolean>`${schedule.scheduler} = any(scheduler_adapters)`.as('runs_scheduler'),
    ])
    .where('project_id', '=', projectId)
    .where('state', '=', 'online')
    .where('revoked_at', 'is', null)
    .orderBy(sql`last_seen_at desc nulls last`)
    .orderBy('id')
    .execute();
  const chosen = online.find((agent) => agent.runs_scheduler);
  if (chosen) return chosen;
  const reason = online.length === 0 ? 'no_online_agent' : 'scheduler_not_installed';
  throw new AppError(
    'NO_AGENT',
    online.length === 0
      ? 'no agent of this project is online; start one and retry'
      : `no online agent runs the scheduler ${schedule.scheduler}; install its scheduler adapter on an agent`,
    { status: 404, details: { reason, scheduler: schedule.scheduler, schedule_id: schedule.id } },
  );
}

type ScheduleAction = 'schedule.enable' | 'schedule.disable' | 'schedule.trigger_now';

/**
 * Schedules over REST: the read endpoints, and the operator controls that
 * act through the agent running the schedule's scheduler (§3.1 "Schedule
 * actions sent to agents"). Enable/disable set schedules.is_enabled in the
 * same transaction that stores the command (the brain's row reflects the
 * operator's intent at once; the agent's scheduler follows when it runs the
 * command). Trigger fires the task once and leaves the schedule as it is.
 * Each answers 202 with `{schedule, command}`. Create/update/delete, import,
 * diff and resync are not here.
 */
export function createScheduleRoutes(deps: ApiDeps): AnyRoute[] {
  const triggerLimiter = createSlidingWindowLimiter({
    limit: TRIGGERS_PER_SCHEDULE_PER_MINUTE,
    windowMs: 60_000,
    now: () => deps.now().getTime(),
  });

  async function control(
    { c, params, project, principal, audit }: RouteInput<unknown, unknown, { kind: 'project'; role: 'operator' }>,
    action: ScheduleAction,
  ): Promise<Response> {
    const schedule = await findSchedule(deps.db, project.id, params.scheduleId);
    if (action === 'schedule.trigger_now' && !triggerLimiter.hit(schedule.id)) {
      throw apiError.rateLimited(`at most ${TRIGGERS_PER_SCHEDULE_PER_MINUTE} triggers of one schedule per minute`);
    }
    const agent = await pickSchedulerAgent(deps.db, project.id, schedule);
    const enabled = action === 'schedule.enable' ? true : action === 'schedule.disable' ? false : undefined;
    const issued = await issueCommand(deps, {
      project,
      agent,
      spec: {
        action,
        targetType: 'schedule',
        targetId: schedule.id,
        payload: {
          schedule_id: schedule.name,
          schedule_name: schedule.name,
          external_id: schedule.external_id,
          scheduler: schedule.scheduler,
        },
      },
      idempotencyKey: null,
      issuedBy: principal.user.id,
      sourceIp: sourceIpOf(c),
      audit,
      alsoInTransaction:
        enabled === undefined
          ? undefined
          : async (trx) => {
              await trx
                .updateTable('schedules')
                .set({ is_enabled: enabled, updated_at: deps.now() })
                .where('id', '=', schedule.id)
                .where('project_id', '=', project.id)
                .execute();
            },
    });
    const updated = await findSchedule(deps.db, project.id, schedule.id);
    return c.json({ schedule: schedulePublic(updated), command: issued.command }, 202);
  }

  const controlRoute = (path: 'enable' | 'disable' | 'trigger', action: ScheduleAction, summary: string) =>
    defineRoute({
      method: 'POST',
      path: `/projects/:slug/schedules/:scheduleId/${path}`,
      tag: 'schedules',
      summary,
      access: { kind: 'project', role: 'operator' },
      status: 202,
      handler: (input) => control(input, action),
    });

  return [
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/schedules',
      tag: 'schedules',
      summary: "The project's schedules by name (filters: scheduler, engine)",
      access: { kind: 'project', role: 'viewer' },
      query: v.object({
        ...paginationQuery(deps.settings).entries,
        scheduler: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
        engine: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(40))),
      }),
      handler: async ({ c, query, project }) => {
        let select = selectSchedules(deps.db, project.id);
        if (query.scheduler !== undefined) select = select.where('scheduler', '=', query.scheduler);
        if (query.engine !== undefined) select = select.where('engine', '=', query.engine);
        const after = decodeTextCursor(query.cursor);
        if (after) select = select.where(sql<boolean>`(name, id) > (${after[0]}, ${after[1]}::uuid)`);
        const rows = await select
          .orderBy('name')
          .orderBy('id')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => [row.name, row.id]);
        return c.json({ items: page.items.map(schedulePublic), next_cursor: page.next_cursor });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/schedules/:scheduleId',
      tag: 'schedules',
      summary: 'One schedule',
      access: { kind: 'project', role: 'viewer' },
      handler: async ({ c, params, project }) => c.json(schedulePublic(await findSchedule(deps.db, project.id, params.scheduleId))),
    }),
    controlRoute('enable', 'schedule.enable', "Enable a schedule and tell its scheduler's agent (schedule.enable)"),
    controlRoute('disable', 'schedule.disable', "Disable a schedule and tell its scheduler's agent (schedule.disable)"),
    controlRoute(
      'trigger',
      'schedule.trigger_now',
      `Fire a schedule's task once now (schedule.trigger_now); at most ${TRIGGERS_PER_SCHEDULE_PER_MINUTE} per schedule per minute`,
    ),
  ];
}
