import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '@z4j/protocol';
import { FakeAgent, probePostgres, taskEvent } from '@z4j/testing';
import { startTestBrain } from './test-brain.js';

const postgres = await probePostgres();

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const TASKS = 120;

/** Each task: received → started → (retried → started →) succeeded|failed, a few ms apart. */
function lifecycleEvents(base: Date): { events: JsonObject[]; expected: Map<string, { state: string; retries: number }> } {
  const events: JsonObject[] = [];
  const expected = new Map<string, { state: string; retries: number }>();
  for (let index = 0; index < TASKS; index += 1) {
    const taskId = `eo-${index}`;
    const at = (offset: number) => new Date(base.getTime() + index * 20 + offset);
    events.push(taskEvent('task.received', taskId, at(0)), taskEvent('task.started', taskId, at(1)));
    let retries = 0;
    if (index % 5 === 0) {
      // Two retries within the same second: distinct events, both must be kept.
      events.push(
        taskEvent('task.retried', taskId, at(2), { retry_count: 1 }),
        taskEvent('task.retried', taskId, at(3), { retry_count: 2 }),
      );
      retries = 2;
    }
    const failed = index % 7 === 0;
    events.push(
      taskEvent(
        failed ? 'task.failed' : 'task.succeeded',
        taskId,
        at(4),
        failed ? { exception: 'ValueError', traceback: 'tb' } : { result: 42, runtime_ms: 3 },
      ),
    );
    expected.set(taskId, { state: failed ? 'failure' : 'success', retries });
  }
  return { events, expected };
}

describe.skipIf(!postgres.available)('exactly-once ingestion through the gateway', () => {
  it('stores each distinct event once despite duplicates, re-sends, a reconnect mid-batch and a gateway restart', async () => {
    const random = rng(20261123);
    const { events, expected } = lifecycleEvents(new Date(Date.now() - 60_000));
    // Shuffle delivery order: terminal events may arrive before earlier lifecycle events.
    const shuffled = [...events].sort(() => random() - 0.5);
    const batches: JsonObject[][] = [];
    for (let index = 0; index < shuffled.length; index += 25) {
      const batch = shuffled.slice(index, index + 25);
      // Random duplicates inside a batch (the same event object, as a buggy producer would send).
      for (const event of batch.slice(0, 3)) if (random() < 0.5) batch.push(event);
      batches.push(batch);
    }
    const third = Math.floor(batches.length / 3);

    let brain = await startTestBrain({ services: ['gateway', 'ingest'] });
    const minted = await brain.mint('exactly-once-agent');
    const databaseUrl = brain.databaseUrl;
    const options = () => ({ url: brain.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret, workerId: 'bare-eo-1' });
    const acked = new Set<string>();
    const frameIds = batches.map(() => `ev_${randomBytes(6).toString('hex')}`);
    try {
      // Phase 1: first third, each acked; every batch also re-sent once after its ack.
      let agent = await FakeAgent.handshake(options());
      for (let index = 0; index < third; index += 1) {
        agent.eventBatch(batches[index]!, frameIds[index]);
        await agent.waitForAck(frameIds[index]!);
        acked.add(frameIds[index]!);
        agent.eventBatch(batches[index]!, frameIds[index]); // re-send: answered without storing again
      }
      await agent.waitForAck(agent.eventBatch([]));

      // Phase 2: send the second third and drop the connection before reading any ack.
      for (let index = third; index < 2 * third; index += 1) agent.eventBatch(batches[index]!, frameIds[index]);
      agent.socket.terminate();
      await agent.closed;

      // Phase 3: reconnect and re-send everything not known to be acked, then restart the gateway mid-stream.
      agent = await FakeAgent.handshake(options());
      for (let index = third; index < 2 * third; index += 1) {
        agent.eventBatch(batches[index]!, frameIds[index]);
        await agent.waitForAck(frameIds[index]!);
        acked.add(frameIds[index]!);
      }
      for (let index = 2 * third; index < batches.length; index += 1) agent.eventBatch(batches[index]!, frameIds[index]);
      await brain.stop({ keepDatabase: true });
      await agent.closed;

      // Phase 4: a new gateway on the same database; the agent re-sends every unacked batch.
      brain = await startTestBrain({ services: ['gateway', 'ingest'], databaseUrl });
      agent = await FakeAgent.handshake(options());
      for (let index = 2 * third; index < batches.length; index += 1) {
        agent.eventBatch(batches[index]!, frameIds[index]);
        await agent.waitForAck(frameIds[index]!);
      }
      await agent.close();

      const db = brain.brain.database.db;
      const stored = await db
        .selectFrom('events')
        .select(({ fn }) => fn.countAll<string>().as('n'))
        .where('project_id', '=', minted.project_id)
        .executeTakeFirstOrThrow();
      expect(Number(stored.n)).toBe(events.length);
      const tasks = await db
        .selectFrom('tasks')
        .select(['task_id', 'state', 'retry_count'])
        .where('project_id', '=', minted.project_id)
        .execute();
      expect(tasks).toHaveLength(TASKS);
      for (const task of tasks) {
        const want = expected.get(task.task_id)!;
        expect({ id: task.task_id, state: task.state }).toEqual({ id: task.task_id, state: want.state });
        if (want.retries > 0) expect(task.retry_count).toBe(want.retries);
      }
    } finally {
      await brain.stop();
    }
  });
});
