import { expect } from 'vitest';
import type { JsonObject } from '@z4j/protocol';
import { agentRow, eventKinds, queueDepth, taskRows, workerRow, type TaskState } from './brain-reads.js';
import type { EnqueuedJob, JobKind } from './conformance-harness.js';
import { pollUntil } from './poll-until.js';
import { engineJobIn, finishedTaskState, parkJobs, scopeOf, taskIn, type SuiteContext } from './suite-context.js';

/**
 * The lifecycle half of the suite: what the brain holds after jobs run in the engine, compared with what the engine
 * itself recorded (§2: the task projection from received/started/retried/succeeded/failed events).
 */

/** hello: the brain knows the adapter's engine, exactly its capabilities, and its scheduler. */
export async function checkHello(context: SuiteContext): Promise<void> {
  const { adapter } = context.fixture;
  const row = await agentRow(scopeOf(context), context.credentials.agent_id);
  expect(row.state).toBe('online');
  expect(row.engine_adapters).toEqual([adapter.engine]);
  expect(row.capabilities).toEqual({ [adapter.engine]: [...adapter.capabilities].sort() });
  expect(row.scheduler_adapters).toEqual(adapter.scheduler ? [adapter.scheduler.scheduler] : []);
}

/** Enqueues one job and waits until the engine has finished it and the brain has it finished too. */
async function runToEnd(context: SuiteContext, kind: JobKind, payload: JsonObject) {
  const job = await context.fixture.enqueue(kind, payload);
  const engineJob = await engineJobIn(context, job.taskId, ['succeeded', 'failed']);
  const task = await taskIn(context, job.taskId, ['success', 'failure']);
  return { job, engineJob, task, kinds: await eventKinds(scopeOf(context), job.taskId) };
}

/** A job that succeeds: received → started → succeeded, with its name, queue, args and result. */
export async function checkSucceedingJob(context: SuiteContext): Promise<void> {
  const payload = { n: 'lifecycle-ok' };
  const { job, engineJob, task, kinds } = await runToEnd(context, 'ok', payload);
  expect(engineJob).toMatchObject({ state: 'succeeded', retries: 0 });
  expect(task).toMatchObject({ state: 'success', name: job.taskName, queue: job.queue, args: job.args, result: payload, retry_count: 0 });
  expect(task?.started_at).toBeInstanceOf(Date);
  expect(task?.finished_at).toBeInstanceOf(Date);
  expect(kinds).toEqual(['task.received', 'task.started', 'task.succeeded']);
}

/**
 * A job the engine retries by itself: task.retried, then success, with the engine's retry count. Two attempts
 * started; the brain may keep one task.started when both fall in the same millisecond of the engine's clock (it
 * identifies task events by task, kind and time), so the kinds are compared as a set.
 */
export async function checkAutomaticRetry(context: SuiteContext): Promise<void> {
  const payload = { n: 'lifecycle-flaky' };
  const { engineJob, task, kinds } = await runToEnd(context, 'flaky', payload);
  expect(engineJob).toMatchObject({ state: 'succeeded', retries: 1 });
  expect(task).toMatchObject({ state: 'success', result: payload, retry_count: engineJob.retries });
  expect(new Set(kinds)).toEqual(new Set(['task.received', 'task.started', 'task.retried', 'task.succeeded']));
}

/** A job that fails every attempt: task.retried, then task.failed with exception, traceback and retry count. */
export async function checkFailingJob(context: SuiteContext): Promise<void> {
  const { job, engineJob, task, kinds } = await runToEnd(context, 'doomed', { n: 'lifecycle-doomed' });
  expect(engineJob).toMatchObject({ state: 'failed', retries: 1, error: 'always fails' });
  expect(task).toMatchObject({ state: 'failure', name: job.taskName, exception: 'RangeError', retry_count: engineJob.retries });
  expect(task?.traceback).toContain('always fails');
  expect(task?.finished_at).toBeInstanceOf(Date);
  expect(new Set(kinds)).toEqual(new Set(['task.received', 'task.started', 'task.retried', 'task.failed']));
}

const BATCH_KINDS: readonly JobKind[] = ['ok', 'ok', 'flaky', 'ok', 'doomed'];

/** Adds `size` jobs to the work queue, mostly ok, some flaky, some doomed. */
export async function enqueueMixed(context: SuiteContext, label: string, size: number): Promise<EnqueuedJob[]> {
  const jobs: EnqueuedJob[] = [];
  for (let n = 0; n < size; n += 1) jobs.push(await context.fixture.enqueue(BATCH_KINDS[n % BATCH_KINDS.length]!, { n: `${label}-${n}` }));
  return jobs;
}

/**
 * Waits until the engine has finished every job, then until the brain agrees, and asserts that every task ends in
 * the state, and with the retry count, the engine recorded.
 */
export async function expectBrainMatchesEngine(context: SuiteContext, jobs: readonly EnqueuedJob[]): Promise<void> {
  const expected = new Map<string, { state: TaskState | undefined; retry_count: number }>();
  for (const job of jobs) {
    const engineJob = await engineJobIn(context, job.taskId, ['succeeded', 'failed']);
    expected.set(job.taskId, { state: finishedTaskState(engineJob), retry_count: engineJob.retries });
  }
  const taskIds = [...expected.keys()];
  const rows = await pollUntil(
    () => taskRows(scopeOf(context), taskIds),
    (settled) => taskIds.every((taskId) => settled.get(taskId)?.state === expected.get(taskId)?.state),
  );
  const actual = new Map(taskIds.map((taskId) => [taskId, { state: rows.get(taskId)?.state, retry_count: rows.get(taskId)?.retry_count }]));
  expect(actual).toEqual(expected);
}

/** Many jobs at once: every task ends in the state, and with the retry count, the engine recorded. */
export async function checkMixedBatch(context: SuiteContext, size: number): Promise<void> {
  await expectBrainMatchesEngine(context, await enqueueMixed(context, 'batch', size));
}

/** Heartbeats: every worker the adapter reports is online in the brain as reported, and queue depths arrive. */
export async function checkHeartbeats(context: SuiteContext): Promise<void> {
  const { adapter, parkedQueue } = context.fixture;
  const details = await adapter.workerDetails();
  // The fixture's work queue has workers in this process: an adapter that reports none hides them from the brain.
  expect(details.length).toBeGreaterThan(0);
  for (const detail of details) {
    const expected = { name: detail.name, state: 'online', concurrency: detail.concurrency ?? null, queues: [...(detail.queues ?? [])] };
    const row = await pollUntil(
      () => workerRow(scopeOf(context), detail.name),
      (worker) => worker?.state === 'online' && worker.concurrency === expected.concurrency,
    );
    expect(row).toEqual(expected);
  }
  await parkJobs(context, 'depth', 3);
  const depth = (await adapter.queueDepths())[parkedQueue];
  expect(depth).toBeGreaterThanOrEqual(3);
  // Depths only travel with heartbeats (every 10 s), so this poll may wait for the next one.
  expect(
    await pollUntil(
      () => queueDepth(scopeOf(context), parkedQueue),
      (reported) => reported === depth,
    ),
  ).toBe(depth);
}
