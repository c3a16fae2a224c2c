import * as v from 'valibot';
import { CommandPayloadSchema, describeIssues, isJsonObject, type CommandPayload, type JsonObject, type JsonValue } from '@z4j/protocol';
import type { AgentLogger } from './agent-logger.js';
import { CommandDedupe } from './command-dedupe.js';
import { CommandError } from './command-error.js';
import type { CommandAction, CommandTarget, EngineAdapter, ScheduleAction, SchedulerAdapter } from './engine-adapter.js';
import { toJsonValue } from './to-json-value.js';

/**
 * A `command_result` payload: `success` with a result object, or `failed` with an error string.
 *
 * @example
 * const outcome: CommandOutcome = { status: 'failed', result: null, error: "adapter 'bullmq' does not support action 'pool_grow'" };
 */
export interface CommandOutcome {
  readonly status: 'success' | 'failed';
  readonly result: JsonObject | null;
  readonly error: string | null;
}

/** What the dispatcher needs from the agent. */
export interface CommandDispatcherDeps {
  readonly adapters: readonly EngineAdapter[];
  /** Signs and sends (or queues until the next session) a command_ack / command_result; must not throw. */
  readonly send: (type: 'command_ack' | 'command_result', id: string, payload: JsonObject) => void;
  /** Agent-side redaction of results before they leave. */
  readonly redact: (value: JsonObject) => JsonObject;
  readonly logger: AgentLogger;
  /** Clock for the dedupe window (ms). */
  readonly now: () => number;
}

const KNOWN_ACTIONS: ReadonlySet<string> = new Set<CommandAction>([
  'submit_task',
  'retry_task',
  'cancel_task',
  'bulk_retry',
  'purge_queue',
  'requeue_dead_letter',
  'restart_worker',
  'rate_limit',
  'pool_grow',
  'pool_shrink',
  'add_consumer',
  'cancel_consumer',
  'pause_queue',
  'resume_queue',
  'reconcile_task',
]);
/** Schedule actions a scheduler adapter runs; fire and resync are the agent's own. */
const SCHEDULE_ACTIONS: ReadonlySet<string> = new Set<ScheduleAction>([
  'schedule.enable',
  'schedule.disable',
  'schedule.trigger_now',
  'schedule.delete',
]);
/** `command_result.error` is capped at 8192 characters by the frame schema. */
const MAX_ERROR_CHARS = 8192;
/** bulk_retry never asks the engine for more than this (z4j-core's cap). */
const BULK_RETRY_MAX = 10_000;

const failed = (error: string): CommandOutcome => ({ status: 'failed', result: null, error: error.slice(0, MAX_ERROR_CHARS) });

function describeError(error: unknown): string {
  if (error instanceof CommandError) return `${error.code}: ${error.message}`;
  return `internal error: ${error instanceof Error ? error.message : String(error)}`;
}

const str = (value: JsonValue | undefined): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Runs `command` frames against the engine adapters, in the order of §3.2:
 *   1. an id seen in the last 300 s is acked again and not run;
 *   2. `command_ack`;
 *   3. route (target.engine, else the only engine), check the capability, run with an abort signal tied to the
 *      command's `timeout_seconds`;
 *   4. `command_result`.
 * Nothing escapes: every error, including a malformed payload or an adapter that throws synchronously, becomes a
 * `failed` result.
 *
 * @example
 * const dispatcher = new CommandDispatcher({ adapters, send, redact, logger, now: Date.now });
 * dispatcher.handle(frame.id, frame.payload);
 */
export class CommandDispatcher {
  readonly #deps: CommandDispatcherDeps;
  readonly #dedupe: CommandDedupe;
  readonly #byEngine: ReadonlyMap<string, EngineAdapter>;
  readonly #byScheduler: ReadonlyMap<string, SchedulerAdapter>;
  readonly #running = new Map<string, { readonly controller: AbortController; readonly done: Promise<void> }>();

  constructor(deps: CommandDispatcherDeps) {
    this.#deps = deps;
    this.#dedupe = new CommandDedupe({ now: deps.now });
    this.#byEngine = new Map(deps.adapters.map((adapter) => [adapter.engine, adapter]));
    this.#byScheduler = new Map(
      deps.adapters.flatMap((adapter) => (adapter.scheduler ? [[adapter.scheduler.scheduler, adapter.scheduler]] : [])),
    );
  }

  /** Commands currently executing. */
  get running(): number {
    return this.#running.size;
  }

  /** Handles one verified `command` frame. Never throws. */
  handle(id: string, payload: JsonValue | undefined): void {
    try {
      if (!this.#dedupe.firstSighting(id)) {
        this.#deps.logger.debug({ command: id }, 'agent:command:duplicate');
        this.#deps.send('command_ack', id, {});
        return;
      }
      this.#deps.send('command_ack', id, {});
      const parsed = v.safeParse(CommandPayloadSchema, payload ?? {});
      if (!parsed.success) {
        this.#finish(id, failed(`invalid command payload: ${describeIssues(parsed.issues)}`));
        return;
      }
      const controller = new AbortController();
      const done = this.#run(parsed.output, controller)
        .catch((error: unknown): CommandOutcome => failed(describeError(error)))
        .then((outcome) => this.#finish(id, outcome))
        .finally(() => this.#running.delete(id));
      this.#running.set(id, { controller, done });
    } catch (error) {
      this.#deps.logger.error({ err: error, command: id }, 'agent:command:dispatch_failed');
    }
  }

  /** Aborts every running command (the agent is stopping) and waits for their results, at most `graceMs`. */
  async abortAll(graceMs: number): Promise<void> {
    const running = [...this.#running.values()];
    for (const { controller } of running) controller.abort(new CommandError('agent_stopping', 'the agent is stopping'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(running.map((entry) => entry.done)),
      new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
  }

  #finish(id: string, outcome: CommandOutcome): void {
    try {
      const result = outcome.result === null ? null : this.#deps.redact(outcome.result);
      this.#deps.send('command_result', id, { status: outcome.status, result, error: outcome.error });
      this.#deps.logger.info({ command: id, status: outcome.status }, 'agent:command:finished');
    } catch (error) {
      this.#deps.logger.error({ err: error, command: id }, 'agent:command:result_failed');
    }
  }

  async #run(command: CommandPayload, controller: AbortController): Promise<CommandOutcome> {
    const { action, target, parameters } = command;
    if (action.startsWith('schedule.')) return this.#runSchedule(command, controller);
    const engine = str(target.engine);
    const adapter = engine !== undefined ? this.#byEngine.get(engine) : this.#onlyAdapter();
    if (!adapter) return failed(`no engine adapter registered for ${engine ?? 'None'}`);
    if (!KNOWN_ACTIONS.has(action)) return failed(`adapter '${adapter.engine}' does not support action '${action}'`);
    const caps = adapter.capabilities;
    if (action === 'reconcile_task' && !caps.has('reconcile_task')) {
      return { status: 'success', result: { engine_state: 'unknown' }, error: null };
    }
    if (action === 'retry_task' && !caps.has('retry_task') && caps.has('submit_task')) {
      return this.#executeOn(adapter, 'submit_task', target, retryAsSubmit(parameters), command.timeout_seconds, controller);
    }
    if (!caps.has(action as CommandAction)) return failed(`adapter '${adapter.engine}' does not support action '${action}'`);
    let effective = parameters;
    if (action === 'bulk_retry') {
      const max = typeof parameters.max === 'number' ? parameters.max : BULK_RETRY_MAX;
      effective = { ...parameters, max: Math.min(Math.max(0, Math.trunc(max)), BULK_RETRY_MAX) };
    }
    return this.#executeOn(adapter, action as CommandAction, target, effective, command.timeout_seconds, controller);
  }

  /**
   * `schedule.fire` enqueues through the engine and `schedule.resync` asks every scheduler adapter for a snapshot;
   * enable, disable, trigger_now and delete go to the scheduler named by `target.scheduler` (or the only one).
   */
  async #runSchedule(command: CommandPayload, controller: AbortController): Promise<CommandOutcome> {
    const { action, target, parameters } = command;
    if (action === 'schedule.resync') {
      const schedulers = [...this.#byScheduler.values()];
      return this.#execute(
        async () => {
          await Promise.all(schedulers.map((scheduler) => scheduler.resync()));
          return { schedulers_drained: schedulers.length };
        },
        command.timeout_seconds,
        controller,
      );
    }
    if (action !== 'schedule.fire') {
      const name = str(target.scheduler);
      const scheduler = name !== undefined ? this.#byScheduler.get(name) : this.#onlyScheduler();
      if (!scheduler) return failed(`no scheduler adapter registered for ${name ?? 'None'}`);
      if (!SCHEDULE_ACTIONS.has(action)) return failed(`scheduler '${scheduler.scheduler}' does not support action '${action}'`);
      return this.#execute(
        (signal) => scheduler.execute(action as ScheduleAction, target, parameters, signal),
        command.timeout_seconds,
        controller,
      );
    }
    const engine = str(parameters.engine) ?? str(target.engine);
    const adapter = engine !== undefined ? this.#byEngine.get(engine) : this.#onlyAdapter();
    if (!adapter) return failed(`no engine adapter registered for ${engine ?? 'None'}`);
    if (!adapter.capabilities.has('submit_task')) return failed(`adapter '${adapter.engine}' does not support action 'submit_task'`);
    const submit: JsonObject = {
      name: parameters.task_name ?? null,
      args: parameters.args ?? [],
      kwargs: parameters.kwargs ?? {},
      queue: parameters.queue ?? null,
    };
    return this.#executeOn(adapter, 'submit_task', target, submit, command.timeout_seconds, controller);
  }

  #onlyAdapter(): EngineAdapter | undefined {
    return this.#byEngine.size === 1 ? this.#byEngine.values().next().value : undefined;
  }

  #onlyScheduler(): SchedulerAdapter | undefined {
    return this.#byScheduler.size === 1 ? this.#byScheduler.values().next().value : undefined;
  }

  #executeOn(
    adapter: EngineAdapter,
    action: CommandAction,
    target: CommandTarget,
    parameters: JsonObject,
    timeoutSeconds: number,
    controller: AbortController,
  ): Promise<CommandOutcome> {
    return this.#execute((signal) => adapter.execute(action, target, parameters, signal), timeoutSeconds, controller);
  }

  async #execute(
    work: (signal: AbortSignal) => Promise<JsonObject | undefined>,
    timeoutSeconds: number,
    controller: AbortController,
  ): Promise<CommandOutcome> {
    const seconds = Number.isSafeInteger(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds : 60;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const error = new CommandError('timeout', `command did not finish within ${seconds} s`);
        controller.abort(error);
        reject(error);
      }, seconds * 1000);
      timer.unref();
    });
    const aborted = new Promise<never>((_resolve, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true });
    });
    try {
      const result = await Promise.race([Promise.resolve().then(() => work(controller.signal)), timedOut, aborted]);
      const value = toJsonValue(result ?? {});
      return { status: 'success', result: isJsonObject(value) ? value : { value }, error: null };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** retry_task on an engine that can only submit: resubmit with the brain's copy of the task (§3.2). */
function retryAsSubmit(parameters: JsonObject): JsonObject {
  const pick = (override: JsonValue | undefined, original: JsonValue | undefined): JsonValue =>
    override !== undefined && override !== null ? override : (original ?? null);
  return {
    name: parameters.task_name ?? null,
    args: pick(parameters.override_args, parameters.args ?? []),
    kwargs: pick(parameters.override_kwargs, parameters.kwargs ?? {}),
    queue: parameters.queue ?? null,
    eta: pick(parameters.eta, parameters.eta_seconds),
    priority: parameters.priority ?? null,
  };
}
