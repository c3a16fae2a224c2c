import { describe, expect, it } from 'vitest';
import { FakeAgent, probePostgres, taskEvent } from '@z4j/testing';
import { settledQueueDepth, startTestBrain } from './test-brain.js';

const postgres = await probePostgres();

/** Upper bound on the storm so the test always ends by itself. */
const MAX_SENDS = 200_000;
/** The agent's socket write blocks once this much is queued (its kernel buffer is full). */
const BLOCKED_BYTES = 256 * 1024;

/**
 * The real Python agent (z4j-bare 1.6.0) re-sends an unacked event_batch in a
 * tight loop with the same frame id and a fresh seq/nonce/hmac, and reads its
 * socket only when a write blocks. This agent does exactly that: its event
 * loop runs (and so reads acks) only while its writes are blocked by TCP.
 */
describe.skipIf(!postgres.available)('resend storm', () => {
  it('gets the batch acked and heartbeats through, storing the batch once and pausing the storming socket', async () => {
    const test = await startTestBrain({ services: ['gateway', 'ingest'] });
    try {
      const minted = await test.mint('storm-agent');
      const agent = await FakeAgent.handshake({ url: test.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret });
      const event = taskEvent('task.received', 'storm-1', new Date(), { args: ['x'.repeat(200)] });
      const frameId = 'ev_storm00000001';
      let acked = false;
      void agent.waitForAck(frameId).then(() => (acked = true));
      let sends = 0;
      while (!acked && sends < MAX_SENDS) {
        agent.eventBatch([event], frameId);
        sends += 1;
        if (agent.socket.bufferedAmount > BLOCKED_BYTES) {
          // The write "blocks": only now does this agent's loop get to read frames (acks).
          while (agent.socket.bufferedAmount > BLOCKED_BYTES / 2 && !acked) await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      expect(acked).toBe(true);
      expect(sends).toBeLessThan(MAX_SENDS);

      // Heartbeats still get through after the storm.
      agent.heartbeat({ 'celery.queue_depths': JSON.stringify({ storm: 3 }) });
      await agent.waitForAck(agent.eventBatch([]));
      const db = test.brain.database.db;
      const depth = await settledQueueDepth(db, minted.project_id, 'storm');
      expect(depth).toBe(3);

      // The batch was stored once; every repeat was answered from memory.
      const rows = await db.selectFrom('events').select('id').where('task_id', '=', 'storm-1').execute();
      expect(rows).toHaveLength(1);
      const metrics = await (await fetch(`${test.brain.url}/metrics`)).text();
      const repeats = [...metrics.matchAll(/^z4j_gateway_repeated_frames_total\{[^}]*\} (\d+)/gm)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
      const pauses = [...metrics.matchAll(/^z4j_gateway_socket_pauses_total\{[^}]*\} (\d+)/gm)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
      expect(repeats).toBeGreaterThan(0);
      expect(pauses).toBeGreaterThan(0);
      // The gateway handled at most what was sent, and did no database work per repeat (one row above).
      expect(repeats).toBeLessThanOrEqual(sends);
      await agent.close();
    } finally {
      await test.stop();
    }
  });
});
