import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '@z4j/agent';
import { createBullMQAdapter } from '@z4j/agent-bullmq';
import type { MintedAgent } from '@z4j/enrolment';
import { purgeConfirmToken, type JsonObject } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import {
  dropPrefix,
  eventually,
  probeRedis,
  testConnection,
  uniquePrefix,
} from '../../packages/agent-bullmq/src/test-support/test-redis.js';
import { mintAdminApiKey, startTestBrain, type TestBrain } from './test-brain.js';

const postgres = await probePostgres();
const redis = await probeRedis();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The processor the test's worker runs, by job name: `ok` succeeds, `flaky` fails its first attempt, `doomed` fails
 * every attempt, `fail-once` fails without retries until retried by hand, `long` runs until its AbortSignal fires
 * (then fails without retries, the cancellation contract in the adapter's README).
 */
async function processor(job: Job, _token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
  switch (job.name) {
    case 'flaky':
      if (job.attemptsMade === 0) throw new Error('first attempt fails');
      return { ok: true };
    case 'doomed':
      throw new RangeError('always fails');
    case 'fail-once':
      if (job.attemptsStarted === 1) throw new UnrecoverableError('failed before the retry');
      return 'retried fine';
    case 'long':
      return new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(new UnrecoverableError(`cancelled: ${String(signal.reason)}`)), { once: true });
      });
    default:
      return { n: (job.data as { n?: number }).n ?? null };
  }
}

describe.skipIf(!postgres.available || !redis.available)('@z4j/agent-bullmq end to end: real brain, real BullMQ', () => {
  let brain: TestBrain;
  let minted: MintedAgent;
  let apiToken: string;
  let agent: Agent;
  let queue: Queue;
  let worker: Worker;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    brain = await startTestBrain({
      services: ['gateway', 'ingest', 'api', 'workers'],
      env: { Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS: '1', Z4J_ENVIRONMENT: 'dev' },
    });
    apiToken = await mintAdminApiKey(brain, 'bullmq-e2e');
    minted = await brain.mint('bullmq-e2e');

    queue = new Queue('e2e', { connection: testConnection(), prefix });
    worker = new Worker('e2e', processor, { connection: testConnection(), prefix, concurrency: 20 });
    await queue.upsertJobScheduler('nightly', { pattern: '0 3 * * *' }, { name: 'digest', data: { scope: 'all' } });
    agent = createAgent({
      brainUrl: brain.brain.url,
      token: minted.token,
      hmacSecret: minted.hmac_secret,
      agentName: 'bullmq-e2e-host',
      adapters: [createBullMQAdapter({ queues: [queue], workers: [worker], logger: silent })],
      logger: silent,
      bufferSize: 10_000,
    });
    await agent.start();
    expect(await eventually(() => agent.stats().connected)).toBe(true);
  });

  afterAll(async () => {
    await agent?.stop({ graceMs: 1_000 });
    await worker?.close(true);
    await queue?.obliterate({ force: true });
    if (queue) await dropPrefix(queue, prefix);
    await queue?.close();
    await brain?.stop();
  });

  const issue = async (endpoint: string, body: JsonObject) => {
    const reply = await fetch(`${brain.brain.url}/api/v1/projects/default/commands/${endpoint}?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: minted.agent_id, ...body }),
    });
    return { status: reply.status, body: (await reply.json()) as { status: string; result: JsonObject | null; error: string | null } };
  };

  const taskRows = () =>
    brain.brain.database.db
      .selectFrom('tasks')
      .select(['task_id', 'state', 'name', 'queue', 'retry_count', 'exception', 'args'])
      .where('project_id', '=', minted.project_id)
      .where('engine', '=', 'bullmq')
      .execute();
  const taskState = async (taskId: string) =>
    (
      await brain.brain.database.db
        .selectFrom('tasks')
        .select('state')
        .where('project_id', '=', minted.project_id)
        .where('engine', '=', 'bullmq')
        .where('task_id', '=', taskId)
        .executeTakeFirst()
    )?.state;

  it('projects 200 jobs (with retries and failures) onto the same states and counts BullMQ has', async () => {
    const specs = Array.from({ length: 200 }, (_, n) => ({
      name: n % 10 === 0 ? 'doomed' : n % 10 === 1 ? 'flaky' : 'ok',
      data: { n },
      opts: { attempts: 2 },
    }));
    const jobs = await queue.addBulk(specs);
    expect(await eventually(async () => (await queue.getCompletedCount()) + (await queue.getFailedCount()) === 200, 20_000)).toBe(true);
    const states = new Map<string, string>();
    for (const job of jobs) states.set(`e2e:${job.id}`, await job.getState());
    const expected = { success: 0, failure: 0 };
    for (const state of states.values()) expected[state === 'completed' ? 'success' : 'failure'] += 1;
    expect(expected).toEqual({ success: 180, failure: 20 });

    const settled = await eventually(async () => {
      const rows = await taskRows();
      return rows.filter((row) => states.has(row.task_id) && (row.state === 'success' || row.state === 'failure')).length === 200;
    }, 20_000);
    expect(settled).toBe(true);
    const rows = new Map((await taskRows()).map((row) => [row.task_id, row]));
    for (const [taskId, state] of states) {
      expect(rows.get(taskId)?.state, taskId).toBe(state === 'completed' ? 'success' : 'failure');
    }
    const flaky = rows.get(`e2e:${jobs[1]!.id}`)!;
    expect(flaky).toMatchObject({ state: 'success', name: 'flaky', queue: 'e2e', args: [{ n: 1 }] });
    expect(flaky.retry_count).toBeGreaterThanOrEqual(1);
    expect(rows.get(`e2e:${jobs[0]!.id}`)).toMatchObject({ state: 'failure', name: 'doomed', exception: 'RangeError' });

    // The first heartbeat carried the local worker; the boot snapshot carried the job scheduler.
    const engineWorker = await brain.brain.database.db
      .selectFrom('workers')
      .select(['name', 'state', 'concurrency', 'queues'])
      .where('project_id', '=', minted.project_id)
      .where('name', 'like', 'e2e@%')
      .executeTakeFirst();
    expect(engineWorker).toMatchObject({ state: 'online', concurrency: 20, queues: ['e2e'] });
  });

  it('retries a failed job through POST commands/retry-task, which re-runs it to success', async () => {
    const job = await queue.add('fail-once', { n: 'retry' });
    const taskId = `e2e:${job.id}`;
    expect(await eventually(async () => (await taskState(taskId)) === 'failure', 15_000)).toBe(true);
    const reply = await issue('retry-task', { engine: 'bullmq', task_id: taskId });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ status: 'completed', result: { task_id: taskId, retried: true, previous_state: 'failed' } });
    expect(await eventually(async () => (await job.getState()) === 'completed')).toBe(true);
    expect(await eventually(async () => (await taskState(taskId)) === 'success', 15_000)).toBe(true);
  });

  it('stops an ACTIVE long job through POST commands/cancel-task (revoked in the brain)', async () => {
    const job = await queue.add('long', {});
    const taskId = `e2e:${job.id}`;
    expect(await eventually(async () => (await job.getState()) === 'active')).toBe(true);
    const reply = await issue('cancel-task', { engine: 'bullmq', task_id: taskId });
    expect(reply.body).toMatchObject({ status: 'completed', result: { cancelled: true, previous_state: 'active', terminated: true } });
    expect(await job.getState()).toBe('failed');
    expect(await eventually(async () => (await taskState(taskId)) === 'revoked', 15_000)).toBe(true);
  });

  it('purges the queue only with the confirm token for its depth, revoking the purged tasks', async () => {
    await worker.pause();
    try {
      const jobs = await queue.addBulk(Array.from({ length: 7 }, (_, n) => ({ name: 'ok', data: { n: `purge-${n}` } })));
      const stale = await issue('purge-queue', { queue: 'e2e', confirm_token: await purgeConfirmToken('e2e', 6), force: false });
      expect(stale.body).toMatchObject({ status: 'failed' });
      expect(stale.body.error).toMatch(/^confirm_mismatch: /);
      expect(await queue.getWaitingCount()).toBe(7);

      const purged = await issue('purge-queue', { queue: 'e2e', confirm_token: await purgeConfirmToken('e2e', 7), force: false });
      expect(purged.body).toMatchObject({ status: 'completed', result: { queue: 'e2e', depth: 7, purged: 7 } });
      expect(await queue.getWaitingCount()).toBe(0);
      const ids = new Set(jobs.map((job) => `e2e:${job.id}`));
      expect(
        await eventually(
          async () => (await taskRows()).filter((row) => ids.has(row.task_id) && row.state === 'revoked').length === 7,
          15_000,
        ),
      ).toBe(true);
    } finally {
      worker.resume();
    }
  });

  it('pauses and resumes the queue through POST commands/pause-queue and resume-queue', async () => {
    const paused = await issue('pause-queue', { queue: 'e2e' });
    expect(paused.body).toMatchObject({ status: 'completed', result: { queue: 'e2e', paused: true } });
    expect(await queue.isPaused()).toBe(true);
    const resumed = await issue('resume-queue', { queue: 'e2e' });
    expect(resumed.body).toMatchObject({ status: 'completed', result: { queue: 'e2e', paused: false } });
    expect(await queue.isPaused()).toBe(false);
  });

  it('answers reconcile_task with the job’s BullMQ state', async () => {
    const job = await queue.add('doomed', {}, { attempts: 1 });
    expect(await eventually(async () => (await job.getState()) === 'failed')).toBe(true);
    // Issued the way the brain's reconciliation worker issues it: a pending command row, delivered by the gateway.
    const db = brain.brain.database.db;
    const row = await db
      .insertInto('commands')
      .values({
        project_id: minted.project_id,
        agent_id: minted.agent_id,
        action: 'reconcile_task',
        target_type: 'task',
        target_id: `bullmq:e2e:${job.id}`,
        payload: JSON.stringify({ task_id: `e2e:${job.id}`, engine: 'bullmq' }),
        timeout_at: new Date(Date.now() + 60_000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const done = await eventually(async () => {
      const command = await db.selectFrom('commands').select('status').where('id', '=', row.id).executeTakeFirstOrThrow();
      return command.status === 'completed';
    }, 15_000);
    expect(done).toBe(true);
    const command = await db.selectFrom('commands').select('result').where('id', '=', row.id).executeTakeFirstOrThrow();
    expect(command.result).toMatchObject({ engine_state: 'failure', state: 'failed', exception: 'always fails' });
  });

  it('reports the job scheduler to the brain and disables it through the schedule API (the agent advertises its scheduler)', async () => {
    const db = brain.brain.database.db;
    const find = () =>
      db
        .selectFrom('schedules')
        .select(['id', 'name', 'task_name', 'kind', 'expression', 'is_enabled', 'scheduler'])
        .where('project_id', '=', minted.project_id)
        .where('name', '=', 'e2e:nightly')
        .executeTakeFirst();
    expect(await eventually(async () => (await find()) !== undefined, 15_000)).toBe(true);
    const schedule = (await find())!;
    expect(schedule).toMatchObject({ task_name: 'digest', kind: 'cron', expression: '0 3 * * *', is_enabled: true, scheduler: 'bullmq' });

    const reply = await fetch(`${brain.brain.url}/api/v1/projects/default/schedules/${schedule.id}/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const body = (await reply.json()) as { command: { id: string } };
    expect(reply.status, JSON.stringify(body)).toBe(202);
    const done = await eventually(async () => {
      const command = await db.selectFrom('commands').select('status').where('id', '=', body.command.id).executeTakeFirstOrThrow();
      return command.status === 'completed';
    }, 15_000);
    expect(done).toBe(true);
    expect(await queue.getJobScheduler('nightly')).toBeUndefined();
    expect((await find())!.is_enabled).toBe(false);
  });
});
