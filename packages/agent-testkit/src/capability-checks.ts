import { expect } from 'vitest';
import type { CommandAction } from '@z4j/agent';
import { purgeConfirmToken, type JsonObject } from '@z4j/protocol';
import { issueCommand, issueFromBrain, type CommandOutcome } from './brain-commands.js';
import { taskRow } from './brain-reads.js';
import type { EnqueuedJob } from './conformance-harness.js';
import {
  engineJobIn,
  issuerOf,
  parkJobs,
  RECONCILED_ENGINE_STATE,
  scopeOf,
  STOPPED_STATES,
  taskIn,
  type SuiteContext,
} from './suite-context.js';

/**
 * The capability half of the suite. Every action an adapter can advertise has an entry; the suite runs `exercise`
 * for each action the adapter advertises (through the brain's command API, checking the effect in the engine and in
 * the brain), and `refusal` for each it does not (the agent must answer the brain's command with its capability
 * error). An advertised action without `exercise` fails the suite: a capability nobody has seen work is not one.
 */
export interface CapabilityCheck {
  /** Runs the action through the brain and checks that it worked. */
  readonly exercise?: (context: SuiteContext) => Promise<void>;
  /** The REST endpoint and body of the action, for checking that an adapter without it refuses it. */
  readonly refusal?: (context: SuiteContext) => { readonly endpoint: string; readonly body: JsonObject };
}

function completed(outcome: CommandOutcome): JsonObject {
  expect(outcome, `the agent's answer to command ${outcome.id}`).toMatchObject({ status: 'completed', error: null });
  return outcome.result ?? {};
}

function resultTaskId(result: JsonObject, fallback?: string): string {
  const taskId = result.task_id ?? fallback;
  expect(taskId, `task_id in ${JSON.stringify(result)}`).toEqual(expect.any(String));
  return taskId as string;
}

/**
 * Waits until the engine and the brain agree that the job ran to success. The brain is polled for success only: a
 * retried task was `failure` there before, and must move on.
 */
async function expectSucceeded(context: SuiteContext, taskId: string): Promise<void> {
  expect((await engineJobIn(context, taskId, ['succeeded', 'failed'])).state).toBe('succeeded');
  expect((await taskIn(context, taskId, ['success']))?.state).toBe('success');
}

/** Enqueues `fail-once` jobs and waits until the engine and the brain both have them failed. */
async function failedJobs(context: SuiteContext, label: string, count: number): Promise<EnqueuedJob[]> {
  const jobs: EnqueuedJob[] = [];
  for (let n = 0; n < count; n += 1) jobs.push(await context.fixture.enqueue('fail-once', { n: `${label}-${n}` }));
  for (const job of jobs) {
    expect((await engineJobIn(context, job.taskId, ['failed', 'succeeded'])).state).toBe('failed');
    expect((await taskIn(context, job.taskId, ['failure', 'success']))?.state).toBe('failure');
  }
  return jobs;
}

/** Cancels a job through `POST commands/cancel-task`; the engine stops it and the brain has it revoked. */
async function expectCancelled(context: SuiteContext, job: EnqueuedJob): Promise<void> {
  const result = completed(await issueCommand(issuerOf(context), 'cancel-task', { engine: context.engine, task_id: job.taskId }));
  expect(result).toMatchObject({ cancelled: true });
  expect(STOPPED_STATES).toContain((await engineJobIn(context, job.taskId, STOPPED_STATES)).state);
  expect((await taskIn(context, job.taskId, ['revoked']))?.state).toBe('revoked');
}

/** Pauses the work queue, adds a job while it is paused, resumes it; the job then runs. */
async function pauseRoundTrip(context: SuiteContext): Promise<void> {
  const { fixture, engine } = context;
  if (!fixture.isPaused) throw new Error('the adapter advertises pause_queue/resume_queue: the fixture must give isPaused(queue)');
  if (!fixture.adapter.capabilities.has('pause_queue') || !fixture.adapter.capabilities.has('resume_queue')) {
    throw new Error('pause_queue and resume_queue go together: an adapter that can only do one leaves queues stuck or unstoppable');
  }
  const paused = completed(await issueCommand(issuerOf(context), 'pause-queue', { engine, queue: fixture.queue }));
  expect(paused).toMatchObject({ paused: true });
  expect(await fixture.isPaused(fixture.queue)).toBe(true);
  // Added while paused, so no worker can have taken it yet.
  const job = await fixture.enqueue('ok', { n: 'while-paused' });
  expect((await fixture.job(job.taskId)).state).toBe('pending');
  const resumed = completed(await issueCommand(issuerOf(context), 'resume-queue', { engine, queue: fixture.queue }));
  expect(resumed).toMatchObject({ paused: false });
  expect(await fixture.isPaused(fixture.queue)).toBe(false);
  await expectSucceeded(context, job.taskId);
}

const worker = { worker_name: 'conformance-worker' };

/** One entry per action of the adapter contract (`satisfies`: a new action fails to compile until it has one). */
export const CAPABILITY_CHECKS = {
  submit_task: {
    // No REST endpoint issues submit_task (the scheduler bridge's fires do, through the agent): issued as the brain does.
    exercise: async (context) => {
      const payload = { n: 'submitted' };
      const parameters = { ...context.fixture.submitParameters('ok', payload), engine: context.engine };
      const result = completed(
        await issueFromBrain(issuerOf(context), 'submit_task', { type: 'queue', id: context.fixture.queue }, parameters),
      );
      const taskId = resultTaskId(result);
      await expectSucceeded(context, taskId);
      expect(await taskRow(scopeOf(context), taskId)).toMatchObject({ result: payload });
    },
  },
  retry_task: {
    exercise: async (context) => {
      const [job] = await failedJobs(context, 'retry', 1);
      const result = completed(await issueCommand(issuerOf(context), 'retry-task', { engine: context.engine, task_id: job!.taskId }));
      // An engine that cannot re-run a job in place may resubmit it: the task to follow is the one it names.
      await expectSucceeded(context, resultTaskId(result, job!.taskId));
    },
  },
  cancel_task: {
    exercise: async (context) => {
      const running = await context.fixture.enqueue('long', { n: 'cancel-running' });
      expect((await engineJobIn(context, running.taskId, ['running'])).state).toBe('running');
      expect((await taskIn(context, running.taskId, ['started']))?.state).toBe('started');
      await expectCancelled(context, running);
      const [waiting] = await parkJobs(context, 'cancel-waiting', 1);
      await expectCancelled(context, waiting!);
    },
  },
  bulk_retry: {
    exercise: async (context) => {
      const jobs = await failedJobs(context, 'bulk', 3);
      const task_ids = jobs.map((job) => job.taskId);
      const result = completed(
        await issueCommand(issuerOf(context), 'bulk-retry', {
          engine: context.engine,
          filter: { engine: context.engine, task_ids },
          max: 10,
        }),
      );
      expect(result).toMatchObject({ retried: 3 });
      for (const taskId of task_ids) await expectSucceeded(context, taskId);
    },
    refusal: (context) => ({ endpoint: 'bulk-retry', body: { engine: context.engine, filter: {}, max: 1 } }),
  },
  purge_queue: {
    exercise: async (context) => {
      const { fixture, engine } = context;
      const queue = fixture.parkedQueue;
      const jobs = await parkJobs(context, 'purge', 4);
      // The depth the operator saw is the one heartbeats report: the adapter's own measure.
      const depth = (await fixture.adapter.queueDepths())[queue] ?? 0;
      expect(depth).toBeGreaterThanOrEqual(jobs.length);
      const stale = await issueCommand(issuerOf(context), 'purge-queue', {
        engine,
        queue,
        confirm_token: await purgeConfirmToken(queue, depth + 1),
        force: false,
      });
      expect(stale.status).toBe('failed');
      expect(stale.error).toMatch(/^confirm_mismatch: /);
      for (const job of jobs) expect((await fixture.job(job.taskId)).state).toBe('pending');
      const purged = completed(
        await issueCommand(issuerOf(context), 'purge-queue', {
          engine,
          queue,
          confirm_token: await purgeConfirmToken(queue, depth),
          force: false,
        }),
      );
      expect(purged).toMatchObject({ queue, depth, purged: depth });
      for (const job of jobs) {
        expect(STOPPED_STATES).toContain((await engineJobIn(context, job.taskId, STOPPED_STATES)).state);
        expect((await taskIn(context, job.taskId, ['revoked']))?.state).toBe('revoked');
      }
    },
    // Only issued to an adapter that does not advertise purge_queue, which then must not purge anything.
    refusal: (context) => ({ endpoint: 'purge-queue', body: { engine: context.engine, queue: context.fixture.parkedQueue, force: true } }),
  },
  pause_queue: {
    exercise: pauseRoundTrip,
    refusal: (context) => ({ endpoint: 'pause-queue', body: { engine: context.engine, queue: context.fixture.queue } }),
  },
  resume_queue: {
    exercise: pauseRoundTrip,
    refusal: (context) => ({ endpoint: 'resume-queue', body: { engine: context.engine, queue: context.fixture.queue } }),
  },
  reconcile_task: {
    // Issued by the brain's reconciliation worker (no REST endpoint): answered with the engine's state of the job.
    exercise: async (context) => {
      const succeeded = await context.fixture.enqueue('ok', { n: 'reconcile-ok' });
      const failed = await context.fixture.enqueue('doomed', { n: 'reconcile-doomed' });
      const [pending] = await parkJobs(context, 'reconcile-pending', 1);
      await engineJobIn(context, succeeded.taskId, ['succeeded', 'failed']);
      await engineJobIn(context, failed.taskId, ['succeeded', 'failed']);
      for (const job of [succeeded, failed, pending!]) {
        const engineJob = await context.fixture.job(job.taskId);
        const target = { type: 'task', id: `${context.engine}:${job.taskId}` };
        const result = completed(
          await issueFromBrain(issuerOf(context), 'reconcile_task', target, { engine: context.engine, task_id: job.taskId }),
        );
        expect(result, `reconcile_task of a job the engine has ${engineJob.raw}`).toMatchObject({
          engine_state: RECONCILED_ENGINE_STATE[engineJob.state],
          exception: engineJob.state === 'failed' ? engineJob.error : null,
        });
      }
    },
  },
  restart_worker: { refusal: (context) => ({ endpoint: 'restart-worker', body: { engine: context.engine, ...worker } }) },
  pool_grow: { refusal: (context) => ({ endpoint: 'pool-resize', body: { engine: context.engine, ...worker, delta: 1 } }) },
  pool_shrink: { refusal: (context) => ({ endpoint: 'pool-resize', body: { engine: context.engine, ...worker, delta: -1 } }) },
  add_consumer: {
    refusal: (context) => ({ endpoint: 'add-consumer', body: { engine: context.engine, ...worker, queue: context.fixture.queue } }),
  },
  cancel_consumer: {
    refusal: (context) => ({ endpoint: 'cancel-consumer', body: { engine: context.engine, ...worker, queue: context.fixture.queue } }),
  },
  rate_limit: {
    refusal: (context) => ({ endpoint: 'rate-limit', body: { engine: context.engine, task_name: 'conformance', rate: '10/m' } }),
  },
  // No REST endpoint issues it; nothing to exercise until the suite can check a dead-letter queue.
  requeue_dead_letter: {},
} satisfies Record<CommandAction, CapabilityCheck>;

/** Every action the suite knows, in the order it runs them (the order above). */
export const CONTRACT_ACTIONS = Object.keys(CAPABILITY_CHECKS) as CommandAction[];

/**
 * An action the adapter does not advertise, issued through the brain: the agent must refuse it with its capability
 * error, and the engine must be left alone.
 */
export async function expectRefused(context: SuiteContext, action: CommandAction, check: CapabilityCheck): Promise<void> {
  const { endpoint, body } = check.refusal!(context);
  const outcome = await issueCommand(issuerOf(context), endpoint, body);
  expect(outcome).toMatchObject({ status: 'failed', error: `adapter '${context.engine}' does not support action '${action}'` });
}
