import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { createBullMQAdapter, parseTaskId, taskIdOf } from '@z4j/agent-bullmq';
import { defineAdapterConformanceSuite, type EngineFixture, type EngineJobState, type JobKind } from '@z4j/agent-testkit';
import type { JsonObject } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import { dropPrefix, probeRedis, testConnection, uniquePrefix } from '../../packages/agent-bullmq/src/test-support/test-redis.js';
import { startConformanceBrain } from './test-brain.js';

const postgres = await probePostgres();
const redis = await probeRedis();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The conformance job kinds as BullMQ processors, by job name. Jobs of other names (the job scheduler's `digest`)
 * succeed with their data. `long` rejects with UnrecoverableError when cancelled, which skips BullMQ's retries
 * (the adapter's cancellation contract).
 */
async function processor(job: Job, _token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
  switch (job.name as JobKind) {
    case 'flaky':
      if (job.attemptsMade === 0) throw new Error('first attempt fails');
      return job.data;
    case 'doomed':
      throw new RangeError('always fails');
    case 'fail-once':
      if (job.attemptsStarted === 1) throw new Error('fails until retried by hand');
      return job.data;
    case 'long':
      return new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(new UnrecoverableError(`cancelled: ${String(signal.reason)}`)), { once: true });
      });
    default:
      return job.data;
  }
}

/** BullMQ's job states in the suite's words; `unknown` is what getState says of a job it no longer has. */
const STATES: Readonly<Record<string, EngineJobState>> = {
  completed: 'succeeded',
  failed: 'failed',
  active: 'running',
  waiting: 'pending',
  wait: 'pending',
  delayed: 'pending',
  prioritized: 'pending',
  paused: 'pending',
  'waiting-children': 'pending',
  unknown: 'gone',
};

/** Where the adapter keeps a disabled job scheduler (README: BullMQ has no disabled state of its own). */
const DISABLED_SCHEDULERS = 'z4j:disabled-schedulers';

async function createBullMQFixture(): Promise<EngineFixture> {
  // A prefix of its own: other runs on the same Redis never see these queues.
  const prefix = uniquePrefix();
  const work = new Queue('work', { connection: testConnection(), prefix });
  const parked = new Queue('parked', { connection: testConnection(), prefix });
  const worker = new Worker('work', processor, { connection: testConnection(), prefix, concurrency: 10 });
  await work.upsertJobScheduler('nightly', { pattern: '0 3 * * *' }, { name: 'digest', data: { scope: 'all' } });
  const queues = new Map([work, parked].map((queue) => [queue.name, queue]));
  const adapter = createBullMQAdapter({ queues: [work, parked], workers: [worker], logger: silent, cancelWaitMs: 5_000 });
  const added = (queue: Queue, job: Job, payload: JsonObject) => ({
    taskId: taskIdOf(queue.name, job.id ?? ''),
    taskName: job.name,
    queue: queue.name,
    args: [payload],
  });
  return {
    adapter,
    queue: work.name,
    parkedQueue: parked.name,
    // Two attempts for the kinds that fail and are retried by BullMQ itself; one for the others.
    enqueue: async (kind, payload) =>
      added(work, await work.add(kind, payload, { attempts: kind === 'flaky' || kind === 'doomed' ? 2 : 1 }), payload),
    park: async (payload) => added(parked, await parked.add('ok', payload), payload),
    submitParameters: (kind, payload) => ({ name: kind, args: [payload], kwargs: {}, queue: work.name }),
    async job(taskId) {
      const { queue, jobId } = parseTaskId(taskId);
      const job = await Job.fromId(queues.get(queue)!, jobId);
      if (!job) return { state: 'gone', raw: 'missing', retries: 0, error: null };
      const raw = await job.getState();
      // attemptsMade counts every finished attempt, the last one included.
      return {
        state: STATES[raw] ?? 'gone',
        raw,
        retries: Math.max(0, job.attemptsMade - 1),
        error: raw === 'failed' ? job.failedReason : null,
      };
    },
    isPaused: (queue) => queues.get(queue)!.isPaused(),
    schedule: {
      name: 'work:nightly',
      taskName: 'digest',
      kind: 'cron',
      expression: '0 3 * * *',
      async state() {
        if (await work.getJobScheduler('nightly')) return 'enabled';
        const disabled = await (await work.client).hexists(work.toKey(DISABLED_SCHEDULERS), 'nightly');
        return disabled === 1 ? 'disabled' : 'missing';
      },
    },
    async stop() {
      await worker.close(true);
      for (const queue of queues.values()) await queue.obliterate({ force: true });
      await dropPrefix(work, prefix);
      for (const queue of queues.values()) await queue.close();
    },
  };
}

defineAdapterConformanceSuite({
  name: '@z4j/agent-bullmq on real Redis',
  available: postgres.available && redis.available,
  startBrain: startConformanceBrain,
  setup: createBullMQFixture,
});
