import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineAdapter } from '@z4j/agent';
import { createBullMQAdapter } from './bullmq-adapter.js';
import {
  dropPrefix,
  eventually,
  probeRedis,
  recordingSink,
  testConnection,
  uniquePrefix,
  type RecordedEvent,
} from './test-support/test-redis.js';

const redis = await probeRedis();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe.skipIf(!redis.available)('BullMQ job transitions as task events (real Redis)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A queue under a fresh prefix, an adapter reading it (no local workers: events must not depend on them). */
  async function setup(name = 'jobs') {
    const prefix = uniquePrefix();
    const queue = new Queue(name, { connection: testConnection(), prefix });
    const sink = recordingSink();
    const adapter: EngineAdapter = createBullMQAdapter({ queues: [queue], scheduler: false, logger: silent });
    await adapter.start(sink);
    cleanups.push(async () => {
      await adapter.stop();
      await queue.obliterate({ force: true });
      await dropPrefix(queue, prefix);
      await queue.close();
    });
    return { queue, sink, adapter, prefix };
  }

  function startWorker(queue: Queue, prefix: string, processor: (job: Job) => Promise<unknown>) {
    const worker = new Worker(queue.name, processor, { connection: testConnection(), prefix, concurrency: 4 });
    cleanups.push(() => worker.close());
    return worker;
  }

  const kindsOf = (events: RecordedEvent[], taskId: string) => events.filter((event) => event.taskId === taskId).map((event) => event.kind);

  it('reports received → started → succeeded with args, result and runtime, stamped with the stream’s Redis time', async () => {
    const { queue, sink, prefix, adapter } = await setup();
    startWorker(queue, prefix, async (job) => ({ sent: (job.data as { to: string }).to }));
    const job = await queue.add('send-mail', { to: 'someone' });
    const taskId = `jobs:${job.id}`;
    expect(await eventually(() => kindsOf(sink.events, taskId).includes('task.succeeded'))).toBe(true);
    // Every event up to the last awaited one has been read; stopping waits for their reports to finish.
    await adapter.stop();

    expect(kindsOf(sink.events, taskId).sort()).toEqual(['task.received', 'task.started', 'task.succeeded']);
    const byKind = new Map(sink.events.filter((event) => event.taskId === taskId).map((event) => [event.kind, event]));
    expect(byKind.get('task.received')!.data).toMatchObject({
      task_name: 'send-mail',
      queue: 'jobs',
      args: [{ to: 'someone' }],
      kwargs: {},
    });
    expect(byKind.get('task.started')!.data).toMatchObject({ task_name: 'send-mail', queue: 'jobs', attempt: 1 });
    const succeeded = byKind.get('task.succeeded')!;
    expect(succeeded.data).toMatchObject({ task_name: 'send-mail', result: { sent: 'someone' } });
    expect(typeof succeeded.data.runtime_ms).toBe('number');
    // The stream's Redis time, not the adapter's clock: the job's own timestamps bracket it.
    const fresh = (await queue.getJob(job.id!))!;
    expect(byKind.get('task.received')!.occurredAt!.getTime()).toBeGreaterThanOrEqual(fresh.timestamp - 1_000);
    expect(succeeded.occurredAt!.getTime()).toBeGreaterThanOrEqual(fresh.processedOn!);
    expect(succeeded.occurredAt!.getTime()).toBeLessThanOrEqual(fresh.finishedOn! + 1_000);
  });

  it('reports a failed attempt with retries left as task.retried (with and without backoff) and the last one as task.failed', async () => {
    const { queue, sink, prefix, adapter } = await setup();
    startWorker(queue, prefix, async (job) => {
      if (job.name === 'flaky' && job.attemptsMade === 0) throw new TypeError('first attempt fails');
      if (job.name === 'doomed') throw new RangeError(`attempt ${job.attemptsMade + 1} fails`);
      return 'ok';
    });
    const flaky = await queue.add('flaky', { n: 1 }, { attempts: 2 });
    const backoff = await queue.add('flaky', { n: 2 }, { attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    const doomed = await queue.add('doomed', { n: 3 }, { attempts: 2 });
    const done = (id: string | undefined, kind: string) => kindsOf(sink.events, `jobs:${id}`).includes(kind);
    expect(
      await eventually(() => done(flaky.id, 'task.succeeded') && done(backoff.id, 'task.succeeded') && done(doomed.id, 'task.failed')),
    ).toBe(true);
    // Every event up to the last awaited one has been read; stopping waits for their reports to finish.
    await adapter.stop();

    for (const job of [flaky, backoff]) {
      const events = sink.events.filter((event) => event.taskId === `jobs:${job.id}`);
      expect(events.map((event) => event.kind).sort()).toEqual([
        'task.received',
        'task.retried',
        'task.started',
        'task.started',
        'task.succeeded',
      ]);
      expect(events.find((event) => event.kind === 'task.retried')!.data).toMatchObject({ reason: 'first attempt fails', retry_count: 1 });
    }
    const failed = sink.events.find((event) => event.taskId === `jobs:${doomed.id}` && event.kind === 'task.failed')!;
    expect(failed.data).toMatchObject({
      task_name: 'doomed',
      exception: 'RangeError',
      exception_message: 'attempt 2 fails',
      retry_count: 1,
    });
    expect(failed.data.traceback).toMatch(/^RangeError: attempt 2 fails\n\s+at /);
    expect(kindsOf(sink.events, `jobs:${doomed.id}`).filter((kind) => kind === 'task.retried')).toHaveLength(1);
  });

  it('reports a removed waiting job as revoked, a delayed job’s eta, a manual retry, and nothing for removing a finished job', async () => {
    const { queue, sink, prefix } = await setup();
    const delayed = await queue.add('later', {}, { delay: 60_000 });
    const waiting = await queue.add('never', {});
    await waiting.remove();
    expect(await eventually(() => kindsOf(sink.events, `jobs:${waiting.id}`).includes('task.revoked'))).toBe(true);
    const received = sink.events.find((event) => event.taskId === `jobs:${delayed.id}` && event.kind === 'task.received')!;
    expect(Date.parse(received.data.eta as string)).toBe(delayed.timestamp + 60_000);
    expect(sink.events.find((event) => event.taskId === `jobs:${waiting.id}` && event.kind === 'task.revoked')!.data).toMatchObject({
      terminated: false,
      reason: 'removed',
    });

    startWorker(queue, prefix, async (job) => {
      if (job.attemptsMade === 0 && job.attemptsStarted === 1) throw new UnrecoverableError('no retries');
      return 'second run';
    });
    const once = await queue.add('once', {});
    const taskId = `jobs:${once.id}`;
    expect(await eventually(() => kindsOf(sink.events, taskId).includes('task.failed'))).toBe(true);
    await (await queue.getJob(once.id!))!.retry('failed');
    expect(await eventually(() => kindsOf(sink.events, taskId).includes('task.succeeded'))).toBe(true);
    expect(sink.events.find((event) => event.taskId === taskId && event.kind === 'task.retried')!.data).toMatchObject({
      reason: 'retried from failed',
    });
    await (await queue.getJob(once.id!))!.remove();
    await queue.add('marker', {});
    expect(await eventually(() => sink.events.some((event) => event.data.task_name === 'marker'))).toBe(true);
    expect(kindsOf(sink.events, taskId)).not.toContain('task.revoked');
  });

  it('misses nothing added right after start(), even with a busy stream', async () => {
    const { queue, sink, prefix } = await setup();
    startWorker(queue, prefix, async () => 'ok');
    const jobs = await queue.addBulk(Array.from({ length: 100 }, (_, index) => ({ name: 'bulk', data: { index } })));
    const ids = new Set(jobs.map((job) => `jobs:${job.id}`));
    expect(
      await eventually(() => sink.events.filter((event) => event.kind === 'task.succeeded' && ids.has(event.taskId)).length === 100),
    ).toBe(true);
    expect(sink.events.filter((event) => event.kind === 'task.received' && ids.has(event.taskId))).toHaveLength(100);
  });
});
