import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, type CommandAction, type CommandTarget } from '@z4j/agent';
import { purgeConfirmToken, type JsonObject } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import type PgBoss from 'pg-boss';
import { createPgBossAdapter, type PgBossAdapter } from './pg-boss-adapter.js';
import { taskIdOf } from './task-id.js';
import { eventually, recordingSink, startTestBoss, type TestBoss } from './test-support/test-pg-boss.js';

const postgres = await probePostgres();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

interface Work {
  readonly kind?: 'ok' | 'fail' | 'long' | 'fail-once';
  readonly n?: number;
}

/**
 * The test handler, by `data.kind`: `ok` returns `{ n }`, `fail` throws a RangeError, `fail-once` fails its first
 * attempt only, `long` runs until its AbortSignal fires and then rejects with the signal's reason.
 */
async function handler([job]: PgBoss.JobWithMetadata<Work>[], { signal }: { signal: AbortSignal }): Promise<unknown> {
  switch (job?.data.kind) {
    case 'fail':
      throw new RangeError(`job ${job.data.n ?? '?'} fails`);
    case 'fail-once':
      if (job.retryCount === 0) throw new Error('first attempt fails');
      return { second: true };
    case 'long':
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    default:
      return { n: job?.data.n ?? null };
  }
}

describe.skipIf(!postgres.available)('createPgBossAdapter against a real pg-boss', () => {
  let test: TestBoss;
  let boss: PgBoss;
  let adapter: PgBossAdapter;
  const sink = recordingSink();

  beforeAll(async () => {
    test = await startTestBoss();
    boss = test.boss;
    for (const queue of ['work', 'idle', 'nightly']) await boss.createQueue(queue, { name: queue, retryLimit: 0 });
    await boss.createQueue('flaky', { name: 'flaky', retryLimit: 1 });
    adapter = createPgBossAdapter({ boss, logger: silent, cancelWaitMs: 5_000, chunkSize: 3, workerName: 'pg-boss@test' });
    await adapter.start(sink);
    for (let n = 0; n < 4; n += 1) await adapter.work<Work>('work', handler);
    await adapter.work<Work>('flaky', { batchSize: 1 }, handler);
  });

  afterAll(async () => {
    await adapter?.stop();
    await test?.stop();
  });

  const run = async (action: CommandAction, parameters: JsonObject, target: CommandTarget = {}): Promise<JsonObject> =>
    (await adapter.execute(action, target, parameters, new AbortController().signal)) ?? {};
  const eventsOf = (taskId: string) => sink.events.filter((event) => event.taskId === taskId);
  const kindsOf = (taskId: string) => eventsOf(taskId).map((event) => event.kind);
  const stateOf = async (queue: string, id: string) => (await boss.getJobById(queue, id, { includeArchive: true }))?.state;
  const settled = (queue: string, id: string, state: string) => eventually(async () => (await stateOf(queue, id)) === state, 10_000);

  async function rejection(promise: Promise<unknown>): Promise<string> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CommandError);
    return `${(error as CommandError).code}: ${(error as CommandError).message}`;
  }

  it('reports send and a successful handler as received → started → succeeded, with data, result and runtime', async () => {
    const id = (await adapter.send('work', { kind: 'ok', n: 7 }))!;
    const taskId = taskIdOf('work', id);
    expect(await settled('work', id, 'completed')).toBe(true);
    expect(await eventually(() => kindsOf(taskId).length === 3)).toBe(true);
    const [received, started, succeeded] = eventsOf(taskId);
    expect(received).toMatchObject({ kind: 'task.received', data: { task_name: 'work', queue: 'work', args: [{ kind: 'ok', n: 7 }] } });
    expect(started).toMatchObject({ kind: 'task.started', data: { worker: 'pg-boss@test', retry_count: 0, args: [{ kind: 'ok', n: 7 }] } });
    expect(succeeded).toMatchObject({ kind: 'task.succeeded', data: { task_name: 'work', worker: 'pg-boss@test', result: { n: 7 } } });
    expect(typeof succeeded?.data.runtime_ms).toBe('number');
    expect((await boss.getJobById('work', id))?.output).toEqual({ n: 7 });
  });

  it('reports a failure pg-boss will retry as retried, and the last one as failed (the same outcome pg-boss records)', async () => {
    const once = (await adapter.send('flaky', { kind: 'fail-once' }))!;
    const always = (await adapter.send('flaky', { kind: 'fail', n: 1 }))!;
    expect(await settled('flaky', once, 'completed')).toBe(true);
    expect(await settled('flaky', always, 'failed')).toBe(true);
    expect(await eventually(() => kindsOf(taskIdOf('flaky', always)).length === 5)).toBe(true);
    expect(kindsOf(taskIdOf('flaky', once))).toEqual(['task.received', 'task.started', 'task.retried', 'task.started', 'task.succeeded']);
    expect(kindsOf(taskIdOf('flaky', always))).toEqual(['task.received', 'task.started', 'task.retried', 'task.started', 'task.failed']);
    const failed = eventsOf(taskIdOf('flaky', always)).at(-1)!;
    expect(failed.data).toMatchObject({ exception: 'RangeError', exception_message: 'job 1 fails', retry_count: 1 });
    expect(failed.data.traceback).toMatch(/^RangeError: job 1 fails/);
    expect(eventsOf(taskIdOf('flaky', always))[2]!.data).toMatchObject({ retry_count: 1, reason: 'job 1 fails' });
    expect((await boss.getJobById('flaky', always))?.retryCount).toBe(1);
  });

  it('aborts a handler before pg-boss’s expiration and reports the timeout as the failure pg-boss records', async () => {
    const id = (await adapter.send('work', { kind: 'long' }, { expireInSeconds: 1 }))!;
    expect(await settled('work', id, 'failed')).toBe(true);
    expect(await eventually(() => kindsOf(taskIdOf('work', id)).includes('task.failed'))).toBe(true);
    expect(eventsOf(taskIdOf('work', id)).at(-1)!.data).toMatchObject({ exception: 'TimeoutError' });
    expect(JSON.stringify((await boss.getJobById('work', id))?.output)).toMatch(/exceeded 900 ms/);
  });

  it('submit_task sends through pg-boss (name = queue) and refuses what pg-boss could not run', async () => {
    const result = await run('submit_task', { name: 'idle', args: [{ kind: 'ok', n: 1 }], eta: 60 });
    const id = (result.task_id as string).split(':')[1]!;
    expect(result).toEqual({ task_id: taskIdOf('idle', id), queue: 'idle' });
    const job = await boss.getJobById('idle', id);
    expect(job).toMatchObject({ state: 'created', data: { kind: 'ok', n: 1 } });
    expect(job!.startAfter.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(kindsOf(result.task_id as string)).toEqual(['task.received']);
    expect(await rejection(run('submit_task', { name: 'idle', queue: 'work' }))).toMatch(/^invalid_parameters: /);
    expect(await rejection(run('submit_task', { name: 'nope' }))).toMatch(/^unknown_queue: /);
    expect(await rejection(run('submit_task', { name: '__pgboss__send-it' }))).toMatch(/^unknown_queue: /);
  });

  it('retry_task re-runs a failed job in place, resumes a cancelled one, resubmits a completed one', async () => {
    const failed = (await adapter.send('work', { kind: 'fail', n: 2 }))!;
    expect(await settled('work', failed, 'failed')).toBe(true);
    expect(await run('retry_task', { task_id: taskIdOf('work', failed) })).toEqual({
      task_id: taskIdOf('work', failed),
      retried: true,
      previous_state: 'failed',
    });
    expect(await eventually(async () => (await boss.getJobById('work', failed))?.retryCount === 1)).toBe(true);
    expect(await settled('work', failed, 'failed')).toBe(true);

    const cancelled = (await adapter.send('idle', { kind: 'ok' }))!;
    await boss.cancel('idle', cancelled);
    expect(await run('retry_task', { task_id: taskIdOf('idle', cancelled) })).toMatchObject({ retried: true, previous_state: 'cancelled' });
    expect(await stateOf('idle', cancelled)).toBe('created');
    expect(await rejection(run('retry_task', { task_id: taskIdOf('idle', cancelled) }))).toMatch(/^not_retryable: .* is created/);

    const completed = (await adapter.send('work', { kind: 'ok', n: 3 }))!;
    expect(await settled('work', completed, 'completed')).toBe(true);
    const again = await run('retry_task', { task_id: taskIdOf('work', completed) });
    expect(again).toMatchObject({ resubmitted: true, original_task_id: taskIdOf('work', completed), previous_state: 'completed' });
    expect(again.task_id).not.toBe(taskIdOf('work', completed));
    expect(await settled('work', (again.task_id as string).split(':')[1]!, 'completed')).toBe(true);

    const missing = taskIdOf('work', '00000000-0000-4000-8000-000000000000');
    expect(await rejection(run('retry_task', { task_id: missing }))).toMatch(/^task_not_found: /);
    const fromBrain = await run('retry_task', { task_id: missing, task_name: 'idle', args: [{ kind: 'ok', n: 4 }] });
    expect(fromBrain).toMatchObject({ resubmitted: true, previous_state: 'missing', queue: 'work' });
  });

  it('cancel_task cancels a waiting job, and aborts the handler of an active job running in this process', async () => {
    const waiting = (await adapter.send('idle', { kind: 'ok' }))!;
    expect(await run('cancel_task', { task_id: taskIdOf('idle', waiting) })).toEqual({
      cancelled: true,
      previous_state: 'created',
      terminated: false,
      handler_stopped: true,
    });
    expect(await stateOf('idle', waiting)).toBe('cancelled');
    expect(eventsOf(taskIdOf('idle', waiting)).at(-1)).toMatchObject({ kind: 'task.revoked', data: { terminated: false } });

    const active = (await adapter.send('work', { kind: 'long' }))!;
    expect(await settled('work', active, 'active')).toBe(true);
    expect(await eventually(() => kindsOf(taskIdOf('work', active)).includes('task.started'))).toBe(true);
    expect(await run('cancel_task', { task_id: taskIdOf('work', active) })).toEqual({
      cancelled: true,
      previous_state: 'active',
      terminated: true,
      handler_stopped: true,
    });
    expect(await stateOf('work', active)).toBe('cancelled');
    // pg-boss's fail after the handler rejected must not have touched the cancelled job, nor the wrapper reported it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await stateOf('work', active)).toBe('cancelled');
    expect(kindsOf(taskIdOf('work', active))).toEqual(['task.received', 'task.started', 'task.revoked']);
    expect(await rejection(run('cancel_task', { task_id: taskIdOf('work', active) }))).toMatch(/^not_cancellable: .* already cancelled/);
  });

  it('cancel_task refuses an active job no worker of this process runs', async () => {
    await boss.purgeQueue('idle');
    const id = (await adapter.send('idle', { kind: 'ok' }))!;
    const [fetched] = await boss.fetch('idle');
    expect(fetched?.id).toBe(id);
    expect(await rejection(run('cancel_task', { task_id: taskIdOf('idle', id) }))).toMatch(
      /^not_cancellable: .* is active, but not in a worker/,
    );
    expect(await stateOf('idle', id)).toBe('active');
    await boss.complete('idle', id);
  });

  it('purge_queue needs the confirm token for the depth it measures, deletes in chunks and revokes each job', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 7; n += 1) ids.push((await adapter.send('nightly', { n }))!);
    const [active] = await boss.fetch('nightly');
    const depth = (await adapter.queueDepths()).nightly;
    expect(depth).toBe(6);
    expect(await rejection(run('purge_queue', { queue: 'nightly' }))).toMatch(/^confirm_required: /);
    expect(await rejection(run('purge_queue', { queue: 'nightly', confirm_token: await purgeConfirmToken('nightly', 7) }))).toMatch(
      /^confirm_mismatch: /,
    );
    expect(await boss.getQueueSize('nightly')).toBe(6);
    const purged = await run('purge_queue', { confirm_token: await purgeConfirmToken('nightly', 6) }, { type: 'queue', id: 'nightly' });
    expect(purged).toEqual({ queue: 'nightly', depth: 6, purged: 6 });
    expect(await boss.getQueueSize('nightly')).toBe(0);
    expect(await stateOf('nightly', active!.id)).toBe('active');
    const revoked = sink.events.filter((event) => event.kind === 'task.revoked' && event.taskId.startsWith('nightly:'));
    expect(revoked.map((event) => event.taskId).sort()).toEqual(
      ids
        .filter((id) => id !== active!.id)
        .map((id) => taskIdOf('nightly', id))
        .sort(),
    );

    await adapter.send('nightly', {});
    expect(await run('purge_queue', { queue: 'nightly', force: true })).toEqual({ queue: 'nightly', depth: 1, purged: 1 });
  });

  it('bulk_retry retries failed jobs by queue (oldest first, at most max) or by task ids, in chunks', async () => {
    await boss.purgeQueue('idle');
    const ids: string[] = [];
    for (let n = 0; n < 5; n += 1) ids.push((await adapter.send('idle', { n }))!);
    for (const id of ids) {
      const [job] = await boss.fetch('idle');
      await boss.fail('idle', job!.id, { n: id });
    }
    for (const id of ids) expect(await stateOf('idle', id)).toBe('failed');
    expect(await run('bulk_retry', { filter: { queue: 'idle' }, max: 4 })).toEqual({ retried: 4, skipped: 0 });
    const states = await Promise.all(ids.map((id) => stateOf('idle', id)));
    expect(states.filter((state) => state === 'retry')).toHaveLength(4);
    const left = ids.find((_id, n) => states[n] === 'failed')!;
    expect(await run('bulk_retry', { filter: { task_ids: [taskIdOf('idle', left), taskIdOf('idle', ids[0]!)] }, max: 10 })).toEqual({
      retried: 1,
      skipped: 1,
    });
    expect(await rejection(run('bulk_retry', { filter: { since: 'yesterday' } }))).toMatch(/^unsupported_filter: /);
    await boss.purgeQueue('idle');
  });

  it('reconcile_task answers the job’s pg-boss state', async () => {
    const failed = (await adapter.send('work', { kind: 'fail', n: 9 }))!;
    expect(await settled('work', failed, 'failed')).toBe(true);
    expect(await run('reconcile_task', { task_id: taskIdOf('work', failed), engine: 'pg-boss' })).toMatchObject({
      engine_state: 'failure',
      state: 'failed',
      exception: 'job 9 fails',
      finished_at: expect.stringMatching(/^\d{4}-/) as unknown,
    });
    const waiting = (await adapter.send('idle', {}))!;
    expect(await run('reconcile_task', { task_id: taskIdOf('idle', waiting) })).toMatchObject({
      engine_state: 'pending',
      finished_at: null,
    });
    expect(await run('reconcile_task', { task_id: taskIdOf('idle', '00000000-0000-4000-8000-000000000000') })).toMatchObject({
      engine_state: 'unknown',
      state: 'missing',
    });
    await boss.purgeQueue('idle');
  });

  it('reports depths, this process’s workers, and advertises exactly what it runs', async () => {
    expect(await adapter.queueDepths()).toEqual({ work: 0, flaky: 0, idle: 0, nightly: 0 });
    expect(await adapter.workerDetails()).toEqual([
      expect.objectContaining({ name: 'pg-boss@test', pid: process.pid, concurrency: 5, queues: ['work', 'flaky'], active: [] }),
    ]);
    expect([...adapter.capabilities].sort()).toEqual([
      'bulk_retry',
      'cancel_task',
      'purge_queue',
      'reconcile_task',
      'retry_task',
      'submit_task',
    ]);
    expect(await rejection(run('pause_queue', { queue: 'work' }))).toMatch(/^unsupported: /);
  });

  it('reports schedules in snapshots and runs trigger_now and delete; enable/disable are refused', async () => {
    await adapter.schedule('nightly', '0 3 * * *', { scope: 'all' }, { tz: 'Europe/Paris', retryLimit: 0 });
    const snapshot = sink.events.filter((event) => event.kind === 'schedule.snapshot').at(-1)!;
    expect(snapshot.data).toEqual({
      scheduler: 'pg-boss',
      reason: 'command',
      schedules: [
        {
          name: 'nightly',
          external_id: 'nightly',
          task_name: 'nightly',
          kind: 'cron',
          expression: '0 3 * * *',
          timezone: 'Europe/Paris',
          queue: 'nightly',
          args: [{ scope: 'all' }],
          kwargs: {},
          is_enabled: true,
        },
      ],
    });
    const scheduler = adapter.scheduler!;
    const signal = new AbortController().signal;
    const fired = await scheduler.execute('schedule.trigger_now', {}, { schedule_id: 'nightly' }, signal);
    const job = await boss.getJobById('nightly', (fired!.task_id as string).split(':')[1]!);
    expect(job).toMatchObject({ data: { scope: 'all' }, retryLimit: 0 });
    const disabled = await scheduler.execute('schedule.disable', {}, { schedule_id: 'nightly' }, signal).catch((error: unknown) => error);
    expect(disabled).toBeInstanceOf(CommandError);
    expect((disabled as CommandError).code).toBe('unsupported');
    expect(await scheduler.execute('schedule.delete', {}, { schedule_id: 'nightly' }, signal)).toEqual({
      schedule: 'nightly',
      deleted: true,
    });
    expect(await boss.getSchedules()).toEqual([]);
    expect(sink.events.filter((event) => event.kind === 'schedule.snapshot').at(-1)!.data.schedules).toEqual([]);
  });
});
