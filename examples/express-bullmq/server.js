// An HTTP endpoint that enqueues a BullMQ job, a worker that runs it, and the z4j agent reporting both.
// express is not installed in this repository, so this uses node:http; with express, replace the handler with a
// route and `attachToHttpServer` with `attachToExpress(app.listen(PORT), agent)` (see README.md).
//
//   Z4J_BRAIN_URL=http://127.0.0.1:7700 Z4J_TOKEN=… Z4J_HMAC_SECRET=… npm start
//   curl -X POST 'http://127.0.0.1:3000/signup?email=a@example.com'
import { createServer } from 'node:http';
import { Queue, Worker } from 'bullmq';
import { agentOptionsFromEnv, attachToHttpServer, createAgent } from '@z4j/agent';
import { createBullMQAdapter } from '@z4j/agent-bullmq';

const PORT = Number(process.env.PORT ?? 3000);
const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
// maxRetriesPerRequest: null is what BullMQ workers require of their connection.
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), maxRetriesPerRequest: null };

const queue = new Queue('welcome-mail', { connection });
const worker = new Worker(
  'welcome-mail',
  async (job, _token, signal) => {
    // Stand-in for real work; honour `signal` so the dashboard's "cancel" can stop an active job.
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, 200);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('cancelled'));
      });
    });
    if (job.data.email.endsWith('@fail.example')) throw new Error(`mailbox ${job.data.email} does not exist`);
    return { sent: true, to: job.data.email };
  },
  { connection, concurrency: 5 },
);
worker.on('error', (error) => console.error('worker error', error));

const agent = createAgent({
  adapters: [createBullMQAdapter({ queues: [queue], workers: [worker] })],
  env: agentOptionsFromEnv(process.env), // Z4J_BRAIN_URL, Z4J_TOKEN, Z4J_HMAC_SECRET, Z4J_PROJECT_ID, …
  agentName: process.env.Z4J_AGENT_NAME ?? 'example-http-bullmq',
});

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
  if (request.method === 'POST' && url.pathname === '/signup') {
    const email = url.searchParams.get('email') ?? 'someone@example.com';
    queue.add('send-welcome-mail', { email }, { attempts: 3, backoff: { type: 'exponential', delay: 1000 } }).then(
      (job) => {
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ queued: true, task_id: `${queue.name}:${job.id}` }));
      },
      (error) => {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ queued: false, error: String(error) }));
      },
    );
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' });
  response.end('POST /signup?email=you@example.com\n');
});

// The agent starts once the server listens and stops (flushing its buffered events) when the server closes.
void attachToHttpServer(server, agent, { framework: 'node-http', workerRole: 'web' });
server.listen(PORT, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${PORT}; POST /signup?email=you@example.com`));

// The agent never installs signal handlers: shutting down is the application's job.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    server.close(() => {
      // server.close stopped the agent (attachToHttpServer); wait for it, then close what the adapter only read.
      void agent
        .stop()
        .then(() => worker.close())
        .then(() => queue.close())
        .catch((error) => console.error('shutdown', error));
    });
  });
}
