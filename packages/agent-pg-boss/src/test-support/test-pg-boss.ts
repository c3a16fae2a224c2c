import type { EmitInput, EmittableEventKind, EventSink } from '@z4j/agent';
import type { JsonObject } from '@z4j/protocol';
import { createEmptyTestDatabase } from '@z4j/testing';
import PgBoss from 'pg-boss';

/**
 * Real-Postgres test helpers for pg-boss (no mocks). Not part of the published package (excluded from the build);
 * the adapter's tests and the CLI end-to-end test use them.
 */

export interface TestBoss {
  readonly boss: PgBoss;
  readonly url: string;
  /** Stops pg-boss (without waiting for handlers) and drops the database. */
  stop(): Promise<void>;
}

/**
 * A started pg-boss on a database of its own (`create database`, pg-boss installs its schema), polling as fast as
 * pg-boss allows (0.5 s) and without the maintenance supervisor, so tests see only what they do.
 */
export async function startTestBoss(options: Partial<PgBoss.ConstructorOptions> = {}): Promise<TestBoss> {
  const database = await createEmptyTestDatabase('z4j_pgboss');
  const boss = new PgBoss({ connectionString: database.url, supervise: false, pollingIntervalSeconds: 0.5, max: 20, ...options });
  boss.on('error', () => undefined);
  await boss.start();
  return {
    boss,
    url: database.url,
    stop: async () => {
      await boss.stop({ graceful: false, timeout: 1_000 }).catch(() => undefined);
      await database.drop();
    },
  };
}

export interface RecordedEvent {
  readonly kind: string;
  readonly taskId: string;
  readonly data: JsonObject;
}

/** An EventSink that keeps what the adapter emits. */
export function recordingSink(engine = 'pg-boss'): EventSink & { readonly events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  return {
    engine,
    events,
    emit<K extends EmittableEventKind>(kind: K, input: EmitInput<K>): boolean {
      const data = JSON.parse(JSON.stringify(input.data ?? {})) as JsonObject;
      events.push({ kind, taskId: input.taskId ?? '', data });
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
