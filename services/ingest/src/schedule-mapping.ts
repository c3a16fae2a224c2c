import type { JsonObject, JsonValue } from '@z4j/protocol';
import { jsonText } from '@z4j/db';
import { isObject } from './normalise-event.js';
import { formatMicros, parseTimestampMicros } from './occurred-at.js';
import { nonNegativeInteger, shortText, type TaskPriority } from './task-reduction.js';

/**
 * A Schedule dict from an agent's scheduler adapter (z4j-core `Schedule`), as
 * sent in `schedule.created`/`updated` (`data.schedule`) and `schedule.snapshot`
 * (`data.schedules[]`), mapped leniently onto a `schedules` row. Lenient where a
 * default is harmless (timezone, queue, args, enabled, ...); a schedule without
 * a usable name, task_name, kind or expression is refused, because storing it
 * would make the scheduler fire something else than the agent has.
 */

export type ScheduleKind = 'cron' | 'interval' | 'solar' | 'clocked';
export type ScheduleCatchUp = 'skip' | 'fire_one_missed' | 'fire_all_missed';

export interface ScheduleRow {
  readonly engine: string;
  readonly scheduler: string;
  readonly name: string;
  readonly taskName: string;
  readonly kind: ScheduleKind;
  readonly expression: string;
  readonly timezone: string;
  readonly queue: string | null;
  readonly priority: TaskPriority;
  /** JSON text of an array. */
  readonly args: string;
  /** JSON text of an object. */
  readonly kwargs: string;
  readonly isEnabled: boolean;
  readonly catchUp: ScheduleCatchUp;
  readonly externalId: string | null;
  readonly lastRunAt: string | null;
  readonly nextRunAt: string | null;
  readonly totalRuns: number;
  /** Undefined = the agent did not say; an existing row keeps its value, a new one gets the column default. */
  readonly source: string | undefined;
  readonly sourceHash: string | null | undefined;
}

export type ScheduleMapResult =
  { readonly ok: true; readonly row: ScheduleRow } | { readonly ok: false; readonly error: string; readonly name: string | undefined };

const KINDS: ReadonlySet<string> = new Set(['cron', 'interval', 'solar', 'clocked']);
const CATCH_UPS: ReadonlySet<string> = new Set(['skip', 'fire_one_missed', 'fire_all_missed']);
const PRIORITIES: ReadonlySet<string> = new Set(['critical', 'high', 'normal', 'low']);

/** Column limits: name has a CHECK (1..200); the others are kept inside btree entry limits. */
const MAX_NAME = 200;
const MAX_SCHEDULER = 200;
const MAX_TASK_NAME = 500;
const MAX_EXPRESSION = 1000;
const MAX_SHORT = 200;

export interface ScheduleDefaults {
  /** The event's engine: the default for both `engine` and `scheduler` (§2.3). */
  readonly engine: string;
  /** Forces the scheduler (a snapshot is scoped to one). */
  readonly scheduler?: string;
}

export function mapSchedule(value: JsonValue | undefined, defaults: ScheduleDefaults): ScheduleMapResult {
  if (!isObject(value)) return { ok: false, error: 'not an object', name: undefined };
  const name = shortText(value.name, MAX_NAME) ?? undefined;
  if (name === undefined) return { ok: false, error: 'missing name', name };
  const taskName = shortText(value.task_name, MAX_TASK_NAME);
  if (taskName === null) return { ok: false, error: 'missing task_name', name };
  const kind = typeof value.kind === 'string' ? value.kind.trim().toLowerCase() : '';
  if (!KINDS.has(kind)) return { ok: false, error: `unknown kind ${JSON.stringify(kind)}`, name };
  const expression = shortText(value.expression, MAX_EXPRESSION);
  if (expression === null) return { ok: false, error: 'missing expression', name };

  const enabled = value.is_enabled ?? value.enabled;
  const priority = typeof value.priority === 'string' && PRIORITIES.has(value.priority) ? (value.priority as TaskPriority) : 'normal';
  const catchUp = typeof value.catch_up === 'string' && CATCH_UPS.has(value.catch_up) ? (value.catch_up as ScheduleCatchUp) : 'skip';
  const sourceHash = value.source_hash;
  return {
    ok: true,
    row: {
      engine: defaults.engine,
      scheduler: defaults.scheduler ?? shortText(value.scheduler, MAX_SCHEDULER) ?? defaults.engine,
      name,
      taskName,
      kind: kind as ScheduleKind,
      expression,
      timezone: shortText(value.timezone, 100) ?? 'UTC',
      queue: shortText(value.queue, MAX_SHORT),
      priority,
      args: Array.isArray(value.args) ? jsonText(value.args) : '[]',
      kwargs: isObject(value.kwargs) ? jsonText(value.kwargs) : '{}',
      isEnabled: typeof enabled === 'boolean' ? enabled : true,
      catchUp,
      externalId: shortText(value.external_id, MAX_SHORT) ?? shortText(value.id, MAX_SHORT),
      lastRunAt: timestamp(value.last_run_at),
      nextRunAt: timestamp(value.next_run_at),
      totalRuns: nonNegativeInteger(value.total_runs) ?? 0,
      source: shortText(value.source, MAX_SHORT) ?? undefined,
      sourceHash: sourceHash === undefined ? undefined : shortText(sourceHash, MAX_SHORT),
    },
  };
}

function timestamp(value: JsonValue | undefined): string | null {
  if (typeof value !== 'string') return null;
  const micros = parseTimestampMicros(value);
  return micros === undefined ? null : formatMicros(micros);
}

/** The engine's schedule `data.engine` is not part of a Schedule event; see {@link ScheduleDefaults}. */
export function scheduleName(data: JsonObject): string | undefined {
  const schedule = data.schedule;
  if (isObject(schedule)) return shortText(schedule.name, MAX_NAME) ?? undefined;
  return shortText(data.name, MAX_NAME) ?? undefined;
}

/** `schedule.deleted`: the scheduler named in the schedule or the event, else the event's engine. */
export function deletedScheduleScheduler(data: JsonObject, engine: string): string {
  const schedule = data.schedule;
  const fromSchedule = isObject(schedule) ? shortText(schedule.scheduler, MAX_SCHEDULER) : null;
  return fromSchedule ?? shortText(data.scheduler, MAX_SCHEDULER) ?? engine;
}

/** `schedule.snapshot`: `data.scheduler`, else the event's engine. */
export function snapshotScheduler(data: JsonObject, engine: string): string {
  return shortText(data.scheduler, MAX_SCHEDULER) ?? engine;
}
