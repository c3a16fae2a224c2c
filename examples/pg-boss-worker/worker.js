// A pg-boss worker reported to z4j. Jobs are sent and worked through the adapter's `send` and `work`: pg-boss has
// no event stream, so that is where the adapter sees them (see packages/agent-pg-boss/README.md).
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//   Z4J_BRAIN_URL=http://127.0.0.1:7700 Z4J_TOKEN=… Z4J_HMAC_SECRET=… npm start
import { setInterval, clearInterval } from 'node:timers';
import PgBoss from 'pg-boss';
import { agentOptionsFromEnv, createAgent } from '@z4j/agent';
import { createPgBossAdapter } from '@z4j/agent-pg-boss';

const QUEUE = 'resize-image';
// Every SEND_EVERY_MS the example sends itself a job, so there is something to see in the dashboard.
const SEND_EVERY_MS = Number(process.env.SEND_EVERY_MS ?? 2000);

const boss = new PgBoss(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
boss.on('error', (error) => console.error('pg-boss error', error));
// You own the boss: the adapter never starts or stops it.
await boss.start();
await boss.createQueue(QUEUE); // pg-boss v10: a queue must exist before send/work

const adapter = createPgBossAdapter({ boss, queues: [QUEUE] });
const agent = createAgent({
  adapters: [adapter],
  env: agentOptionsFromEnv(process.env), // Z4J_BRAIN_URL, Z4J_TOKEN, Z4J_HMAC_SECRET, Z4J_PROJECT_ID, …
  agentName: process.env.Z4J_AGENT_NAME ?? 'example-pg-boss-worker',
});
// Resolves once the adapter runs; the connection to the brain is made (and retried) in the background.
await agent.start({ workerRole: 'task' });

await adapter.work(QUEUE, { pollingIntervalSeconds: 0.5 }, async ([job], { signal }) => {
  // Stand-in for real work; pass `signal` on so a cancel from the dashboard (or the job's expiry) stops it.
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 300);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
  if (job.data.width > 4000) throw new Error(`width ${job.data.width} is too large`);
  return { resized: job.data.image, width: job.data.width }; // reported as the task's result
});

let sent = 0;
const sender = setInterval(() => {
  sent += 1;
  // Every fifth job fails (and is retried once by pg-boss), so failures and retries show up too.
  const data = { image: `photo-${sent}.jpg`, width: sent % 5 === 0 ? 9000 : 800 };
  adapter.send(QUEUE, data, { retryLimit: 1, retryDelay: 1 }).then(
    (id) => console.log(`sent ${QUEUE}:${id}`),
    (error) => console.error('send failed', error),
  );
}, SEND_EVERY_MS);
console.log(`working ${QUEUE}; sending a job every ${SEND_EVERY_MS} ms (Ctrl-C to stop)`);

// The agent never installs signal handlers: shutting down is the application's job.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    clearInterval(sender);
    // Stop reporting first (flushes buffered events), then let pg-boss finish its active jobs.
    void agent
      .stop()
      .then(() => boss.stop({ graceful: true, wait: true }))
      .catch((error) => console.error('shutdown', error));
  });
}
