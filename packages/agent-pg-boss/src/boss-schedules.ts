import {
  CommandError,
  toJsonValue,
  type AgentLogger,
  type CommandTarget,
  type EventSink,
  type ScheduleAction,
  type SchedulerAdapter,
} from '@z4j/agent';
import type { JsonObject } from '@z4j/protocol';
import type PgBoss from 'pg-boss';
import { sendJob, text, type CommandContext } from './command-context.js';
import { taskIdOf } from './task-id.js';

/** A `schedule` row as `boss.getSchedules()` returns it (v10 returns the raw row, not the typed `Schedule`). */
interface DbSchedule {
  readonly name: string;
  readonly cron: string;
  readonly timezone?: string | null;
  readonly data?: unknown;
  readonly options?: PgBoss.ScheduleOptions | null;
}

export type SnapshotReason = 'boot' | 'periodic' | 'command';

/**
 * pg-boss cron schedules (`boss.schedule(queue, cron, data, options)`, one per queue, fired by pg-boss's timekeeper)
 * as a z4j scheduler: reported in `schedule.snapshot` events (at start, every `intervalMs`, after each schedule
 * command and after each change made through the adapter) and driven by the brain's schedule commands.
 *
 * A schedule's name is its queue name (pg-boss keys schedules by queue). `schedule.trigger_now` sends a job with the
 * schedule's data and options, `schedule.delete` unschedules. pg-boss schedules have no disabled state, so
 * `schedule.enable` / `schedule.disable` are refused (`unsupported`) rather than emulated. A snapshot is the full set
 * for this scheduler name: the brain deletes the scheduler's schedules it does not list, so agents watching different
 * queues need different scheduler names.
 *
 * @example
 * const schedules = new BossSchedules('pg-boss', () => context, logger);
 * await schedules.start(sink, 900_000);
 * await schedules.execute('schedule.trigger_now', target, { schedule_id: 'nightly-report' });
 */
export class BossSchedules implements SchedulerAdapter {
  readonly #context: () => CommandContext;
  readonly #logger: AgentLogger;
  #sink: EventSink | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly scheduler: string,
    context: () => CommandContext,
    logger: AgentLogger,
  ) {
    this.#context = context;
    this.#logger = logger;
  }

  /** Reports a first snapshot (reason `boot`), then one every `intervalMs` (reason `periodic`). */
  async start(sink: EventSink, intervalMs: number): Promise<void> {
    this.#sink = sink;
    await this.report('boot');
    const tick = () => {
      this.#timer = setTimeout(() => void this.report('periodic').finally(tick), intervalMs);
      this.#timer.unref();
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sink = undefined;
  }

  async resync(): Promise<void> {
    await this.snapshot('command');
  }

  /**
   * Emits a `schedule.snapshot` with every schedule of the managed queues. Nothing while the adapter is stopped.
   *
   * @example
   * await schedules.snapshot('command');
   */
  async snapshot(reason: SnapshotReason): Promise<void> {
    const sink = this.#sink;
    if (!sink) return;
    const managed = new Set(await this.#context().queues());
    const rows = (await this.#context().boss.getSchedules()) as unknown as DbSchedule[];
    const schedules = rows.filter((row) => managed.has(row.name)).map(scheduleOf);
    sink.emit('schedule.snapshot', { data: { scheduler: this.scheduler, schedules, reason } });
  }

  /** {@link snapshot}, logging instead of throwing (timers, changes made through the adapter). */
  async report(reason: SnapshotReason): Promise<void> {
    try {
      await this.snapshot(reason);
    } catch (error) {
      this.#logger.warn({ err: error, reason }, 'pg-boss:schedules:snapshot_failed');
    }
  }

  async execute(action: ScheduleAction, _target: CommandTarget, parameters: JsonObject): Promise<JsonObject> {
    const name = text(parameters.schedule_id) ?? text(parameters.schedule_name) ?? text(parameters.external_id);
    if (name === undefined) throw new CommandError('invalid_parameters', 'schedule_id (the schedule name) is required');
    const context = this.#context();
    const queue = await context.queue(name);
    const schedule = ((await context.boss.getSchedules()) as unknown as DbSchedule[]).find((row) => row.name === queue);
    let result: JsonObject;
    switch (action) {
      case 'schedule.enable':
      case 'schedule.disable':
        throw new CommandError(
          'unsupported',
          `pg-boss schedules have no disabled state; ${action === 'schedule.disable' ? 'delete the schedule' : 'create it again with boss.schedule()'} instead`,
        );
      case 'schedule.trigger_now': {
        if (!schedule) throw notFound(name);
        const id = await sendJob(context, queue, schedule.data ?? {}, sendOptionsOf(schedule.options));
        if (id === null) throw new CommandError('not_created', `pg-boss created no job in ${queue} (its policy kept it out)`);
        result = { schedule: name, task_id: taskIdOf(queue, id) };
        break;
      }
      case 'schedule.delete':
        await context.boss.unschedule(queue);
        result = { schedule: name, deleted: schedule !== undefined };
        break;
    }
    await this.snapshot('command');
    return result;
  }
}

function notFound(name: string): CommandError {
  return new CommandError('schedule_not_found', `no pg-boss schedule ${name}`);
}

/** A schedule's stored options without `tz`, which only the timekeeper reads. */
function sendOptionsOf(options: PgBoss.ScheduleOptions | null | undefined): PgBoss.SendOptions {
  if (!options) return {};
  const { tz: _tz, ...send } = options;
  return send;
}

/**
 * A pg-boss schedule as a z4j Schedule dict (what the brain's schedule mapping reads).
 *
 * @example
 * scheduleOf({ name: 'reports', cron: '0 3 * * *', timezone: 'UTC', data: { scope: 'all' } });
 * // { name: 'reports', task_name: 'reports', kind: 'cron', expression: '0 3 * * *', queue: 'reports', args: [{ scope: 'all' }], is_enabled: true, … }
 */
export function scheduleOf(row: DbSchedule): JsonObject {
  return {
    name: row.name,
    external_id: row.name,
    task_name: row.name,
    kind: 'cron',
    expression: row.cron,
    timezone: row.timezone ?? 'UTC',
    queue: row.name,
    args: row.data === undefined || row.data === null ? [] : [toJsonValue(row.data)],
    kwargs: {},
    is_enabled: true,
  };
}
