// `npm run bench:agent` (real Postgres at Z4J_TEST_DATABASE_URL, default the local server; Redis at BENCH_REDIS_URL,
// default redis://127.0.0.1:6379). Prints, in one run, the cost of the z4j agent to a BullMQ worker process:
//   1. max throughput: BENCH_AGENT_JOBS jobs (default 20,000; added with addBulk while a no-op worker with
//      concurrency 50 runs them) without the agent, then with @z4j/agent + createBullMQAdapter shipping to a real
//      brain (`z4j serve --only gateway,ingest` on a fresh database); overhead = 1 - with/without;
//   2. the operating point: jobs offered at a fixed BENCH_AGENT_RATE jobs/s (default 2,000) for
//      BENCH_AGENT_RATE_SECONDS (default 10), in 100 ms chunks, without and with the agent. The throughput is the
//      offered rate either way, so the overhead there is this process's CPU per job (the agent runs in it),
//      with/without - 1, next to the completion rate and the add → finish latency;
//   3. events/s shipped: the agent's events stored in the brain's `events` table, divided by the time from the
//      first job added until the last of them was stored (polled, bounded wait).
// Each run uses its own queue names on the same Redis; the queues are obliterated afterwards. The brain is a
// separate process on the same machine, so its CPU is not counted in the worker's figure but competes for cores.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import pg from 'pg';
import { createAgent } from '@z4j/agent';
import { createBullMQAdapter } from '@z4j/agent-bullmq';
import { openBrainDatabase } from '@z4j/db';
import { mintAgent } from '@z4j/enrolment';
import { createMigratedTestDatabase, testPostgresOptions } from '@z4j/testing';
import { startBrainProcess } from './brain-process.js';

const SECRET = 'bench-master-secret-0123456789-abcdefghijklmnop';
const JOBS = Number(process.env.BENCH_AGENT_JOBS ?? 20_000);
const RATE = Number(process.env.BENCH_AGENT_RATE ?? 2_000);
const RATE_SECONDS = Number(process.env.BENCH_AGENT_RATE_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_AGENT_CONCURRENCY ?? 50);
const redisUrl = new URL(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), maxRetriesPerRequest: null };
// Every wait below is bounded: a run that cannot finish fails the bench instead of hanging it.
const RUN_TIMEOUT_MS = 180_000;
const STORE_TIMEOUT_MS = 60_000;
// received, started, succeeded: what each job of a no-op processor reports at least.
const EVENTS_PER_JOB = 3;
const ADD_CHUNK = 1_000;
const TICK_MS = 100;

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const pct = (n) => `${(n * 100).toFixed(1)}%`;
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const cpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

/**
 * Runs `total` no-op jobs through a fresh queue and worker, the agent attached when `credentials` is given.
 * `offer(queue)` adds the jobs (all at once, or paced); the clock runs from the first add until the last completion.
 */
async function runJobs({ label, total, credentials, brainUrl, offer }) {
  const name = `bench-agent-${label}-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(name, { connection });
  let completed = 0;
  const latencies = [];
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  const worker = new Worker(name, async () => undefined, { connection, concurrency: CONCURRENCY, autorun: false });
  worker.on('completed', (job) => {
    latencies.push((job.finishedOn ?? Date.now()) - job.timestamp);
    completed += 1;
    if (completed === total) resolveDone();
  });
  worker.on('error', (error) => console.error(`  worker error: ${error.message}`));
  let agent;
  try {
    await queue.waitUntilReady();
    if (credentials) {
      agent = createAgent({
        adapters: [createBullMQAdapter({ queues: [queue], workers: [worker], scheduler: false })],
        brainUrl,
        token: credentials.token,
        hmacSecret: credentials.hmac_secret,
        agentName: `bench-${label}`,
        // The default (1,000) is sized for steady traffic; a bench burst would drop events and hide the ingest rate.
        bufferSize: 200_000,
      });
      await agent.start();
      for (let attempt = 0; attempt < 200 && !agent.stats().connected; attempt += 1) await sleep(50);
      if (!agent.stats().connected) throw new Error('agent did not connect to the brain within 10 s');
    }
    void worker.run();
    await worker.waitUntilReady();
    const cpuBefore = cpuSeconds();
    const startedAt = Date.now();
    const started = performance.now();
    await offer(queue);
    const timedOut = sleep(RUN_TIMEOUT_MS, 'timeout');
    if ((await Promise.race([done, timedOut])) === 'timeout')
      throw new Error(`${label}: ${completed}/${total} jobs after ${RUN_TIMEOUT_MS} ms`);
    const seconds = (performance.now() - started) / 1000;
    return {
      name,
      agent,
      startedAt,
      jobsPerSecond: total / seconds,
      cpuPerJobUs: ((cpuSeconds() - cpuBefore) / total) * 1e6,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cleanup: async () => {
        if (agent) await agent.stop();
        await worker.close();
        await queue.obliterate({ force: true });
        await queue.close();
      },
    };
  } catch (error) {
    if (agent) await agent.stop();
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    throw error;
  }
}

/** All jobs at once, in addBulk chunks: the worker's maximum throughput. */
const offerAll = (total) => async (queue) => {
  for (let added = 0; added < total; added += ADD_CHUNK) {
    const count = Math.min(ADD_CHUNK, total - added);
    await queue.addBulk(Array.from({ length: count }, (_, index) => ({ name: 'noop', data: { n: added + index } })));
  }
};

/** `rate` jobs/s for `seconds`, one addBulk chunk every TICK_MS on a fixed schedule (a late tick does not shift the next). */
const offerAtRate = (rate, seconds) => async (queue) => {
  const perTick = Math.round((rate * TICK_MS) / 1000);
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  const start = performance.now();
  for (let tick = 0; tick < ticks; tick += 1) {
    const wait = start + tick * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
    await queue.addBulk(Array.from({ length: perTick }, (_, index) => ({ name: 'noop', data: { n: tick * perTick + index } })));
  }
};

/** Waits (bounded) until the brain stored every event of `queueName`'s jobs; the rate counts from the run's first add. */
async function shippedEvents(db, projectId, queueName, jobs, startedAt) {
  const expected = jobs * EVENTS_PER_JOB;
  const deadline = Date.now() + STORE_TIMEOUT_MS;
  let row = { count: 0, last: null };
  let unchangedSince = Date.now();
  while (Date.now() < deadline) {
    const result = await db.query(
      `select count(distinct id)::int as count, max(ingested_at) as last from events where project_id = $1 and task_id like $2`,
      [projectId, `${queueName}:%`],
    );
    const next = result.rows[0];
    if (next.count !== row.count) unchangedSince = Date.now();
    row = next;
    // Done when all arrived, or when nothing new arrived for 5 s (events were lost; the count says how many).
    if (row.count >= expected || Date.now() - unchangedSince > 5_000) break;
    await sleep(100);
  }
  const seconds = row.last ? (row.last.getTime() - startedAt) / 1000 : NaN;
  return { count: row.count, expected, perSecond: row.count / seconds, seconds };
}

/** Stops a run's agent, worker and queue now (the finally block only catches runs an error left behind). */
const pending = new Set();
async function release(run) {
  pending.delete(run);
  await run.cleanup();
}

const database = await createMigratedTestDatabase();
const brainDb = await openBrainDatabase(testPostgresOptions(database.url));
const client = new pg.Client({ connectionString: database.url });
await client.connect();
let brain;
try {
  const credentials = await mintAgent(brainDb.db, { projectSlug: 'default', name: 'bench-agent', masterSecret: SECRET, now: new Date() });
  brain = await startBrainProcess({
    databaseUrl: database.url,
    secret: SECRET,
    services: 'gateway,ingest',
    env: { Z4J_LOG_LEVEL: 'info' },
  });
  console.log(`agent overhead on BullMQ (no-op processor, concurrency ${CONCURRENCY}; brain: gateway+ingest on real Postgres)`);

  // Warm-up: JIT, Redis scripts, connections; not reported.
  await release(await runJobs({ label: 'warm', total: 2_000, offer: offerAll(2_000) }));

  const without = await runJobs({ label: 'max-without', total: JOBS, offer: offerAll(JOBS) });
  pending.add(without);
  await release(without);
  const withAgent = await runJobs({ label: 'max-with', total: JOBS, credentials, brainUrl: brain.url, offer: offerAll(JOBS) });
  pending.add(withAgent);
  const shipped = await shippedEvents(client, credentials.project_id, withAgent.name, JOBS, withAgent.startedAt);
  const dropped = withAgent.agent.stats().droppedEvents;
  await release(withAgent);
  console.log(`  max throughput, ${fmt(JOBS)} jobs`);
  console.log(`    without agent   ${fmt(without.jobsPerSecond)} jobs/s   (CPU ${fmt(without.cpuPerJobUs)} µs/job)`);
  console.log(`    with agent      ${fmt(withAgent.jobsPerSecond)} jobs/s   (CPU ${fmt(withAgent.cpuPerJobUs)} µs/job)`);
  console.log(
    `    overhead        ${pct(1 - withAgent.jobsPerSecond / without.jobsPerSecond)} of max throughput   (goal ≤ 10%, stated at 2,000 jobs/s: see below)`,
  );
  console.log(
    `    events shipped  ${fmt(shipped.count)}/${fmt(shipped.expected)} stored in ${shipped.seconds.toFixed(1)} s: ${fmt(shipped.perSecond)} events/s (agent dropped ${fmt(dropped)})`,
  );

  const rateJobs = Math.round((RATE * TICK_MS) / 1000) * Math.round((RATE_SECONDS * 1000) / TICK_MS);
  const rateWithout = await runJobs({ label: 'rate-without', total: rateJobs, offer: offerAtRate(RATE, RATE_SECONDS) });
  pending.add(rateWithout);
  await release(rateWithout);
  const rateWith = await runJobs({
    label: 'rate-with',
    total: rateJobs,
    credentials,
    brainUrl: brain.url,
    offer: offerAtRate(RATE, RATE_SECONDS),
  });
  pending.add(rateWith);
  const rateShipped = await shippedEvents(client, credentials.project_id, rateWith.name, rateJobs, rateWith.startedAt);
  const rateDropped = rateWith.agent.stats().droppedEvents;
  await release(rateWith);
  const cpuOverhead = rateWith.cpuPerJobUs / rateWithout.cpuPerJobUs - 1;
  console.log(`  offered ${fmt(RATE)} jobs/s for ${RATE_SECONDS} s (${fmt(rateJobs)} jobs)`);
  for (const [label, run] of [
    ['without agent', rateWithout],
    ['with agent   ', rateWith],
  ]) {
    console.log(
      `    ${label}   ${fmt(run.jobsPerSecond)} jobs/s completed, CPU ${fmt(run.cpuPerJobUs)} µs/job, add → finish p50 ${fmt(run.p50)} ms, p99 ${fmt(run.p99)} ms`,
    );
  }
  console.log(`    overhead        ${pct(cpuOverhead)} worker-process CPU per job   (goal ≤ 10% at 2,000 jobs/s)`);
  console.log(
    `    events shipped  ${fmt(rateShipped.count)}/${fmt(rateShipped.expected)} stored in ${rateShipped.seconds.toFixed(1)} s: ${fmt(rateShipped.perSecond)} events/s (agent dropped ${fmt(rateDropped)})`,
  );
} finally {
  for (const run of pending) await run.cleanup().catch((error) => console.error(`  cleanup: ${error.message}`));
  if (brain) await brain.stop();
  await client.end();
  await brainDb.close();
  await database.drop();
}
