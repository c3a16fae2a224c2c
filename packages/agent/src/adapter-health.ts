import type { JsonObject } from '@z4j/protocol';
import type { EngineAdapter, WorkerDetail } from './engine-adapter.js';
import { toJsonValue } from './to-json-value.js';

/** Each health call gets this long, like the Python agent's health providers; a slow engine must not stall heartbeats. */
export const HEALTH_TIMEOUT_MS = 5_000;

/** The brain keeps at most this many queues per engine. */
const MAX_QUEUES = 1024;

/**
 * The Celery-inspect shape the brain reads from `"<engine>.worker_details"` (`stats.pool["max-concurrency"]`,
 * `stats.pid`, `stats.loadavg`, `active`, `active_queues[].name`, `registered`).
 *
 * @example
 * inspectShape({ name: 'w1', pid: 7, concurrency: 4, queues: ['q'] })
 * // { stats: { pid: 7, pool: { 'max-concurrency': 4 } }, active: [], active_queues: [{ name: 'q' }], registered: [] }
 */
export function inspectShape(worker: WorkerDetail): JsonObject {
  const stats: JsonObject = {};
  if (typeof worker.pid === 'number') stats.pid = worker.pid;
  if (typeof worker.concurrency === 'number') stats.pool = { 'max-concurrency': worker.concurrency };
  if (worker.loadAverage) stats.loadavg = toJsonValue(worker.loadAverage);
  return {
    stats,
    active: toJsonValue(worker.active ?? []),
    active_queues: (worker.queues ?? []).map((name) => ({ name })),
    registered: toJsonValue(worker.registered ?? []),
  };
}

function withTimeout<T>(work: () => Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  // work() may throw synchronously; Promise.resolve().then turns that into a rejection.
  return Promise.race([Promise.resolve().then(work), timeout]).finally(() => clearTimeout(timer));
}

/**
 * The heartbeat's `adapter_health` map: per engine, `"<engine>.queue_depths"` and `"<engine>.worker_details"` as
 * JSON strings (§1.10). A call that fails or times out leaves its key out and is reported through `onError`.
 *
 * @example
 * await collectAdapterHealth([adapter], (engine, what, err) => log.warn({ engine, what, err }, 'agent:health:failed'))
 * // { 'bullmq.queue_depths': '{"mail":3}', 'bullmq.worker_details': '{"bullmq@web-1":{…}}' }
 */
export async function collectAdapterHealth(
  adapters: readonly EngineAdapter[],
  onError: (engine: string, what: 'queue_depths' | 'worker_details', error: unknown) => void,
  timeoutMs: number = HEALTH_TIMEOUT_MS,
): Promise<Record<string, string>> {
  const health: Record<string, string> = {};
  await Promise.all(
    adapters.flatMap((adapter) => [
      withTimeout(() => adapter.queueDepths(), timeoutMs).then(
        (depths) => {
          const clean: Record<string, number> = {};
          for (const [queue, depth] of Object.entries(depths).slice(0, MAX_QUEUES)) {
            if (queue !== '' && Number.isSafeInteger(depth) && depth >= 0) clean[queue] = depth;
          }
          health[`${adapter.engine}.queue_depths`] = JSON.stringify(clean);
        },
        (error: unknown) => onError(adapter.engine, 'queue_depths', error),
      ),
      withTimeout(() => adapter.workerDetails(), timeoutMs).then(
        (workers) => {
          const details: JsonObject = {};
          for (const worker of workers) if (worker.name) details[worker.name] = inspectShape(worker);
          health[`${adapter.engine}.worker_details`] = JSON.stringify(details, (_key, value: unknown) =>
            typeof value === 'bigint' ? Number(value) : value,
          );
        },
        (error: unknown) => onError(adapter.engine, 'worker_details', error),
      ),
    ]),
  );
  return health;
}
