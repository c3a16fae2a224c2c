// `npm run bench:ingest` (real Postgres at Z4J_TEST_DATABASE_URL, default the local server).
// Prints, in one run:
//   1. raw COPY rate of the same event rows into the same partitioned `events` table (baseline);
//   2. end-to-end events/s through WebSocket → gateway → ingest → commit → ack, with batched
//      frames and with one event per frame (the Python agent's pattern), their ratio to raw COPY
//      and the p50/p99 ack latency;
//   3. gateway memory per idle connection with 5,000 idle agents.
// The gateway+ingest run as a separate `z4j serve --only gateway,ingest` process; the load
// generator (this process) signs every frame itself, on the same 2 cores.
import { Buffer } from 'node:buffer';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { openBrainDatabase } from '@z4j/db';
import { mintAgent } from '@z4j/enrolment';
import { canonicalJson } from '@z4j/protocol';
import { FakeAgent, createMigratedTestDatabase, taskEvent, testPostgresOptions } from '@z4j/testing';
import { startBrainProcess } from './brain-process.js';

const SECRET = 'bench-master-secret-0123456789-abcdefghijklmnop';
const N_COPY = Number(process.env.BENCH_COPY_ROWS ?? 100_000);
const COPY_RUNS = Number(process.env.BENCH_COPY_RUNS ?? 3);
const N_BATCHED = Number(process.env.BENCH_BATCHED_EVENTS ?? 100_000);
const N_SINGLE = Number(process.env.BENCH_SINGLE_EVENTS ?? 30_000);
/** BENCH_PG_FUNCTIONS=1: also print the Postgres time of each ingest function per event (track_functions = pl). */
const PG_FUNCTIONS = process.env.BENCH_PG_FUNCTIONS === '1';
const IDLE_AGENTS = Number(process.env.BENCH_IDLE_AGENTS ?? 5_000);

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere or once it exited. */
function cpuSecondsOf(pid) {
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th (clock ticks, 100 Hz).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds used by the brain process and by the Postgres backends serving the bench database. */
async function cpuSnapshot(gateway, db) {
  const backends = await db.query('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
  const postgres = new Map(backends.rows.map((row) => [row.pid, cpuSecondsOf(row.pid)]));
  const own = process.cpuUsage();
  return { brain: cpuSecondsOf(gateway.pid), postgres, generator: (own.user + own.system) / 1e6 };
}

/** CPU µs per event between two snapshots (backends that appeared in between count from zero). */
function cpuPerEvent(before, after, events) {
  let postgres = 0;
  for (const [pid, seconds] of after.postgres) postgres += seconds - (before.postgres.get(pid) ?? 0);
  return {
    brainUs: ((after.brain - before.brain) / events) * 1e6,
    postgresUs: (postgres / events) * 1e6,
    generatorUs: ((after.generator - before.generator) / events) * 1e6,
  };
}

/** Self time per event (and number of calls) of each z4j_* function since the last stats reset, then resets the stats. */
async function functionTimes(db, events) {
  const result = await db.query(
    "select funcname, calls, self_time from pg_stat_user_functions where funcname like 'z4j\\_%' order by self_time desc",
  );
  await db.query('select pg_stat_reset()');
  return result.rows.map(
    (row) =>
      `      ${row.funcname.padEnd(40)} ${((Number(row.self_time) * 1000) / events).toFixed(1).padStart(6)} µs/event  (${row.calls} calls)`,
  );
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

/**
 * A ~300-byte event like the ones agents send. Events come in the lifecycle a Celery worker reports for
 * every task (received → started → succeeded), so a run of N events is N/3 tasks, as in production; the
 * raw COPY baseline stores the very same rows.
 */
const LIFECYCLE = ['task.received', 'task.started', 'task.succeeded'];
function benchEvent(index, at) {
  const task = Math.floor(index / LIFECYCLE.length);
  const kind = LIFECYCLE[index % LIFECYCLE.length];
  const data = { args: [task, 'some-argument'], kwargs: { user_id: task % 1000, flag: true } };
  if (kind === 'task.succeeded') Object.assign(data, { runtime_ms: 12, result: task * 2 });
  return taskEvent(kind, `bench-${task}`, at, data);
}

async function rawCopy(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const projectId = randomUUID();
    const now = Date.now();
    const escape = (text) => text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
    // Rows are built before the clock starts: the baseline measures Postgres, not this script.
    const chunks = [];
    for (let offset = 0; offset < N_COPY; offset += 10_000) {
      const rows = [];
      for (let index = offset; index < Math.min(N_COPY, offset + 10_000); index += 1) {
        const at = new Date(now - index);
        const event = benchEvent(index, at);
        rows.push(
          [projectId, at.toISOString(), randomUUID(), '\\N', event.engine, event.task_id, event.kind, escape(JSON.stringify(event))].join(
            '\t',
          ) + '\n',
        );
      }
      chunks.push(rows);
    }
    const started = performance.now();
    for (const rows of chunks) {
      await pipeline(
        Readable.from(rows),
        client.query(copyFrom('COPY events (project_id, occurred_at, id, agent_id, engine, task_id, kind, payload) FROM STDIN')),
      );
    }
    const seconds = (performance.now() - started) / 1000;
    await client.query('delete from events where project_id = $1', [projectId]);
    return N_COPY / seconds;
  } finally {
    await client.end();
  }
}

async function startGateway(databaseUrl, extraEnv = {}) {
  const brain = await startBrainProcess({
    databaseUrl,
    secret: SECRET,
    services: 'gateway,ingest',
    env: { Z4J_RATELIMIT_EVENTS_PER_SECOND: '10000000', ...extraEnv },
    // BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the brain process.
    nodeArgs: (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean),
  });
  return { ...brain, agentUrl: `${brain.url.replace(/^http/, 'ws')}/ws/agent` };
}

/**
 * Sends `total` events, `perFrame` per frame, keeping `window` frames unacked per agent. The frames' events
 * and their canonical payload text are built before the clock starts and each burst of sends leaves in one
 * TCP write: the load generator shares the two cores with the brain, and what it spends building and
 * writing frames is not the brain's work. Every frame is still signed when it is sent (its own seq, nonce,
 * ts and HMAC over the whole frame), and every ack is verified.
 */
async function endToEnd(gateway, credentials, statsDb, { total, perFrame, window, connections, pythonLayout = false }) {
  const agents = await Promise.all(
    Array.from({ length: connections }, (_, index) =>
      FakeAgent.handshake({
        url: gateway.agentUrl,
        token: credentials.token,
        hmacSecret: credentials.hmac_secret,
        workerId: `bench-${index}-${Date.now()}`,
      }),
    ),
  );
  const base = Date.now() - 3_600_000;
  const run = randomBytes(4).toString('hex');
  const frames = [];
  for (let first = 0; first < total; first += perFrame) {
    const events = [];
    for (let index = first; index < Math.min(total, first + perFrame); index += 1) events.push(benchEvent(index, new Date(base + index)));
    frames.push({ id: `ev_${run}_${frames.length}`, events, payload: canonicalJson({ events }) });
  }
  const latencies = [];
  let next = 0;
  const cpuBefore = await cpuSnapshot(gateway, statsDb);
  const started = performance.now();
  // Each agent keeps `window` frames unacked: every ack sends the next frames (one corked burst), so the
  // generator's cost per frame does not grow with the window (no Promise.race over the frames in flight).
  await Promise.all(
    agents.map(
      (agent) =>
        new Promise((resolve, reject) => {
          let inFlight = 0;
          let refillQueued = false;
          // The acks of one group commit arrive together: refill once after all of them, in one burst.
          const queueRefill = () => {
            if (refillQueued) return;
            refillQueued = true;
            void Promise.resolve().then(() => {
              refillQueued = false;
              refill();
            });
          };
          const refill = () => {
            agent.corked(() => {
              while (inFlight < window && next < frames.length) {
                const frame = frames[next++];
                const sentAt = performance.now();
                inFlight += 1;
                agent.waitForAck(frame.id).then(() => {
                  latencies.push(performance.now() - sentAt);
                  inFlight -= 1;
                  // Forget acked frames so waitFor() stays cheap.
                  if (agent.inbound.length > 1000) agent.inbound.splice(0, agent.inbound.length);
                  queueRefill();
                }, reject);
                if (pythonLayout) agent.sendRaw(pythonLayoutFrame(agent.sign('event_batch', frame.id, { events: frame.events })));
                else agent.eventBatchCanonical(frame.payload, frame.id);
              }
            });
            if (inFlight === 0) resolve();
          };
          refill();
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPerEvent(cpuBefore, await cpuSnapshot(gateway, statsDb), total);
  await Promise.all(agents.map((agent) => agent.close()));
  return { rate: total / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpu };
}

/**
 * A signed frame laid out the way the Python agent writes it (pydantic field order, `hmac` before
 * `payload`) instead of canonically: the brain cannot hash such wire bytes as they are and verifies by
 * re-serialising the parsed frame.
 */
function pythonLayoutFrame(canonicalWire) {
  const frame = JSON.parse(canonicalWire.toString('utf8'));
  const order = ['v', 'type', 'id', 'ts', 'nonce', 'seq', 'hmac', 'payload'];
  return Buffer.from(`{${order.map((key) => `${JSON.stringify(key)}:${canonicalJson(frame[key])}`).join(',')}}`, 'utf8');
}

async function idleMemory(databaseUrl, db) {
  const gateway = await startGateway(databaseUrl, {
    Z4J_TRUSTED_PROXIES: '127.0.0.1/32',
    Z4J_WS_PER_AGENT_CONCURRENCY_CAP: '0',
    Z4J_DB_POOL_SIZE: '20',
  });
  try {
    const agents = [];
    const credentials = [];
    for (let index = 0; index < 100; index += 1)
      credentials.push(await mintAgent(db, { projectSlug: 'default', name: `idle-${index}`, masterSecret: SECRET, now: new Date() }));
    const connect = (index) =>
      FakeAgent.connect(
        {
          url: gateway.agentUrl,
          token: credentials[index % 100].token,
          hmacSecret: credentials[index % 100].hmac_secret,
          workerId: `idle-${index}`,
        },
        // Behind a load balancer: each agent has its own address (and the per-IP connect limit is per address).
        {
          authorization: `Bearer ${credentials[index % 100].token}`,
          'x-forwarded-for': `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`,
        },
      ).then(async (agent) => {
        await agent.hello();
        return agent;
      });
    // Warm the code paths before the baseline.
    for (let index = 0; index < 20; index += 1) agents.push(await connect(index));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const rssBefore = await gateway.metric('z4j_process_process_resident_memory_bytes');
    const heapBefore = await gateway.metric('z4j_process_nodejs_heap_size_used_bytes');
    for (let index = 20; index < IDLE_AGENTS + 20; index += 200) {
      const batch = [];
      for (let j = index; j < Math.min(IDLE_AGENTS + 20, index + 200); j += 1) batch.push(connect(j));
      agents.push(...(await Promise.all(batch)));
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const rssAfter = await gateway.metric('z4j_process_process_resident_memory_bytes');
    const heapAfter = await gateway.metric('z4j_process_nodejs_heap_size_used_bytes');
    const connections = await gateway.metric('z4j_ws_connections');
    await Promise.all(agents.map((agent) => agent.close()));
    return { connections, rssPer: (rssAfter - rssBefore) / IDLE_AGENTS, heapPer: (heapAfter - heapBefore) / IDLE_AGENTS, rssAfter };
  } finally {
    await gateway.stop();
  }
}

const database = await createMigratedTestDatabase();
const brainDb = await openBrainDatabase(testPostgresOptions(database.url));
const statsDb = new pg.Client({ connectionString: database.url });
await statsDb.connect();
const cpuLine = (cpu) =>
  `    CPU per event                              brain process ${cpu.brainUs.toFixed(0)} µs, Postgres ${cpu.postgresUs.toFixed(0)} µs (load generator ${cpu.generatorUs.toFixed(0)} µs)`;
try {
  // The baseline is the median of three runs: on a shared 2-core VM one COPY run alone swings by a third.
  const copyRuns = [];
  for (let run = 0; run < COPY_RUNS; run += 1) copyRuns.push(await rawCopy(database.url));
  const copyRate = percentile(copyRuns, 50);
  console.log('ingest (real Postgres; gateway+ingest in one child process, load generator in this one)');
  console.log(
    `  raw COPY baseline (10k rows per COPY)        ${fmt(copyRate)} rows/s   (median of ${COPY_RUNS}: ${copyRuns.map(fmt).join(', ')})`,
  );

  if (PG_FUNCTIONS) {
    await statsDb.query(`alter database "${statsDb.database}" set track_functions = 'pl'`);
    await statsDb.query('select pg_stat_reset()');
  }
  const gateway = await startGateway(database.url);
  try {
    const credentials = await mintAgent(brainDb.db, { projectSlug: 'default', name: 'bench-agent', masterSecret: SECRET, now: new Date() });
    const batched = await endToEnd(gateway, credentials, statsDb, { total: N_BATCHED, perFrame: 500, window: 4, connections: 4 });
    console.log(
      `  end-to-end, 500 events/frame                 ${fmt(batched.rate)} events/s   (${(batched.rate / copyRate).toFixed(2)}x raw COPY; goal >= 0.5x)`,
    );
    console.log(`    ack latency per frame                      p50 ${batched.p50.toFixed(1)} ms, p99 ${batched.p99.toFixed(1)} ms`);
    console.log(cpuLine(batched.cpu));
    if (PG_FUNCTIONS) console.log(['    Postgres self time per function', ...(await functionTimes(statsDb, N_BATCHED))].join('\n'));
    const single = await endToEnd(gateway, credentials, statsDb, { total: N_SINGLE, perFrame: 1, window: 500, connections: 2 });
    console.log(
      `  end-to-end, 1 event/frame (Python pattern)   ${fmt(single.rate)} events/s   (${(single.rate / copyRate).toFixed(2)}x raw COPY; goal >= 10,000/s)`,
    );
    console.log(`    ack latency per frame                      p50 ${single.p50.toFixed(1)} ms, p99 ${single.p99.toFixed(1)} ms`);
    console.log(cpuLine(single.cpu));
    if (PG_FUNCTIONS) console.log(['    Postgres self time per function', ...(await functionTimes(statsDb, N_SINGLE))].join('\n'));
    const python = await endToEnd(gateway, credentials, statsDb, {
      total: N_SINGLE,
      perFrame: 1,
      window: 500,
      connections: 2,
      pythonLayout: true,
    });
    console.log(`    the same in the Python agent's key order    ${fmt(python.rate)} events/s   (frames verified by re-serialising)`);
    console.log(cpuLine(python.cpu));
  } finally {
    await gateway.stop();
  }

  const idle = await idleMemory(database.url, brainDb.db);
  console.log(`  idle agents connected                        ${fmt(idle.connections)}`);
  console.log(
    `  gateway memory per idle connection           ${(idle.rssPer / 1024).toFixed(1)} KiB RSS, ${(idle.heapPer / 1024).toFixed(1)} KiB JS heap   (goal <= 64 KiB; process RSS ${(idle.rssAfter / 2 ** 20).toFixed(0)} MiB)`,
  );
} finally {
  await statsDb.end();
  await brainDb.close();
  await database.drop();
}
