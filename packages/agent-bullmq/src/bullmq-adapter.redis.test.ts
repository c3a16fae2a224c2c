import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandError, type CommandAction, type EngineAdapter } from '@z4j/agent';
import { purgeConfirmToken, type JsonObject } from '@z4j/protocol';
import { createBullMQAdapter, type BullMQAdapterOptions } from './bullmq-adapter.js';
import { dropPrefix, eventually, probeRedis, recordingSink, testConnection, uniquePrefix } from './test-support/test-redis.js';

const redis = await probeRedis();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const noSignal = () => new AbortController().signal;

/** Runs until its AbortSignal fires, then fails without retries, as the README's cancellation contract asks. */
async function cancellable(job: Job, _token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
  if (job.name !== 'long') {
    if (job.name === 'fail' && job.attemptsStarted === 1) throw new UnrecoverableError('boom');
    return 'done';
  }
  return new Promise((_resolve, reject) => {
    signal?.addEventListener('abort', () => reject(new UnrecoverableError(`cancelled: ${String(signal.reason)}`)), { once: true });
  });
}

describe.skipIf(!redis.available)('createBullMQAdapter commands (real Redis)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(options: { processor?: Parameters<typeof startWorker>[0]; adapter?: Partial<BullMQAdapterOptions> } = {}) {
    const prefix = uniquePrefix();
    const queue = new Queue('work', { connection: testConnection(), prefix });
    const other = new Queue('other', { connection: testConnection(), prefix });
    function startWorker(processor: (job: Job, token?: string, signal?: AbortSignal) => Promise<unknown>, name?: string) {
      const worker = new Worker('work', processor, { connection: testConnection(), prefix, concurrency: 2, ...(name ? { name } : {}) });
      cleanups.push(() => worker.close(true));
      return worker;
    }
    const worker = options.processor ? startWorker(options.processor) : undefined;
    const sink = recordingSink();
    const adapter: EngineAdapter = createBullMQAdapter({
      queues: [queue, other],
      workers: worker ? [worker] : [],
      logger: silent,
      cancelWaitMs: 5_000,
      ...options.adapter,
    });
    await adapter.start(sink);
    cleanups.push(async () => {
      await adapter.stop();
      for (const q of [queue, other]) await q.obliterate({ force: true });
      await dropPrefix(queue, prefix);
      await Promise.all([queue.close(), other.close()]);
    });
    const run = (action: CommandAction, parameters: JsonObject, target: JsonObject = {}) =>
      adapter.execute(action, target, parameters, noSignal());
    return { queue, other, sink, adapter, run, worker, startWorker };
  }

  async function rejection(promise: Promise<unknown>): Promise<string> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CommandError);
    return `${(error as CommandError).code}: ${(error as CommandError).message}`;
  }

  it('advertises exactly the actions it runs, and reports depths and local workers for heartbeats', async () => {
    const { adapter, queue, worker } = await setup({ processor: cancellable });
    expect([...adapter.capabilities].sort()).toEqual(
      ['bulk_retry', 'cancel_task', 'pause_queue', 'purge_queue', 'reconcile_task', 'resume_queue', 'retry_task', 'submit_task'].sort(),
    );
    expect(adapter.scheduler?.scheduler).toBe('bullmq');
    await worker!.pause();
    await queue.add('a', {});
    await queue.add('b', {}, { delay: 60_000 });
    await queue.add('c', {}, { priority: 5 });
    // Delayed jobs are future runs, not depth.
    expect(await adapter.queueDepths()).toEqual({ work: 2, other: 0 });
    worker!.resume();
    const long = await queue.add('long', {});
    expect(await eventually(async () => (await long.getState()) === 'active')).toBe(true);
    expect(await eventually(async () => (await adapter.workerDetails())[0]?.active?.length === 1)).toBe(true);
    const [detail] = await adapter.workerDetails();
    expect(detail).toMatchObject({ name: expect.stringMatching(/^work@.+:\d+$/), pid: process.pid, concurrency: 2, queues: ['work'] });
    expect(detail!.active).toEqual([{ id: `work:${long.id}`, name: 'long' }]);
  });

  it('submits jobs (data from args or kwargs, eta as a delay) and refuses what a BullMQ job cannot carry', async () => {
    const { run, queue, other } = await setup();
    const first = await run('submit_task', { name: 'send', args: [{ to: 'x' }], kwargs: {}, queue: 'work' });
    const [, id] = (first!.task_id as string).split(':');
    expect(first).toEqual({ task_id: `work:${id}`, queue: 'work' });
    expect((await queue.getJob(id!))!.data).toEqual({ to: 'x' });
    const later = await run('submit_task', { name: 'send', kwargs: { to: 'y' }, queue: 'other', eta: 30 });
    const job = (await other.getJob((later!.task_id as string).split(':')[1]!))!;
    expect(job.data).toEqual({ to: 'y' });
    expect(job.delay).toBe(30_000);
    expect(await rejection(run('submit_task', { name: 'send', args: [1, 2], queue: 'work' }))).toMatch(
      /^invalid_parameters: a BullMQ job has one data value/,
    );
    expect(await rejection(run('submit_task', { name: 'send' }))).toMatch(/^queue_required:/);
    expect(await rejection(run('submit_task', { name: 'send', queue: 'nope' }))).toMatch(/^unknown_queue:/);
  });

  it('retries a failed job in place (with override args), refuses other states, and resubmits a job BullMQ no longer has', async () => {
    const { run, queue, sink } = await setup({ processor: cancellable });
    const job = await queue.add('fail', { v: 1 });
    expect(await eventually(async () => (await job.getState()) === 'failed')).toBe(true);
    const result = await run('retry_task', { task_id: `work:${job.id}`, override_args: [{ v: 2 }], eta_seconds: null });
    expect(result).toEqual({ task_id: `work:${job.id}`, retried: true, previous_state: 'failed' });
    expect(await eventually(async () => (await job.getState()) === 'completed')).toBe(true);
    expect((await queue.getJob(job.id!))!.data).toEqual({ v: 2 });
    expect(await eventually(() => sink.events.some((event) => event.taskId === `work:${job.id}` && event.kind === 'task.succeeded'))).toBe(
      true,
    );

    const waiting = await queue.add('long', {}, { delay: 60_000 });
    expect(await rejection(run('retry_task', { task_id: `work:${waiting.id}` }))).toBe(
      `not_retryable: job work:${waiting.id} is delayed; only failed or completed jobs can be retried`,
    );
    expect(await rejection(run('retry_task', { task_id: 'work:404' }))).toBe('task_not_found: no job work:404 (it may have been removed)');
    const resubmitted = await run('retry_task', { task_id: 'work:404', task_name: 'fail', args: [{ v: 3 }] });
    expect(resubmitted).toMatchObject({ queue: 'work', resubmitted: true });
    expect(await rejection(run('retry_task', { task_id: 'no-queue-part' }))).toMatch(/^invalid_task_id:/);
  });

  it('cancels a waiting job by removing it and an ACTIVE one through its AbortSignal, reported as revoked', async () => {
    const { run, queue, sink } = await setup({ processor: cancellable });
    const waiting = await queue.add('long', {}, { delay: 60_000 });
    expect(await run('cancel_task', { task_id: `work:${waiting.id}` })).toEqual({
      cancelled: true,
      previous_state: 'delayed',
      terminated: false,
    });
    expect(await queue.getJob(waiting.id!)).toBeUndefined();

    const active = await queue.add('long', {}, { attempts: 3 });
    expect(await eventually(async () => (await active.getState()) === 'active')).toBe(true);
    expect(await run('cancel_task', { task_id: `work:${active.id}` })).toEqual({
      cancelled: true,
      previous_state: 'active',
      terminated: true,
    });
    expect(await active.getState()).toBe('failed');
    const revoked = () => sink.events.find((event) => event.taskId === `work:${active.id}` && event.kind === 'task.revoked');
    expect(await eventually(() => revoked() !== undefined)).toBe(true);
    expect(revoked()!.data).toMatchObject({ terminated: true, reason: 'cancelled: cancelled through z4j' });
    expect(sink.events.some((event) => event.taskId === `work:${active.id}` && event.kind === 'task.failed')).toBe(false);
    expect(await rejection(run('cancel_task', { task_id: `work:${active.id}` }))).toBe(
      `not_cancellable: job work:${active.id} already failed`,
    );
  });

  it('keeps a cancelled job from running again when its processor throws a retryable error, and refuses processors without a signal', async () => {
    const plain = await setup({
      processor: (job, _token, signal) =>
        new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error(`stopped ${job.id}`)), { once: true })),
    });
    const job = await plain.queue.add('long', {}, { attempts: 5 });
    expect(await eventually(async () => (await job.getState()) === 'active')).toBe(true);
    // Without backoff the worker takes each retry at once; it is cancelled again until none is left to run.
    expect(await plain.run('cancel_task', { task_id: `work:${job.id}` })).toMatchObject({
      cancelled: true,
      previous_state: 'active',
      terminated: true,
    });
    const state = await plain.queue.getJob(job.id!).then((left) => left?.getState());
    expect(state === undefined || state === 'failed').toBe(true);
    expect(
      await eventually(() => plain.sink.events.some((event) => event.taskId === `work:${job.id}` && event.kind === 'task.revoked')),
    ).toBe(true);

    // Two parameters: BullMQ gives the processor no signal, so there is nothing to abort.
    const deaf = await setup({ processor: (_job, _token) => new Promise(() => undefined) });
    const stuck = await deaf.queue.add('long', {});
    expect(await eventually(async () => (await stuck.getState()) === 'active')).toBe(true);
    expect(await rejection(deaf.run('cancel_task', { task_id: `work:${stuck.id}` }))).toMatch(
      /^not_cancellable: job work:\d+ is active, but not in a worker of this process/,
    );
  });

  it('bulk-retries failed jobs in bounded chunks up to max, by queue and name or by task ids, and refuses unknown filters', async () => {
    const { run, queue, worker } = await setup({ processor: cancellable, adapter: { chunkSize: 3 } });
    const jobs = await queue.addBulk(
      Array.from({ length: 8 }, (_, index) => ({ name: index < 7 ? 'fail' : 'other-fail', data: { index } })),
    );
    expect(await eventually(async () => (await queue.getFailedCount()) === 7 && (await queue.getCompletedCount()) === 1)).toBe(true);
    await worker!.pause();
    expect(await run('bulk_retry', { filter: { queue: 'work', task_name: 'fail' }, max: 5 })).toEqual({ retried: 5, skipped: 0 });
    expect(await queue.getFailedCount()).toBe(2);
    expect(await queue.getWaitingCount()).toBe(5);
    const failedIds = (await queue.getFailed()).map((job) => `work:${job.id}`);
    expect(
      await run('bulk_retry', { filter: { engine: 'bullmq', task_ids: [...failedIds, `work:${jobs[7]!.id}`, 'work:404'] }, max: 100 }),
    ).toEqual({
      retried: 2,
      skipped: 2,
    });
    expect(await queue.getFailedCount()).toBe(0);
    expect(await rejection(run('bulk_retry', { filter: { since: '2024-01-01' }, max: 10 }))).toBe(
      'unsupported_filter: bulk_retry does not understand filter keys: since',
    );
  });

  it('purges the jobs ready to run only with the confirm token for the depth it measures itself (or force), in chunks, revoking each', async () => {
    const { run, queue, sink } = await setup({ adapter: { chunkSize: 4 } });
    await queue.addBulk(Array.from({ length: 9 }, (_, index) => ({ name: 'p', data: { index } })));
    await queue.add('p', {}, { delay: 60_000 });
    const target = { type: 'queue', id: 'work' };
    expect(await rejection(run('purge_queue', { queue: 'work', confirm_token: null, force: false }, target))).toBe(
      'confirm_required: purging work (depth 9) needs a confirm_token or force',
    );
    const stale = await purgeConfirmToken('work', 8);
    expect(await rejection(run('purge_queue', { queue: 'work', confirm_token: stale, force: false }, target))).toMatch(
      /^confirm_mismatch: .* depth 9/,
    );
    expect(await queue.getWaitingCount()).toBe(9);
    const token = await purgeConfirmToken('work', 9);
    expect(await run('purge_queue', { queue: 'work', confirm_token: token, force: false }, target)).toEqual({
      queue: 'work',
      depth: 9,
      purged: 9,
    });
    // The delayed job is a future run: neither depth nor purged.
    expect(await queue.getJobCounts('wait', 'delayed')).toEqual({ wait: 0, delayed: 1 });
    expect(sink.events.filter((event) => event.kind === 'task.revoked' && event.data.reason === 'purged')).toHaveLength(9);
    await queue.add('p', {});
    expect(await run('purge_queue', { force: true }, target)).toEqual({ queue: 'work', depth: 1, purged: 1 });
  });

  it('pauses and resumes a queue, and reconciles a job’s state', async () => {
    const { run, queue, other } = await setup({ processor: cancellable });
    expect(await run('pause_queue', { queue: 'other' })).toEqual({ queue: 'other', paused: true });
    expect(await other.isPaused()).toBe(true);
    expect(await run('resume_queue', {}, { type: 'queue', id: 'other' })).toEqual({ queue: 'other', paused: false });
    expect(await other.isPaused()).toBe(false);

    const failed = await queue.add('fail', {});
    expect(await eventually(async () => (await failed.getState()) === 'failed')).toBe(true);
    const fresh = (await queue.getJob(failed.id!))!;
    expect(await run('reconcile_task', { task_id: `work:${failed.id}`, engine: 'bullmq' })).toEqual({
      engine_state: 'failure',
      state: 'failed',
      finished_at: new Date(fresh.finishedOn!).toISOString(),
      exception: 'boom',
      attempts_made: 1,
    });
    const delayed = await queue.add('long', {}, { delay: 60_000 });
    expect(await run('reconcile_task', { task_id: `work:${delayed.id}` })).toMatchObject({
      engine_state: 'pending',
      state: 'delayed',
      finished_at: null,
    });
    expect(await run('reconcile_task', { task_id: 'work:404' })).toEqual({
      engine_state: 'unknown',
      state: 'missing',
      finished_at: null,
      exception: null,
    });
  });

  it('reports job schedulers in snapshots and enables, disables, triggers and deletes them', async () => {
    const prefixQueue = await setup({ adapter: { scheduler: 'bullmq-test' } });
    const { queue, sink, adapter } = prefixQueue;
    await queue.upsertJobScheduler('nightly', { pattern: '0 3 * * *', tz: 'Europe/Paris' }, { name: 'digest', data: { kind: 'daily' } });
    await queue.upsertJobScheduler('tick', { every: 1500 }, { name: 'tick' });
    const scheduler = adapter.scheduler!;
    const snapshots = () => sink.events.filter((event) => event.kind === 'schedule.snapshot');
    const latest = () => snapshots().at(-1)!.data as { scheduler: string; reason: string; schedules: JsonObject[] };
    expect(snapshots()[0]!.data).toEqual({ scheduler: 'bullmq-test', schedules: [], reason: 'boot' });

    await scheduler.resync();
    expect(latest()).toMatchObject({ scheduler: 'bullmq-test', reason: 'command' });
    const byName = () => new Map(latest().schedules.map((schedule) => [schedule.name, schedule]));
    expect(byName().get('work:nightly')).toMatchObject({
      task_name: 'digest',
      kind: 'cron',
      expression: '0 3 * * *',
      timezone: 'Europe/Paris',
      queue: 'work',
      args: [{ kind: 'daily' }],
      is_enabled: true,
      external_id: 'work:nightly',
    });
    expect(byName().get('work:tick')).toMatchObject({ kind: 'interval', expression: '1.5', timezone: 'UTC', is_enabled: true });

    const target = { type: 'schedule', id: 'uuid-of-the-brain', scheduler: 'bullmq-test' };
    expect(await scheduler.execute('schedule.disable', target, { schedule_id: 'work:nightly' }, noSignal())).toEqual({
      schedule: 'work:nightly',
      enabled: false,
      changed: true,
    });
    expect(await queue.getJobScheduler('nightly')).toBeUndefined();
    expect(byName().get('work:nightly')).toMatchObject({ is_enabled: false, expression: '0 3 * * *', next_run_at: null });

    const triggered = await scheduler.execute('schedule.trigger_now', target, { schedule_id: 'work:nightly' }, noSignal());
    const job = (await queue.getJob((triggered!.task_id as string).split(':')[1]!))!;
    expect(job).toMatchObject({ name: 'digest', data: { kind: 'daily' } });

    expect(await scheduler.execute('schedule.enable', target, { schedule_id: 'work:nightly' }, noSignal())).toMatchObject({
      enabled: true,
      changed: true,
    });
    expect(await queue.getJobScheduler('nightly')).toMatchObject({ name: 'digest', pattern: '0 3 * * *', tz: 'Europe/Paris' });
    expect(byName().get('work:nightly')).toMatchObject({ is_enabled: true });

    expect(await scheduler.execute('schedule.delete', target, { schedule_id: 'work:tick' }, noSignal())).toEqual({
      schedule: 'work:tick',
      deleted: true,
    });
    expect(byName().has('work:tick')).toBe(false);
    expect(await rejection(scheduler.execute('schedule.enable', target, { schedule_id: 'work:tick' }, noSignal()))).toBe(
      'schedule_not_found: no job scheduler work:tick',
    );
  });
});
