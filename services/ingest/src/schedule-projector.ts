import { sql, type Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import type { Logger } from '@z4j/logger';
import type { NormalisedEvent } from './normalise-event.js';
import {
  deletedScheduleScheduler,
  mapSchedule,
  scheduleName,
  snapshotScheduler,
  type ScheduleMapResult,
  type ScheduleRow,
} from './schedule-mapping.js';

/**
 * Projects the schedule registry events (§2.3) onto `schedules`. These are
 * rare (a snapshot per agent every 900 s, an event per edit), so this uses the
 * query builder, one statement per schedule, inside the group-commit
 * transaction. An upsert that would change nothing does not touch the row:
 * every row change fires NOTIFY z4j_schedules_changed, and a periodic snapshot
 * must not wake every scheduler.
 *
 * A malformed schedule is logged and skipped; it never fails the batch.
 */

export const SCHEDULE_KINDS: ReadonlySet<string> = new Set([
  'schedule.created',
  'schedule.updated',
  'schedule.deleted',
  'schedule.snapshot',
]);

export interface ScheduleSummary {
  upserted: number;
  deleted: number;
  skipped: number;
}

export async function projectSchedules(
  db: Kysely<Database>,
  events: readonly NormalisedEvent[],
  logger: Logger,
  now: Date,
): Promise<ScheduleSummary> {
  const summary: ScheduleSummary = { upserted: 0, deleted: 0, skipped: 0 };
  const relevant = events
    .filter((event) => SCHEDULE_KINDS.has(event.kind))
    // Per project, in the order they happened: a delete after a create must win.
    .sort((a, b) => (a.projectId < b.projectId ? -1 : a.projectId > b.projectId ? 1 : a.occurredMicros - b.occurredMicros));
  if (relevant.length === 0) return summary;

  // schedules has a foreign key to projects: skip events of a project that is gone instead of failing the batch.
  const projectIds = [...new Set(relevant.map((event) => event.projectId))];
  const existing = await db.selectFrom('projects').select('id').where('id', 'in', projectIds).execute();
  const live = new Set(existing.map((row) => row.id));

  for (const event of relevant) {
    if (!live.has(event.projectId)) continue;
    const log = { project_id: event.projectId, event_id: event.id, kind: event.kind };
    switch (event.kind) {
      case 'schedule.created':
      case 'schedule.updated': {
        const mapped = mapSchedule(event.data.schedule, { engine: event.engine });
        if (!mapped.ok) {
          skip(logger, summary, log, mapped);
          break;
        }
        if (await upsertSchedule(db, event.projectId, mapped.row, now)) summary.upserted += 1;
        break;
      }
      case 'schedule.deleted': {
        const name = scheduleName(event.data);
        if (name === undefined) {
          skip(logger, summary, log, { ok: false, error: 'missing name', name });
          break;
        }
        const result = await db
          .deleteFrom('schedules')
          .where('project_id', '=', event.projectId)
          .where('scheduler', '=', deletedScheduleScheduler(event.data, event.engine))
          .where('name', '=', name)
          .executeTakeFirst();
        summary.deleted += Number(result.numDeletedRows);
        break;
      }
      case 'schedule.snapshot':
        await reconcileSnapshot(db, event, logger, summary, now);
        break;
      default:
        break;
    }
  }
  return summary;
}

function skip(logger: Logger, summary: ScheduleSummary, log: Record<string, unknown>, mapped: ScheduleMapResult & { ok: false }): void {
  summary.skipped += 1;
  logger.warn({ ...log, schedule: mapped.name, reason: mapped.error }, 'ingest:schedule:skipped');
}

/** Insert or update one schedule; false when the stored row already said the same. */
async function upsertSchedule(db: Kysely<Database>, projectId: string, row: ScheduleRow, now: Date): Promise<boolean> {
  const values = {
    engine: row.engine,
    task_name: row.taskName,
    kind: row.kind,
    expression: row.expression,
    timezone: row.timezone,
    queue: row.queue,
    priority: row.priority,
    args: sql<string>`${row.args}::jsonb`,
    kwargs: sql<string>`${row.kwargs}::jsonb`,
    is_enabled: row.isEnabled,
    catch_up: row.catchUp,
    external_id: row.externalId,
    last_run_at: row.lastRunAt,
    next_run_at: row.nextRunAt,
    total_runs: row.totalRuns,
    ...(row.source === undefined ? {} : { source: row.source }),
    ...(row.sourceHash === undefined ? {} : { source_hash: row.sourceHash }),
  };
  const compared = Object.keys(values).map((column) => sql.ref(column));
  const result = await db
    .insertInto('schedules')
    .values({ project_id: projectId, scheduler: row.scheduler, name: row.name, ...values, created_at: now, updated_at: now })
    .onConflict((conflict) =>
      conflict
        .columns(['project_id', 'scheduler', 'name'])
        .doUpdateSet({ ...values, updated_at: now })
        .where(
          sql<boolean>`(${sql.join(compared.map((ref) => sql`schedules.${ref}`))}) is distinct from (${sql.join(
            compared.map((ref) => sql`excluded.${ref}`),
          )})`,
        ),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/**
 * `schedule.snapshot` = the whole inventory of one scheduler: insert new,
 * update changed, delete the ones that are gone, scoped to (project, scheduler).
 * A listed schedule that cannot be mapped but has a name is neither written
 * nor deleted: a bad entry must not erase the stored one.
 */
async function reconcileSnapshot(
  db: Kysely<Database>,
  event: NormalisedEvent,
  logger: Logger,
  summary: ScheduleSummary,
  now: Date,
): Promise<void> {
  const schedules = event.data.schedules;
  const scheduler = snapshotScheduler(event.data, event.engine);
  const log = { project_id: event.projectId, event_id: event.id, kind: event.kind, scheduler };
  if (!Array.isArray(schedules)) {
    // Without the list we cannot tell what is gone; deleting everything would be the worst reading.
    skip(logger, summary, log, { ok: false, error: 'snapshot without a schedules list', name: undefined });
    return;
  }
  const keep = new Set<string>();
  const rows = new Map<string, ScheduleRow>();
  for (const item of schedules) {
    const mapped = mapSchedule(item, { engine: event.engine, scheduler });
    if (mapped.ok) {
      rows.set(mapped.row.name, mapped.row);
      keep.add(mapped.row.name);
    } else {
      if (mapped.name !== undefined) keep.add(mapped.name);
      skip(logger, summary, log, mapped);
    }
  }
  let changed = 0;
  for (const row of rows.values()) if (await upsertSchedule(db, event.projectId, row, now)) changed += 1;
  const names = [...keep];
  const deleted = await db
    .deleteFrom('schedules')
    .where('project_id', '=', event.projectId)
    .where('scheduler', '=', scheduler)
    .where(sql<boolean>`name <> all(${names}::text[])`)
    .executeTakeFirst();
  summary.upserted += changed;
  summary.deleted += Number(deleted.numDeletedRows);
  const reason = typeof event.data.reason === 'string' ? event.data.reason : 'unknown';
  logger.info(
    { ...log, reason, listed: schedules.length, changed, deleted: Number(deleted.numDeletedRows) },
    'ingest:schedule:snapshot_reconciled',
  );
}
