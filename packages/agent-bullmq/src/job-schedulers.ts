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
import type { JobSchedulerJson, JobSchedulerTemplateOptions, Queue, RepeatOptions } from 'bullmq';
import { text } from './command-context.js';
import { parseQueueRef, taskIdOf } from './task-id.js';

/**
 * A job scheduler as the adapter keeps it while disabled: BullMQ has no "disabled" state, so `schedule.disable`
 * stores the definition in a hash beside the queue's keys (`<prefix>:<queue>:z4j:disabled-schedulers`, field = the
 * scheduler id) and removes the scheduler; `schedule.enable` upserts it again from there.
 */
interface StoredScheduler {
  readonly repeat: Omit<RepeatOptions, 'key'>;
  readonly name: string;
  readonly data?: unknown;
  readonly opts?: JobSchedulerTemplateOptions;
}

const DISABLED_KEY = 'z4j:disabled-schedulers';
const SNAPSHOT_PAGE = 1000;

/**
 * BullMQ job schedulers (`queue.upsertJobScheduler`) as a z4j scheduler: reported in `schedule.snapshot` events
 * (at start, every `intervalMs`, and after each schedule command) and driven by the brain's schedule commands.
 *
 * Schedule names are `<queue>:<scheduler id>` (scheduler ids are per queue, like job ids). `kind` is `cron` for a
 * `pattern`, `interval` for `every` (expression in seconds). A snapshot is the full set for this scheduler name: the
 * brain deletes the scheduler's schedules it does not list, so agents watching different queues need different
 * scheduler names.
 *
 * @example
 * const schedulers = new JobSchedulers('bullmq', queues, logger);
 * schedulers.start(sink, 900_000);
 * await schedulers.execute('schedule.disable', target, { schedule_id: 'mail:nightly' });
 */
export class JobSchedulers implements SchedulerAdapter {
  readonly #queues: ReadonlyMap<string, Queue>;
  readonly #logger: AgentLogger;
  #sink: EventSink | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly scheduler: string,
    queues: ReadonlyMap<string, Queue>,
    logger: AgentLogger,
  ) {
    this.#queues = queues;
    this.#logger = logger;
  }

  /** Reports a first snapshot (reason `boot`), then one every `intervalMs` (reason `periodic`). */
  async start(sink: EventSink, intervalMs: number): Promise<void> {
    this.#sink = sink;
    await this.#report('boot');
    const tick = () => {
      this.#timer = setTimeout(() => void this.#report('periodic').finally(tick), intervalMs);
      this.#timer.unref();
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#sink = undefined;
  }

  async resync(): Promise<void> {
    await this.snapshot('command');
  }

  /**
   * Emits a `schedule.snapshot` with every scheduler of every queue, enabled or disabled.
   *
   * @example
   * await schedulers.snapshot('command');
   */
  async snapshot(reason: 'boot' | 'periodic' | 'command'): Promise<void> {
    const schedules: JsonObject[] = [];
    for (const queue of this.#queues.values()) {
      for (let start = 0; ; start += SNAPSHOT_PAGE) {
        const page = await queue.getJobSchedulers(start, start + SNAPSHOT_PAGE - 1, true);
        for (const json of page) schedules.push(...scheduleOf(queue.name, json, true));
        if (page.length < SNAPSHOT_PAGE) break;
      }
      for (const [id, stored] of Object.entries(await disabledStore(queue))) {
        const parsed = parseStored(stored);
        if (parsed)
          schedules.push(...scheduleOf(queue.name, { key: id, id, name: parsed.name, ...parsed.repeat, template: parsed }, false));
      }
    }
    this.#sink?.emit('schedule.snapshot', { data: { scheduler: this.scheduler, schedules, reason } });
  }

  async execute(action: ScheduleAction, target: CommandTarget, parameters: JsonObject): Promise<JsonObject> {
    const name = text(parameters.schedule_id) ?? text(parameters.schedule_name) ?? text(parameters.external_id);
    if (name === undefined) throw new CommandError('invalid_parameters', 'schedule_id (the schedule name) is required');
    const { queue: queueName, id } = parseQueueRef(name, 'schedule name');
    const queue = this.#queues.get(queueName);
    if (!queue) throw new CommandError('unknown_queue', `this agent does not manage a queue named ${JSON.stringify(queueName)}`);
    const result = await this.#run(action, queue, id, name);
    await this.snapshot('command');
    return result;
  }

  async #run(action: ScheduleAction, queue: Queue, id: string, name: string): Promise<JsonObject> {
    const live = await queue.getJobScheduler(id);
    const stored = parseStored((await disabledStore(queue))[id]);
    switch (action) {
      case 'schedule.enable':
        if (live) return { schedule: name, enabled: true, changed: false };
        if (!stored) throw notFound(name);
        await queue.upsertJobScheduler(id, stored.repeat, { name: stored.name, data: stored.data, opts: stored.opts });
        await (await queue.client).hdel(queue.toKey(DISABLED_KEY), id);
        return { schedule: name, enabled: true, changed: true };
      case 'schedule.disable': {
        if (!live) {
          if (stored) return { schedule: name, enabled: false, changed: false };
          throw notFound(name);
        }
        // Stored before removal: a crash in between leaves both copies, and enable reconciles them.
        await (await queue.client).hset(queue.toKey(DISABLED_KEY), { [id]: JSON.stringify(storedOf(live)) });
        await queue.removeJobScheduler(id);
        return { schedule: name, enabled: false, changed: true };
      }
      case 'schedule.trigger_now': {
        const definition = live ? storedOf(live) : stored;
        if (!definition) throw notFound(name);
        const job = await queue.add(definition.name, definition.data, definition.opts ?? {});
        return { schedule: name, task_id: taskIdOf(queue.name, job.id ?? '') };
      }
      case 'schedule.delete': {
        const removed = await queue.removeJobScheduler(id);
        const dropped = await (await queue.client).hdel(queue.toKey(DISABLED_KEY), id);
        return { schedule: name, deleted: removed || dropped > 0 };
      }
    }
  }

  async #report(reason: 'boot' | 'periodic'): Promise<void> {
    try {
      await this.snapshot(reason);
    } catch (error) {
      this.#logger.warn({ err: error, reason }, 'bullmq:schedules:snapshot_failed');
    }
  }
}

function notFound(name: string): CommandError {
  return new CommandError('schedule_not_found', `no job scheduler ${name}`);
}

async function disabledStore(queue: Queue): Promise<Record<string, string>> {
  return (await queue.client).hgetall(queue.toKey(DISABLED_KEY));
}

function parseStored(value: string | undefined): StoredScheduler | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = JSON.parse(value) as StoredScheduler;
    return typeof parsed.name === 'string' && typeof parsed.repeat === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** What `upsertJobScheduler` needs to recreate this scheduler. */
function storedOf(json: JobSchedulerJson): StoredScheduler {
  const repeat: Omit<RepeatOptions, 'key'> = {};
  if (json.pattern !== undefined) repeat.pattern = json.pattern;
  if (json.every !== undefined) repeat.every = json.every;
  if (json.tz !== undefined) repeat.tz = json.tz;
  if (json.limit !== undefined) repeat.limit = json.limit;
  if (json.startDate !== undefined) repeat.startDate = json.startDate;
  if (json.endDate !== undefined) repeat.endDate = json.endDate;
  return { repeat, name: json.name, data: json.template?.data, opts: json.template?.opts };
}

/**
 * A job scheduler as a z4j Schedule dict (what the brain's schedule mapping reads); none for a scheduler with
 * neither a cron pattern nor an interval, which the brain could not store.
 *
 * @example
 * scheduleOf('mail', { key: 'nightly', name: 'digest', pattern: '0 3 * * *', next: 1700000000000 }, true);
 * // [{ name: 'mail:nightly', task_name: 'digest', kind: 'cron', expression: '0 3 * * *', queue: 'mail', is_enabled: true, … }]
 */
export function scheduleOf(
  queue: string,
  json: Pick<JobSchedulerJson, 'key' | 'id' | 'name' | 'pattern' | 'every' | 'tz' | 'next' | 'iterationCount' | 'template'>,
  enabled: boolean,
): JsonObject[] {
  const id = json.id ?? json.key;
  const kind = json.pattern ? 'cron' : json.every ? 'interval' : undefined;
  if (kind === undefined) return [];
  const name = taskIdOf(queue, id);
  const data: unknown = json.template?.data;
  return [
    {
      name,
      external_id: name,
      task_name: json.name,
      kind,
      expression: json.pattern ?? String((json.every ?? 0) / 1000),
      timezone: json.tz ?? 'UTC',
      queue,
      args: data === undefined ? [] : [toJsonValue(data)],
      kwargs: {},
      is_enabled: enabled,
      next_run_at: enabled && json.next !== undefined ? new Date(json.next).toISOString() : null,
      total_runs: json.iterationCount ?? 0,
    },
  ];
}
