import { Queue, Worker, type Job } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '@z4j/agent';
import { createBullMQAdapter } from '@z4j/agent-bullmq';
import { freeLoopbackPort, probePostgres } from '@z4j/testing';
import {
  dropPrefix,
  eventually,
  probeRedis,
  testConnection,
  uniquePrefix,
} from '../../packages/agent-bullmq/src/test-support/test-redis.js';
import { startTestBrain, type TestBrain } from './test-brain.js';

const postgres = await probePostgres();
const redis = await probeRedis();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const JOBS = 1_000;
const OUTAGE_MS = 10_000;

/** Every 10th job fails its first attempt (then succeeds on the retry), every 25th fails both attempts. */
async function processor(job: Job): Promise<unknown> {
  const n = (job.data as { n: number }).n;
  if (n % 25 === 0) throw new Error(`job ${n} always fails`);
  if (n % 10 === 0 && job.attemptsMade === 0) throw new Error(`job ${n} fails once`);
  return { n };
}

/**
 * Issue 6's outage run: a BullMQ app keeps working while the brain is down for 10 s in the middle of 1,000 jobs
 * (some retried, some failing for good); the agent buffers and re-sends, so afterwards the brain holds every event
 * the agent took in (counted by distinct event ids in the database) and every task in the state BullMQ has.
 */
describe.skipIf(!postgres.available || !redis.available)('@z4j/agent-bullmq through a 10 s brain outage', () => {
  let brain: TestBrain | undefined;
  let agent: Agent | undefined;
  let queue: Queue | undefined;
  let worker: Worker | undefined;
  const prefix = uniquePrefix();

  afterAll(async () => {
    await agent?.stop({ graceMs: 1_000 });
    await worker?.close(true);
    await queue?.obliterate({ force: true });
    if (queue) await dropPrefix(queue, prefix);
    await queue?.close();
    await brain?.stop();
  });

  it('loses no event and ends with the states BullMQ has', async () => {
    // A fixed port, so the restarted brain is where the agent keeps reconnecting.
    const port = await freeLoopbackPort();
    const env = { Z4J_BIND_PORT: String(port), Z4J_PUBLIC_URL: `http://127.0.0.1:${port}`, Z4J_ENVIRONMENT: 'dev' };
    brain = await startTestBrain({ services: ['gateway', 'ingest'], env });
    const minted = await brain.mint('outage-e2e');
    queue = new Queue('outage', { connection: testConnection(), prefix });
    worker = new Worker('outage', processor, { connection: testConnection(), prefix, concurrency: 20 });
    agent = createAgent({
      brainUrl: brain.brain.url,
      token: minted.token,
      hmacSecret: minted.hmac_secret,
      agentName: 'outage-e2e-host',
      adapters: [createBullMQAdapter({ queues: [queue], workers: [worker], scheduler: false, logger: silent })],
      logger: silent,
      bufferSize: 20_000,
      // Reconnect soon after the brain is back (the default backoff grows to 60 s).
      reconnectBackoffMax: 1,
    });
    await agent.start();
    expect(await eventually(() => agent!.stats().connected)).toBe(true);

    // 1,000 jobs over ~15 s; the brain goes away after ~3 s, for 10 s, while jobs keep running.
    const ids: string[] = [];
    const adding = (async () => {
      for (let n = 1; n <= JOBS; n += 50) {
        const jobs = await queue.addBulk(
          Array.from({ length: 50 }, (_, i) => ({
            name: 'work',
            data: { n: n + i },
            opts: { attempts: 2, backoff: { type: 'fixed', delay: 50 } },
          })),
        );
        ids.push(...jobs.map((job) => job.id!));
        await new Promise((resolve) => setTimeout(resolve, 750));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const { resume } = await brain.suspend();
    brain = undefined;
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    expect(agent.stats().connected).toBe(false);
    expect(agent.stats().bufferDepth).toBeGreaterThan(0);
    brain = await resume();
    await adding;

    const finished = async () => (await queue!.getCompletedCount()) + (await queue!.getFailedCount()) === JOBS;
    expect(await eventually(finished, 60_000)).toBe(true);
    expect(await eventually(() => agent!.stats().connected && agent!.stats().bufferDepth === 0, 60_000)).toBe(true);
    const stats = agent.stats();
    expect(stats.droppedEvents).toBe(0);
    expect(stats.sessions).toBeGreaterThanOrEqual(2);

    const db = brain.brain.database.db;
    const stored = await db
      .selectFrom('events')
      .select(({ fn }) => fn.count<string>('id').distinct().as('n'))
      .where('project_id', '=', minted.project_id)
      .where('task_id', 'like', 'outage:%')
      .executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(stats.acceptedEvents);

    const expected = new Map<string, string>();
    for (const id of ids) expected.set(`outage:${id}`, (await queue.getJobState(id)) === 'completed' ? 'success' : 'failure');
    expect([...expected.values()].filter((state) => state === 'failure')).toHaveLength(JOBS / 25);
    const rows = await db
      .selectFrom('tasks')
      .select(['task_id', 'state'])
      .where('project_id', '=', minted.project_id)
      .where('engine', '=', 'bullmq')
      .execute();
    const actual = new Map(rows.map((row) => [row.task_id, row.state as string]));
    expect(actual).toEqual(expected);
  }, 150_000);
});
