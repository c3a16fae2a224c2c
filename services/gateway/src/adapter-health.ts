import * as v from 'valibot';

/**
 * Reads the `adapter_health` map of a heartbeat (§1.10 of the reference).
 * Engines report complex values as JSON-encoded strings under
 * `"<engine>.queue_depths"` and `"<engine>.worker_details"`; anything that does
 * not parse is skipped (a broken health provider must never break the
 * heartbeat that carries it).
 */

/** The original caps: at most 256 keys per heartbeat, 1024 queues per engine. */
export const MAX_HEALTH_KEYS = 256;
export const MAX_QUEUES_PER_ENGINE = 1024;
const MAX_WORKERS_PER_ENGINE = 1024;

/** Celery `conf` keys worth keeping; everything else (broker URLs, result backends with credentials…) is dropped. */
export const WORKER_CONF_ALLOWLIST: ReadonlySet<string> = new Set([
  'accept_content',
  'enable_utc',
  'result_expires',
  'result_serializer',
  'task_acks_late',
  'task_always_eager',
  'task_default_delivery_mode',
  'task_default_exchange',
  'task_default_priority',
  'task_default_queue',
  'task_default_rate_limit',
  'task_ignore_result',
  'task_reject_on_worker_lost',
  'task_serializer',
  'task_soft_time_limit',
  'task_time_limit',
  'task_track_started',
  'timezone',
  'worker_concurrency',
  'worker_disable_rate_limits',
  'worker_max_memory_per_child',
  'worker_max_tasks_per_child',
  'worker_pool',
  'worker_prefetch_multiplier',
  'worker_send_task_events',
]);

export interface QueueDepth {
  readonly engine: string;
  readonly queue: string;
  readonly depth: number;
}

export interface WorkerDetail {
  readonly engine: string;
  readonly name: string;
  readonly hostname: string;
  readonly pid: number | null;
  readonly concurrency: number | null;
  readonly activeTasks: number;
  readonly queues: string[];
  readonly loadAverage: number[] | null;
  readonly metadata: Record<string, unknown>;
}

export interface AdapterHealth {
  readonly queueDepths: QueueDepth[];
  readonly workers: WorkerDetail[];
}

function parseJsonString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

const QueueDepthsSchema = v.record(v.pipe(v.string(), v.minLength(1), v.maxLength(200)), v.pipe(v.number(), v.integer(), v.minValue(0)));
const WorkerDetailSchema = v.looseObject({
  stats: v.optional(
    v.nullable(v.looseObject({ pid: v.optional(v.unknown()), pool: v.optional(v.unknown()), loadavg: v.optional(v.unknown()) })),
  ),
  active: v.optional(v.nullable(v.array(v.unknown()))),
  active_queues: v.optional(v.nullable(v.array(v.unknown()))),
  registered: v.optional(v.unknown()),
  conf: v.optional(v.unknown()),
});

function intOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 2 ** 31 - 1 ? value : null;
}

function concurrencyOf(pool: unknown): number | null {
  if (typeof pool !== 'object' || pool === null) return null;
  const record = pool as Record<string, unknown>;
  const max = intOrNull(record['max-concurrency']);
  if (max !== null) return max;
  const processes = record.processes;
  return Array.isArray(processes) ? processes.length : intOrNull(processes);
}

function allowedConf(conf: unknown): Record<string, unknown> {
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) return {};
  return Object.fromEntries(Object.entries(conf).filter(([key]) => WORKER_CONF_ALLOWLIST.has(key)));
}

function parseWorkerDetail(engine: string, hostname: string, raw: unknown): WorkerDetail | undefined {
  const parsed = v.safeParse(WorkerDetailSchema, raw);
  if (!parsed.success) return undefined;
  const detail = parsed.output;
  const stats = detail.stats ?? {};
  const queues = (detail.active_queues ?? [])
    .map((queue) => (typeof queue === 'object' && queue !== null ? (queue as { name?: unknown }).name : undefined))
    .filter((name): name is string => typeof name === 'string' && name.length > 0 && name.length <= 200);
  const load = Array.isArray(stats.loadavg) && stats.loadavg.every((n) => typeof n === 'number') ? stats.loadavg.slice(0, 3) : null;
  return {
    engine,
    name: hostname,
    hostname: hostname.includes('@') ? hostname.slice(hostname.indexOf('@') + 1) : hostname,
    pid: intOrNull(stats.pid),
    concurrency: concurrencyOf(stats.pool),
    activeTasks: detail.active?.length ?? 0,
    queues: [...new Set(queues)],
    loadAverage: load,
    metadata: {
      stats: detail.stats ?? null,
      active: detail.active ?? [],
      active_queues: detail.active_queues ?? [],
      registered: detail.registered ?? [],
      conf: allowedConf(detail.conf),
    },
  };
}

export function readAdapterHealth(health: Readonly<Record<string, unknown>>): AdapterHealth {
  const queueDepths: QueueDepth[] = [];
  const workers: WorkerDetail[] = [];
  for (const [key, value] of Object.entries(health).slice(0, MAX_HEALTH_KEYS)) {
    const dot = key.lastIndexOf('.');
    if (dot <= 0) continue;
    const engine = key.slice(0, dot);
    const field = key.slice(dot + 1);
    if (engine.length > 40) continue;
    if (field === 'queue_depths') {
      const parsed = v.safeParse(QueueDepthsSchema, parseJsonString(value));
      if (!parsed.success) continue;
      for (const [queue, depth] of Object.entries(parsed.output).slice(0, MAX_QUEUES_PER_ENGINE))
        queueDepths.push({ engine, queue, depth });
    } else if (field === 'worker_details') {
      const parsed = parseJsonString(value);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
      for (const [hostname, raw] of Object.entries(parsed).slice(0, MAX_WORKERS_PER_ENGINE)) {
        if (hostname.length === 0 || hostname.length > 200) continue;
        const detail = parseWorkerDetail(engine, hostname, raw);
        if (detail) workers.push(detail);
      }
    }
  }
  return { queueDepths, workers };
}
