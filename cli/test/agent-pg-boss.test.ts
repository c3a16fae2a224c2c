import type PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '@z4j/agent';
import { createPgBossAdapter, taskIdOf, type PgBossAdapter } from '@z4j/agent-pg-boss';
import type { MintedAgent } from '@z4j/enrolment';
import { purgeConfirmToken, type JsonObject } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import { eventually, startTestBoss, type TestBoss } from '../../packages/agent-pg-boss/src/test-support/test-pg-boss.js';
import { mintAdminApiKey, startTestBrain, type TestBrain } from './test-brain.js';

const postgres = await probePostgres();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

interface Work {
  readonly kind: 'ok' | 'flaky' | 'doomed' | 'fail-once' | 'long';
  readonly n?: number | string;
}

/**
 * The handler the test's workers run, by `data.kind`: `ok` succeeds, `flaky` fails its first attempt, `doomed` fails
 * every attempt, `fail-once` fails its first attempt (sent without retries, so it fails until retried by hand),
 * `long` runs until its AbortSignal fires and then rejects with the signal's reason (the cancellation contract in the
 * adapter's README).
 */
async function handler([job]: PgBoss.JobWithMetadata<Work>[], { signal }: { signal: AbortSignal }): Promise<unknown> {
  switch (job?.data.kind) {
    case 'flaky':
    case 'fail-once':
      if (job.retryCount === 0) throw new Error('first attempt fails');
      return { ok: true };
    case 'doomed':
      throw new RangeError('always fails');
    case 'long':
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    default:
      return { n: job?.data.n ?? null };
  }
}

/** pg-boss polls at most every 0.5 s per worker, so the test runs 20 one-job workers on the busy queue. */
const WORKERS = 20;

describe.skipIf(!postgres.available)('@z4j/agent-pg-boss end to end: real brain, real pg-boss', () => {
  let brain: TestBrain;
  let minted: MintedAgent;
  let apiToken: string;
  let agent: Agent;
  let test: TestBoss;
  let boss: PgBoss;
  let adapter: PgBossAdapter;

  beforeAll(async () => {
    [brain, test] = await Promise.all([
      startTestBrain({
        services: ['gateway', 'ingest', 'api', 'workers'],
        env: { Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS: '1', Z4J_ENVIRONMENT: 'dev' },
      }),
      startTestBoss({ max: 30 }),
    ]);
    boss = test.boss;
    apiToken = await mintAdminApiKey(brain, 'pgboss-e2e');
    minted = await brain.mint('pgboss-e2e');

    await boss.createQueue('e2e', { name: 'e2e', retryLimit: 1 });
    await boss.createQueue('parked', { name: 'parked' });
    adapter = createPgBossAdapter({ boss, logger: silent, cancelWaitMs: 5_000 });
    for (let n = 0; n < WORKERS; n += 1) await adapter.work<Work>('e2e', handler);
    await boss.schedule('parked', '0 3 * * *', { kind: 'ok', n: 'nightly' });
    agent = createAgent({
      brainUrl: brain.brain.url,
      token: minted.token,
      hmacSecret: minted.hmac_secret,
      agentName: 'pgboss-e2e-host',
      adapters: [adapter],
      logger: silent,
      bufferSize: 10_000,
    });
    await agent.start();
    expect(await eventually(() => agent.stats().connected)).toBe(true);
  });

  afterAll(async () => {
    await agent?.stop({ graceMs: 1_000 });
    await test?.stop();
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
      .where('engine', '=', 'pg-boss')
      .execute();
  const taskState = async (taskId: string) =>
    (
      await brain.brain.database.db
        .selectFrom('tasks')
        .select('state')
        .where('project_id', '=', minted.project_id)
        .where('engine', '=', 'pg-boss')
        .where('task_id', '=', taskId)
        .executeTakeFirst()
    )?.state;
  const jobState = async (queue: string, id: string) => (await boss.getJobById(queue, id, { includeArchive: true }))?.state;
  const send = async (queue: string, data: Work, options: PgBoss.SendOptions = {}) => {
    const id = await adapter.send(queue, data, options);
    if (id === null) throw new Error(`pg-boss created no job in ${queue}`);
    return id;
  };

  it('projects 100 jobs (with retries and failures) onto the same states pg-boss has', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 100; n += 1) ids.push(await send('e2e', { kind: n % 10 === 0 ? 'doomed' : n % 10 === 1 ? 'flaky' : 'ok', n }));
    const finished = async () => {
      const { rows } = await boss
        .getDb()
        .executeSql("SELECT id, state FROM pgboss.job WHERE name = 'e2e' AND id = ANY($1::uuid[]) AND state IN ('completed', 'failed')", [
          ids,
        ]);
      return rows as { id: string; state: string }[];
    };
    expect(await eventually(async () => (await finished()).length === 100, 30_000)).toBe(true);
    const states = new Map((await finished()).map((row) => [taskIdOf('e2e', row.id), row.state]));
    expect([...states.values()].filter((state) => state === 'failed')).toHaveLength(10);

    const settled = await eventually(async () => {
      const rows = await taskRows();
      return rows.filter((row) => states.has(row.task_id) && (row.state === 'success' || row.state === 'failure')).length === 100;
    }, 20_000);
    expect(settled).toBe(true);
    const rows = new Map((await taskRows()).map((row) => [row.task_id, row]));
    for (const [taskId, state] of states) {
      expect(rows.get(taskId)?.state, taskId).toBe(state === 'completed' ? 'success' : 'failure');
    }
    expect(rows.get(taskIdOf('e2e', ids[1]!))).toMatchObject({
      state: 'success',
      name: 'e2e',
      queue: 'e2e',
      args: [{ kind: 'flaky', n: 1 }],
    });
    expect(rows.get(taskIdOf('e2e', ids[1]!))!.retry_count).toBeGreaterThanOrEqual(1);
    expect(rows.get(taskIdOf('e2e', ids[0]!))).toMatchObject({ state: 'failure', name: 'e2e', exception: 'RangeError' });

    // Heartbeats carried this process's wrapped workers.
    const worker = await brain.brain.database.db
      .selectFrom('workers')
      .select(['name', 'state', 'concurrency', 'queues'])
      .where('project_id', '=', minted.project_id)
      .where('name', 'like', 'pg-boss@%')
      .executeTakeFirst();
    expect(worker).toMatchObject({ state: 'online', concurrency: WORKERS, queues: ['e2e'] });
  });

  it('retries a failed job through POST commands/retry-task, which re-runs it to success', async () => {
    const id = await send('e2e', { kind: 'fail-once' }, { retryLimit: 0 });
    const taskId = taskIdOf('e2e', id);
    expect(await eventually(async () => (await taskState(taskId)) === 'failure', 15_000)).toBe(true);
    expect(await jobState('e2e', id)).toBe('failed');
    const reply = await issue('retry-task', { engine: 'pg-boss', task_id: taskId });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ status: 'completed', result: { task_id: taskId, retried: true, previous_state: 'failed' } });
    expect(await eventually(async () => (await jobState('e2e', id)) === 'completed')).toBe(true);
    expect(await eventually(async () => (await taskState(taskId)) === 'success', 15_000)).toBe(true);
  });

  it('stops an ACTIVE long job through POST commands/cancel-task (cancelled in pg-boss, revoked in the brain)', async () => {
    const id = await send('e2e', { kind: 'long' });
    const taskId = taskIdOf('e2e', id);
    expect(await eventually(async () => (await jobState('e2e', id)) === 'active')).toBe(true);
    expect(await eventually(async () => (await taskState(taskId)) === 'started', 15_000)).toBe(true);
    const reply = await issue('cancel-task', { engine: 'pg-boss', task_id: taskId });
    expect(reply.body).toMatchObject({ status: 'completed', result: { cancelled: true, previous_state: 'active', terminated: true } });
    expect(await jobState('e2e', id)).toBe('cancelled');
    expect(await eventually(async () => (await taskState(taskId)) === 'revoked', 15_000)).toBe(true);
  });

  it('purges a queue only with the confirm token for its depth, revoking the purged tasks', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 7; n += 1) ids.push(await send('parked', { kind: 'ok', n: `purge-${n}` }));
    expect(await eventually(async () => (await taskRows()).filter((row) => row.queue === 'parked').length === 7, 15_000)).toBe(true);
    const stale = await issue('purge-queue', { queue: 'parked', confirm_token: await purgeConfirmToken('parked', 6), force: false });
    expect(stale.body).toMatchObject({ status: 'failed' });
    expect(stale.body.error).toMatch(/^confirm_mismatch: /);
    expect(await boss.getQueueSize('parked')).toBe(7);

    const purged = await issue('purge-queue', { queue: 'parked', confirm_token: await purgeConfirmToken('parked', 7), force: false });
    expect(purged.body).toMatchObject({ status: 'completed', result: { queue: 'parked', depth: 7, purged: 7 } });
    expect(await boss.getQueueSize('parked')).toBe(0);
    const taskIds = new Set(ids.map((id) => taskIdOf('parked', id)));
    expect(
      await eventually(
        async () => (await taskRows()).filter((row) => taskIds.has(row.task_id) && row.state === 'revoked').length === 7,
        15_000,
      ),
    ).toBe(true);
  });

  it('answers reconcile_task with the job’s pg-boss state', async () => {
    const id = await send('e2e', { kind: 'doomed' }, { retryLimit: 0 });
    expect(await eventually(async () => (await jobState('e2e', id)) === 'failed')).toBe(true);
    // Issued the way the brain's reconciliation worker issues it: a pending command row, delivered by the gateway.
    const db = brain.brain.database.db;
    const row = await db
      .insertInto('commands')
      .values({
        project_id: minted.project_id,
        agent_id: minted.agent_id,
        action: 'reconcile_task',
        target_type: 'task',
        target_id: `pg-boss:${taskIdOf('e2e', id)}`,
        payload: JSON.stringify({ task_id: taskIdOf('e2e', id), engine: 'pg-boss' }),
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

  it('reports the pg-boss schedule to the brain and fires it through the schedule API', async () => {
    const db = brain.brain.database.db;
    const find = () =>
      db
        .selectFrom('schedules')
        .select(['id', 'name', 'task_name', 'kind', 'expression', 'is_enabled', 'scheduler'])
        .where('project_id', '=', minted.project_id)
        .where('name', '=', 'parked')
        .executeTakeFirst();
    expect(await eventually(async () => (await find()) !== undefined, 15_000)).toBe(true);
    const schedule = (await find())!;
    expect(schedule).toMatchObject({ task_name: 'parked', kind: 'cron', expression: '0 3 * * *', is_enabled: true, scheduler: 'pg-boss' });

    const reply = await fetch(`${brain.brain.url}/api/v1/projects/default/schedules/${schedule.id}/trigger`, {
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
    const command = await db.selectFrom('commands').select('result').where('id', '=', body.command.id).executeTakeFirstOrThrow();
    const fired = (command.result as JsonObject).task_id as string;
    expect(fired).toMatch(/^parked:/);
    const job = await boss.getJobById<Work>('parked', fired.slice('parked:'.length));
    expect(job).toMatchObject({ state: 'created', data: { kind: 'ok', n: 'nightly' } });
  });
});
