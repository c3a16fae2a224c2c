import type { JsonObject, JsonValue } from '@z4j/protocol';
import type { EventSink } from './event-sink.js';

/**
 * Command actions an engine adapter can advertise (the capability tokens of z4j-core, plus `reconcile_task`).
 *
 * @example
 * const capabilities = new Set<CommandAction>(['retry_task', 'cancel_task']);
 */
export type CommandAction =
  | 'submit_task'
  | 'retry_task'
  | 'cancel_task'
  | 'bulk_retry'
  | 'purge_queue'
  | 'requeue_dead_letter'
  | 'restart_worker'
  | 'rate_limit'
  | 'pool_grow'
  | 'pool_shrink'
  | 'add_consumer'
  | 'cancel_consumer'
  | 'pause_queue'
  | 'resume_queue'
  | 'reconcile_task';

/**
 * One worker of the engine as the brain shows it (`adapter_health["<engine>.worker_details"]`). The agent turns it
 * into the Celery-inspect shape the brain reads.
 *
 * @example
 * const worker: WorkerDetail = { name: 'bullmq@web-1', pid: process.pid, concurrency: 10, queues: ['mail'], active: [] };
 */
export interface WorkerDetail {
  /** Unique worker name, e.g. `bullmq@<host>:<pid>`. */
  readonly name: string;
  readonly pid?: number | null;
  /** Most jobs this worker runs at once. */
  readonly concurrency?: number | null;
  /** Queues it consumes. */
  readonly queues?: readonly string[];
  /** Jobs running right now (`{ id, name }` each); the brain shows their count. */
  readonly active?: readonly JsonObject[];
  /** Task names it can run. */
  readonly registered?: readonly string[];
  /** 1, 5 and 15 minute load averages. */
  readonly loadAverage?: readonly number[] | null;
}

/**
 * What the brain addressed a command to (`command.payload.target`): `type` and `id` always; ours also sets `engine`
 * (and `scheduler` for schedule actions).
 *
 * @example
 * const target: CommandTarget = { type: 'task', id: 'bullmq:42', engine: 'bullmq' };
 */
export type CommandTarget = JsonObject & { readonly type?: JsonValue; readonly id?: JsonValue; readonly engine?: JsonValue };

/**
 * Schedule commands a {@link SchedulerAdapter} runs (§3.2); `schedule.fire` and `schedule.resync` are handled by the
 * agent itself.
 *
 * @example
 * const action: ScheduleAction = 'schedule.disable';
 */
export type ScheduleAction = 'schedule.enable' | 'schedule.disable' | 'schedule.trigger_now' | 'schedule.delete';

/**
 * An engine's own scheduler (BullMQ job schedulers, …), optional on {@link EngineAdapter}. Its `scheduler` name goes
 * into `hello.schedulers`, which is how the brain picks this agent for the schedule's commands; it should equal the
 * `scheduler` of the `schedule.snapshot` events the adapter emits. `schedule.<enable|disable|trigger_now|delete>`
 * commands whose `target.scheduler` names it (or any, when it is the only one) go to `execute`; `schedule.resync`
 * calls `resync` on every scheduler, which should emit a fresh `schedule.snapshot` (reason `command`).
 *
 * @example
 * const scheduler: SchedulerAdapter = {
 *   scheduler: 'bullmq',
 *   async execute(action, target, parameters) { … return { enabled: true } },
 *   async resync() { sink.emit('schedule.snapshot', { data: { scheduler: 'bullmq', schedules, reason: 'command' } }) },
 * };
 */
export interface SchedulerAdapter {
  /** Scheduler name (≤40 chars), e.g. `bullmq`. Default: none (the adapter has no scheduler). */
  readonly scheduler: string;
  /** Runs one schedule action; results and errors as for {@link EngineAdapter.execute}. */
  execute(action: ScheduleAction, target: CommandTarget, parameters: JsonObject, signal: AbortSignal): Promise<JsonObject | undefined>;
  /** Reports every schedule again (`schedule.resync`). */
  resync(): Promise<void>;
}

/**
 * The one contract between the agent and a task engine (BullMQ, pg-boss, …). The agent calls `start` once with a
 * sink for task events, asks for queue depths and worker details with every heartbeat (each call capped at 5 s; a
 * failure only leaves that heartbeat without them), routes `command` frames whose action is in `capabilities` to
 * `execute`, and calls `stop` once when it stops.
 *
 * `execute` resolves with the command's result object (sent as `command_result.result`) or throws: a
 * {@link CommandError} becomes `"<code>: <message>"`, anything else `"internal error: <message>"`. The signal aborts
 * when the brain's `timeout_seconds` runs out or the agent stops.
 *
 * @example
 * const adapter: EngineAdapter = {
 *   engine: 'bullmq',
 *   capabilities: new Set(['retry_task', 'cancel_task']),
 *   async start(sink) { queueEvents.on('completed', ({ jobId }) => sink.emit('task.succeeded', { taskId: jobId, data: { task_name: 'mail' } })) },
 *   async queueDepths() { return { mail: await queue.getWaitingCount() } },
 *   async workerDetails() { return [] },
 *   async execute(action, target, parameters, signal) { … return { retried: true } },
 *   async stop() { await queueEvents.close() },
 * };
 */
export interface EngineAdapter {
  /** Engine name on events, in `hello.engines` and as the capabilities key (≤40 chars), e.g. `bullmq`. */
  readonly engine: string;
  /** Actions `execute` supports. `retry_task` falls back to `submit_task` when only that is advertised. */
  readonly capabilities: ReadonlySet<CommandAction>;
  /** Begin reporting events to `sink`. A rejection fails {@link Agent.start}. */
  start(sink: EventSink): Promise<void> | void;
  /** Waiting jobs per queue name. */
  queueDepths(): Promise<Readonly<Record<string, number>>>;
  /** The workers this process (or the engine) knows about. */
  workerDetails(): Promise<readonly WorkerDetail[]>;
  /** Runs one command action; see above for results and errors. */
  execute(action: CommandAction, target: CommandTarget, parameters: JsonObject, signal: AbortSignal): Promise<JsonObject | undefined>;
  /** Stop reporting events and release engine resources. */
  stop(): Promise<void> | void;
  /** The engine's scheduler, if it has one the brain may command. Default: none. */
  readonly scheduler?: SchedulerAdapter;
}
