// `npm run bench:api` (real Postgres at Z4J_TEST_DATABASE_URL, default the local server).
// Seeds BENCH_TASKS tasks (default 1,000,000) and 5 events per task into a fresh database, starts two brain
// replicas (`z4j serve --only gateway,ingest,api,workers`) on it, and prints p50/p95 of:
//   - the task list: no filter, state filter, name filter, free-text search, task-id prefix search;
//   - task detail;
//   - command round trip across replicas: POST …/commands/cancel-task?wait=true on replica A, the agent
//     connected to replica B acks and answers, the reply carries the final state.
// Baseline in the same run: `select 1` round trips over one pg connection, so figures can be read against
// the machine's own floor. Goals (issue 5): task list p95 < 50 ms, command round trip p99 < 25 ms.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openBrainDatabase } from '@z4j/db';
import { mintAgent } from '@z4j/enrolment';
import { hashApiKey, mintApiKey } from '@z4j/identity';
import { FakeAgent, createMigratedTestDatabase, testPostgresOptions } from '@z4j/testing';
import { startBrainProcess } from './brain-process.js';
import { seedTasks } from './seed-tasks.js';

const SECRET = 'bench-master-secret-0123456789-abcdefghijklmnop';
const TASKS = Number(process.env.BENCH_TASKS ?? 1_000_000);
const EVENTS_PER_TASK = 5;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 1000);

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const ms = (value) => `${value.toFixed(1)} ms`;

function startReplica(databaseUrl) {
  return startBrainProcess({
    databaseUrl,
    secret: SECRET,
    services: 'gateway,ingest,api,workers',
    env: { Z4J_ENVIRONMENT: 'dev', Z4J_RATELIMIT_COMMANDS_PER_MINUTE: '1000000' },
  });
}

async function timeRequests(label, count, makeRequest) {
  const times = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    const response = await makeRequest(index);
    if (!response.ok) throw new Error(`${label}: HTTP ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
    times.push(performance.now() - started);
  }
  return { label, p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99) };
}

const database = await createMigratedTestDatabase();
const brainDb = await openBrainDatabase(testPostgresOptions(database.url));
const client = new pg.Client({ connectionString: database.url });
await client.connect();
const replicas = [];
try {
  const project = await client.query(`insert into projects (slug, name) values ('bench', 'Bench') returning id`);
  const projectId = project.rows[0].id;
  const user = await client.query(
    `insert into users (email, password_hash, is_admin) values ('bench@example.com', 'x', true) returning id`,
  );
  const key = mintApiKey();
  await client.query(`insert into api_keys (user_id, name, token_hash, prefix, scopes) values ($1, 'bench', $2, $3, '{admin:*}')`, [
    user.rows[0].id,
    hashApiKey(SECRET, key.token),
    key.prefix,
  ]);
  const seconds = await seedTasks(client, projectId, TASKS, EVENTS_PER_TASK);
  console.log(
    `api (real Postgres; ${TASKS.toLocaleString('en-US')} tasks and ${(TASKS * EVENTS_PER_TASK).toLocaleString('en-US')} events seeded in ${seconds.toFixed(0)} s)`,
  );

  const floor = await timeRequests('select 1', SAMPLES, async () => {
    await client.query('select 1');
    return { ok: true, arrayBuffer: async () => undefined };
  });
  console.log(`  baseline: one pg round trip (select 1)       p50 ${ms(floor.p50)}, p95 ${ms(floor.p95)}`);

  replicas.push(await startReplica(database.url), await startReplica(database.url));
  const [a, b] = replicas;
  const headers = { authorization: `Bearer ${key.token}` };
  const get = (path) => fetch(`${a.url}/api/v1/projects/bench${path}`, { headers });
  const sample = await client.query(`select task_id from tasks where project_id = $1 order by random() limit $2`, [projectId, SAMPLES]);
  const cases = [
    ['task list, newest 50', () => get('/tasks?limit=50')],
    ['task list, state=failure', () => get('/tasks?limit=50&state=failure')],
    ['task list, name filter', (i) => get(`/tasks?limit=50&name=app.tasks.job_${i % 40}`)],
    ['task list, search text', (i) => get(`/tasks?limit=50&search=job_${i % 40}`)],
    ['task list, task-id prefix', (i) => get(`/tasks?limit=50&search=${sample.rows[i % sample.rows.length].task_id.slice(0, 8)}`)],
    ['task detail', (i) => get(`/tasks/celery/${sample.rows[i % sample.rows.length].task_id}`)],
  ];
  for (const [label, makeRequest] of cases) {
    await timeRequests(label, 10, makeRequest); // warm caches and plans
    const result = await timeRequests(label, SAMPLES, makeRequest);
    console.log(`  ${label.padEnd(42)} p50 ${ms(result.p50)}, p95 ${ms(result.p95)}   (goal p95 < 50 ms)`);
  }

  // Command round trip: issued on replica A, the agent lives on replica B.
  const credentials = await mintAgent(brainDb.db, { projectSlug: 'bench', name: 'bench-agent', masterSecret: SECRET, now: new Date() });
  const agent = await FakeAgent.handshake({
    url: `${b.url.replace(/^http/, 'ws')}/ws/agent`,
    token: credentials.token,
    hmacSecret: credentials.hmac_secret,
    workerId: 'bench-worker',
    engines: ['celery'],
    onCommand: () => ({ status: 'success', result: { ok: true } }),
  });
  const cancelTask = (i) =>
    fetch(`${a.url}/api/v1/projects/bench/commands/cancel-task?wait=true`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: credentials.agent_id, engine: 'celery', task_id: `rt-${i}-${randomUUID()}` }),
    });
  // Warm both replicas' code paths and pool connections first, as for the reads above: the figure is the steady state.
  await timeRequests('command round trip (warm-up)', 50, cancelTask);
  const roundTrip = await timeRequests('command round trip', ROUND_TRIPS, cancelTask);
  console.log(
    `  command round trip (API on A → agent on B → result visible)   p50 ${ms(roundTrip.p50)}, p99 ${ms(roundTrip.p99)}   (goal p99 < 25 ms)`,
  );
  // Where the round trip goes, from the rows' own timestamps (one clock: Postgres' and the brains' are the same host).
  const stages = await client.query(
    `select percentile_cont(0.5) within group (order by extract(epoch from dispatched_at - issued_at) * 1000) as to_dispatch,
            percentile_cont(0.5) within group (order by extract(epoch from completed_at - dispatched_at) * 1000) as to_complete
       from commands where project_id = $1 and status = 'completed'`,
    [projectId],
  );
  console.log(
    `    stages (median): issued → dispatched ${Number(stages.rows[0].to_dispatch).toFixed(1)} ms, dispatched → completed ${Number(stages.rows[0].to_complete).toFixed(1)} ms`,
  );
  await agent.close();
} finally {
  for (const replica of replicas) await replica.stop();
  await client.end();
  await brainDb.close();
  await database.drop();
}
