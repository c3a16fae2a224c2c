import * as v from 'valibot';
import type { JsonObject } from '@z4j/protocol';
import { apiError } from '../http/api-errors.js';
import { asJson, type CommandAgent, type CommandSpec } from './command-issuer.js';
import { UUID_PATTERN } from '../http/uuid.js';

/**
 * The bodies of `POST /projects/{slug}/commands/<x>` and what each becomes
 * (reference §3.1's table): action, target and payload. The builders are
 * pure; the routes look up what they need (the task row, the agent) first.
 *
 * Every payload also carries `engine`, which the gateway copies into the
 * frame's `target`, so an agent running several engines can route the
 * command (§3.2). Bodies whose §3.1 row has no engine accept an optional
 * `engine`; without one, the agent's only engine is used, and an agent that
 * runs several must be told which (422), since it could not route otherwise.
 */

/** Override args/kwargs, and bulk-retry's filter, are capped at this many bytes of JSON each. */
export const MAX_JSON_BYTES = 64 * 1024;
/** Celery's rate grammar: an integer, optionally per second/minute/hour; `0` clears the limit. */
export const RATE_PATTERN = /^(0|[1-9]\d*(\/[smh])?)$/;
/** Keys of bulk-retry's filter that only the brain may set (it fills the first two itself). */
export const BRAIN_FILLED_FILTER_KEYS = ['task_names', 'task_priorities', 'overrides'] as const;

function name(max: number) {
  return v.pipe(v.string(), v.minLength(1), v.maxLength(max), v.regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'));
}

function jsonFits(value: unknown): boolean {
  return Buffer.byteLength(JSON.stringify(value), 'utf8') <= MAX_JSON_BYTES;
}

const TOO_BIG = `must be at most ${MAX_JSON_BYTES} bytes of JSON`;
const JsonArray = v.pipe(
  v.array(v.unknown()),
  v.check((value: unknown[]) => jsonFits(value), TOO_BIG),
);
const JsonDict = v.pipe(
  v.record(v.string(), v.unknown()),
  v.check((value: Record<string, unknown>) => jsonFits(value), TOO_BIG),
);

/** Fields every command body has. */
const COMMON = {
  /** Must be an agent of this project (404 otherwise). */
  agent_id: v.pipe(v.string(), v.regex(UUID_PATTERN, 'expected a uuid'), v.toLowerCase()),
  /** A repeat returns the first command instead of issuing another (≤200). */
  idempotency_key: v.optional(v.nullable(name(200)), null),
};
const ENGINE = name(40);
const OPTIONAL_ENGINE = { engine: v.optional(v.nullable(ENGINE), null) };

export const RetryTaskBody = v.object({
  ...COMMON,
  engine: ENGINE,
  task_id: name(200),
  override_args: v.optional(v.nullable(JsonArray), null),
  override_kwargs: v.optional(v.nullable(JsonDict), null),
  eta_seconds: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(86_400))), null),
});
export const CancelTaskBody = v.object({ ...COMMON, engine: ENGINE, task_id: name(200) });
export const BulkRetryBody = v.object({
  ...COMMON,
  ...OPTIONAL_ENGINE,
  filter: v.optional(JsonDict, {}),
  max: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)), 1000),
});
export const PurgeQueueBody = v.object({
  ...COMMON,
  ...OPTIONAL_ENGINE,
  queue: name(200),
  confirm_token: v.optional(v.nullable(name(128)), null),
  force: v.optional(v.boolean(), false),
});
export const QueueStateBody = v.object({ ...COMMON, ...OPTIONAL_ENGINE, queue: name(200) });
export const RestartWorkerBody = v.object({ ...COMMON, ...OPTIONAL_ENGINE, worker_name: name(200) });
export const PoolResizeBody = v.object({
  ...COMMON,
  ...OPTIONAL_ENGINE,
  worker_name: name(200),
  delta: v.pipe(v.number(), v.integer(), v.minValue(-100), v.maxValue(100)),
});
export const ConsumerBody = v.object({ ...COMMON, ...OPTIONAL_ENGINE, worker_name: name(200), queue: name(200) });
export const RateLimitBody = v.object({
  ...COMMON,
  ...OPTIONAL_ENGINE,
  task_name: name(500),
  rate: v.pipe(v.string(), v.maxLength(20), v.regex(RATE_PATTERN, 'expected 0, N, N/s, N/m or N/h')),
  /** Empty or absent: every worker. */
  worker_name: v.optional(v.nullable(v.union([v.literal(''), name(200)])), null),
});

export type RetryTaskInput = v.InferOutput<typeof RetryTaskBody>;
export type CancelTaskInput = v.InferOutput<typeof CancelTaskBody>;
export type BulkRetryInput = v.InferOutput<typeof BulkRetryBody>;
export type PurgeQueueInput = v.InferOutput<typeof PurgeQueueBody>;
export type QueueStateInput = v.InferOutput<typeof QueueStateBody>;
export type RestartWorkerInput = v.InferOutput<typeof RestartWorkerBody>;
export type PoolResizeInput = v.InferOutput<typeof PoolResizeBody>;
export type ConsumerInput = v.InferOutput<typeof ConsumerBody>;
export type RateLimitInput = v.InferOutput<typeof RateLimitBody>;

function engineError(message: string) {
  return apiError.validation([{ field: 'body.engine', message }]);
}

/** retry-task / cancel-task: the engine named in the body, which the agent must advertise (any engine it runs, not only celery/rq/dramatiq). */
export function advertisedEngine(agent: CommandAgent, engine: string): string {
  if (!agent.engine_adapters.includes(engine)) {
    const runs = agent.engine_adapters.length === 0 ? 'it has reported no engines yet' : `it runs ${agent.engine_adapters.join(', ')}`;
    throw engineError(`agent ${agent.name} does not run engine ${engine} (${runs})`);
  }
  return engine;
}

/**
 * The engine for a command whose body need not name one: the named one
 * (which the agent must advertise), else the agent's only engine, else null
 * for an agent that has reported none yet; an agent with several needs it named.
 */
export function commandEngine(agent: CommandAgent, requested: string | null): string | null {
  if (requested !== null) return advertisedEngine(agent, requested);
  if (agent.engine_adapters.length <= 1) return agent.engine_adapters[0] ?? null;
  throw engineError(`agent ${agent.name} runs several engines (${agent.engine_adapters.join(', ')}); name one in "engine"`);
}

/** The task row retry-task re-enqueues from. */
export interface RetriedTask {
  readonly name: string;
  readonly args: unknown;
  readonly kwargs: unknown;
  readonly priority: string;
}

export function retryTaskCommand(body: RetryTaskInput, task: RetriedTask): CommandSpec {
  return {
    action: 'retry_task',
    targetType: 'task',
    targetId: `${body.engine}:${body.task_id}`,
    payload: {
      engine: body.engine,
      task_id: body.task_id,
      task_name: task.name,
      args: asJson(task.args ?? []),
      kwargs: asJson(task.kwargs ?? {}),
      override_args: asJson(body.override_args),
      override_kwargs: asJson(body.override_kwargs),
      eta_seconds: body.eta_seconds,
      priority: task.priority,
    },
  };
}

export function cancelTaskCommand(body: CancelTaskInput): CommandSpec {
  return {
    action: 'cancel_task',
    targetType: 'task',
    targetId: `${body.engine}:${body.task_id}`,
    payload: { engine: body.engine, task_id: body.task_id },
  };
}

/** bulk-retry's filter without the keys only the brain may set, and which of them the client sent. */
export function stripBrainFilledKeys(filter: Record<string, unknown>): { filter: Record<string, unknown>; stripped: string[] } {
  const kept = { ...filter };
  const stripped: string[] = [];
  for (const key of BRAIN_FILLED_FILTER_KEYS) {
    if (Object.hasOwn(kept, key)) {
      stripped.push(key);
      delete kept[key];
    }
  }
  return { filter: kept, stripped };
}

/** `filter.task_ids` (strings, deduplicated, at most `max`) when the filter also names its engine: the tasks whose names and priorities the brain fills in. */
export function filterTaskIds(filter: Record<string, unknown>, max: number): { engine: string; taskIds: string[] } | undefined {
  const { engine, task_ids: ids } = filter;
  if (typeof engine !== 'string' || !Array.isArray(ids)) return undefined;
  const taskIds = [...new Set(ids.filter((id): id is string => typeof id === 'string'))].slice(0, max);
  return taskIds.length === 0 ? undefined : { engine, taskIds };
}

/**
 * bulk-retry: the filter goes to the agent as sent, minus `task_names`,
 * `task_priorities` and `overrides` (the audit row lists the ones removed);
 * the brain fills `task_names` and `task_priorities` (task_id → value) from
 * its tasks rows.
 */
export function bulkRetryCommand(
  body: BulkRetryInput,
  engine: string | null,
  stripped: readonly string[],
  filter: Record<string, unknown>,
  tasks: readonly { task_id: string; name: string; priority: string }[],
): CommandSpec {
  const filled: Record<string, unknown> = { ...filter };
  if (tasks.length > 0) {
    filled.task_names = Object.fromEntries(tasks.map((task) => [task.task_id, task.name]));
    filled.task_priorities = Object.fromEntries(tasks.map((task) => [task.task_id, task.priority]));
  }
  const auditMetadata: JsonObject = stripped.length > 0 ? { stripped_filter_keys: [...stripped] } : {};
  return {
    action: 'bulk_retry',
    targetType: 'bulk',
    targetId: null,
    payload: { filter: asJson(filled), max: body.max, engine },
    auditMetadata,
  };
}

export function purgeQueueCommand(body: PurgeQueueInput, engine: string | null): CommandSpec {
  return {
    action: 'purge_queue',
    targetType: 'queue',
    targetId: body.queue,
    payload: { queue: body.queue, confirm_token: body.confirm_token, force: body.force, engine },
  };
}

/** pause-queue / resume-queue: stop or restart handing a queue's jobs to workers (engines that have it, e.g. BullMQ). */
export function queueStateCommand(action: 'pause_queue' | 'resume_queue', body: QueueStateInput, engine: string | null): CommandSpec {
  return { action, targetType: 'queue', targetId: body.queue, payload: { queue: body.queue, engine } };
}

export function restartWorkerCommand(body: RestartWorkerInput, engine: string | null): CommandSpec {
  return { action: 'restart_worker', targetType: 'worker', targetId: body.worker_name, payload: { worker_name: body.worker_name, engine } };
}

export function poolResizeCommand(body: PoolResizeInput, engine: string | null): CommandSpec {
  return {
    action: body.delta > 0 ? 'pool_grow' : 'pool_shrink',
    targetType: 'worker',
    targetId: body.worker_name,
    payload: { worker_name: body.worker_name, delta: Math.abs(body.delta), engine },
  };
}

export function consumerCommand(action: 'add_consumer' | 'cancel_consumer', body: ConsumerInput, engine: string | null): CommandSpec {
  return {
    action,
    targetType: 'worker',
    targetId: body.worker_name,
    payload: { worker_name: body.worker_name, queue: body.queue, engine },
  };
}

/** rate-limit targets the task (as the original does): a rate limit is the task's, on one worker or on all of them. */
export function rateLimitCommand(body: RateLimitInput, engine: string | null): CommandSpec {
  return {
    action: 'rate_limit',
    targetType: 'task',
    targetId: body.task_name,
    payload: { task_name: body.task_name, rate: body.rate, worker_name: body.worker_name || null, engine },
  };
}
