import { randomBytes } from 'node:crypto';
import type { EmitInput, EmittableEventKind, EventSink } from '@z4j/agent';
import type { JsonObject } from '@z4j/protocol';
import { Queue, type ConnectionOptions } from 'bullmq';

/**
 * Real-Redis test helpers (no mocks of Redis or BullMQ). Not part of the published package (excluded from the
 * build); the adapter's tests and the CLI end-to-end test use them.
 */

/** `Z4J_TEST_REDIS_URL`, default the local server. */
export const TEST_REDIS_URL = process.env.Z4J_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RedisProbe {
  readonly available: boolean;
  readonly reason?: string;
}

/**
 * Whether the test Redis answers. Under `CI=true` a missing server is a failure, never a skip: CI must not go green
 * by testing nothing (the same rule as probePostgres).
 */
export async function probeRedis(url: string = TEST_REDIS_URL): Promise<RedisProbe> {
  const queue = new Queue(`probe-${randomBytes(4).toString('hex')}`, {
    connection: { url, connectTimeout: 2_000, maxRetriesPerRequest: 1, retryStrategy: () => null },
  });
  queue.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      queue.waitUntilReady(),
      new Promise((_resolve, reject) => (timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3_000))),
    ]);
    return { available: true };
  } catch (error) {
    const reason = `Redis at ${url.replace(/\/\/[^@/]*@/, '//***@')} is not reachable: ${error instanceof Error ? error.message : String(error)}`;
    if (process.env.CI === 'true')
      throw new Error(`${reason} (CI=true: a missing Redis fails the run; set Z4J_TEST_REDIS_URL)`, { cause: error });
    return { available: false, reason };
  } finally {
    clearTimeout(timer);
    await queue.close().catch(() => undefined);
  }
}

/** Connection options for test queues and workers (workers need maxRetriesPerRequest: null). */
export function testConnection(): ConnectionOptions {
  return { url: TEST_REDIS_URL, maxRetriesPerRequest: null };
}

/** A BullMQ key prefix no other test uses, so tests never see each other's jobs. */
export function uniquePrefix(): string {
  return `z4jtest-${randomBytes(6).toString('hex')}`;
}

/** Deletes every key under the prefix (what obliterate leaves, e.g. the adapter's disabled-schedulers hash). */
export async function dropPrefix(queue: Queue, prefix: string): Promise<void> {
  const client = await queue.client;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, { MATCH: `${prefix}:*`, COUNT: 500 });
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export interface RecordedEvent {
  readonly kind: string;
  readonly taskId: string;
  readonly occurredAt: Date | undefined;
  readonly data: JsonObject;
}

/** An EventSink that keeps what the adapter emits. */
export function recordingSink(engine = 'bullmq'): EventSink & { readonly events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  return {
    engine,
    events,
    emit<K extends EmittableEventKind>(kind: K, input: EmitInput<K>): boolean {
      const data = JSON.parse(JSON.stringify(input.data ?? {})) as JsonObject;
      events.push({ kind, taskId: input.taskId ?? '', occurredAt: input.occurredAt, data });
      return true;
    },
  };
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}
