import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import type { Database } from '@z4j/db';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';
import { COMMANDS_CHANNEL, COMMAND_UPDATES_CHANNEL } from './command-issuer.js';

const postgres = await probePostgres();

/** An agent row as the gateway leaves it after a hello. */
async function insertAgent(
  db: Kysely<Database>,
  projectId: string,
  options: { state?: 'online' | 'offline' | 'unknown'; engines?: string[]; revoked?: boolean } = {},
): Promise<string> {
  const row = await db
    .insertInto('agents')
    .values({
      project_id: projectId,
      name: `agent-${randomUUID().slice(0, 8)}`,
      token_hash: randomUUID(),
      state: options.state ?? 'online',
      engine_adapters: options.engines ?? ['celery'],
      revoked_at: options.revoked ? new Date() : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

interface World {
  readonly harness: ApiHarness;
  readonly projectId: string;
  readonly agentId: string;
  readonly operator: CookieJar;
  readonly admin: CookieJar;
  readonly viewer: CookieJar;
  readonly operatorId: string;
  readonly adminId: string;
}

async function world(db: Kysely<Database>, env: Record<string, string> = {}): Promise<World> {
  const harness = createApiHarness(db, env);
  await harness.reset();
  const operatorUser = await harness.createUser({ memberships: { alpha: 'operator' } });
  const adminUser = await harness.createUser({ memberships: { alpha: 'admin' } });
  const viewerUser = await harness.createUser({ memberships: { alpha: 'viewer' } });
  const projectId = await harness.createProject('alpha');
  const agentId = await insertAgent(db, projectId);
  await db
    .insertInto('tasks')
    .values({
      project_id: projectId,
      engine: 'celery',
      task_id: 'task-1',
      name: 'app.tasks.add',
      args: JSON.stringify([1, 2]),
      kwargs: JSON.stringify({ x: 1 }),
      priority: 'high',
    })
    .execute();
  return {
    harness,
    projectId,
    agentId,
    operator: await harness.sessionJar(operatorUser),
    admin: await harness.sessionJar(adminUser),
    viewer: await harness.sessionJar(viewerUser),
    operatorId: operatorUser.id,
    adminId: adminUser.id,
  };
}

function issue(w: World, path: string, body: Record<string, unknown>, options: { jar?: CookieJar; query?: string; ip?: string } = {}) {
  return w.harness.request('POST', `/api/v1/projects/alpha/commands/${path}${options.query ?? ''}`, {
    jar: options.jar ?? w.operator,
    csrf: true,
    body: { agent_id: w.agentId, ...body },
    ip: options.ip,
  });
}

/** Plays the gateway: on each z4j_commands NOTIFY, moves the row along and announces every change on z4j_command_updates. */
async function fakeGateway(harness: ApiHarness, answer: (commandId: string) => Promise<void>) {
  return harness.deps.subscribe(COMMANDS_CHANNEL, (payload) => {
    const { c } = JSON.parse(payload) as { c: string };
    void answer(c);
  });
}

async function setStatus(harness: ApiHarness, commandId: string, values: Record<string, unknown>, announce = true) {
  await harness.db.updateTable('commands').set(values).where('id', '=', commandId).execute();
  if (announce) await harness.deps.notify(COMMAND_UPDATES_CHANNEL, commandId);
}

describeEachDatabase('command routes', postgres, ({ kind, skip, test }) => {
  it.skipIf(skip)(
    "stores each action's target and payload exactly as §3.1 says (plus engine), audits it and NOTIFYs after the commit",
    async () => {
      const w = await world(test().database.db);
      const { harness, agentId } = w;
      // A gateway's view: when the NOTIFY arrives, the row must already be committed.
      const visibleOnNotify: boolean[] = [];
      await harness.deps.subscribe(COMMANDS_CHANNEL, (payload) => {
        const { c } = JSON.parse(payload) as { c: string };
        void harness.db
          .selectFrom('commands')
          .select('id')
          .where('id', '=', c)
          .executeTakeFirst()
          .then((row) => visibleOnNotify.push(row !== undefined));
      });

      const cases: { path: string; body: Record<string, unknown>; admin?: boolean; expected: Record<string, unknown> }[] = [
        {
          path: 'retry-task',
          body: { engine: 'celery', task_id: 'task-1', override_kwargs: { x: 2 }, eta_seconds: 30 },
          expected: {
            action: 'retry_task',
            target_type: 'task',
            target_id: 'celery:task-1',
            payload: {
              engine: 'celery',
              task_id: 'task-1',
              task_name: 'app.tasks.add',
              args: [1, 2],
              kwargs: { x: 1 },
              override_args: null,
              override_kwargs: { x: 2 },
              eta_seconds: 30,
              priority: 'high',
            },
          },
        },
        {
          path: 'cancel-task',
          body: { engine: 'celery', task_id: 'task-1' },
          expected: {
            action: 'cancel_task',
            target_type: 'task',
            target_id: 'celery:task-1',
            payload: { engine: 'celery', task_id: 'task-1' },
          },
        },
        {
          path: 'bulk-retry',
          body: { filter: { state: 'failure', queue: 'default' }, max: 500 },
          expected: {
            action: 'bulk_retry',
            target_type: 'bulk',
            target_id: null,
            payload: { filter: { state: 'failure', queue: 'default' }, max: 500, engine: 'celery' },
          },
        },
        {
          path: 'purge-queue',
          body: { queue: 'default', confirm_token: 'c0ffee' },
          admin: true,
          expected: {
            action: 'purge_queue',
            target_type: 'queue',
            target_id: 'default',
            payload: { queue: 'default', confirm_token: 'c0ffee', force: false, engine: 'celery' },
          },
        },
        {
          path: 'pause-queue',
          body: { queue: 'emails' },
          expected: { action: 'pause_queue', target_type: 'queue', target_id: 'emails', payload: { queue: 'emails', engine: 'celery' } },
        },
        {
          path: 'resume-queue',
          body: { queue: 'emails' },
          expected: { action: 'resume_queue', target_type: 'queue', target_id: 'emails', payload: { queue: 'emails', engine: 'celery' } },
        },
        {
          path: 'restart-worker',
          body: { worker_name: 'celery@web-1' },
          expected: {
            action: 'restart_worker',
            target_type: 'worker',
            target_id: 'celery@web-1',
            payload: { worker_name: 'celery@web-1', engine: 'celery' },
          },
        },
        {
          path: 'pool-resize',
          body: { worker_name: 'celery@web-1', delta: 3 },
          expected: {
            action: 'pool_grow',
            target_type: 'worker',
            target_id: 'celery@web-1',
            payload: { worker_name: 'celery@web-1', delta: 3, engine: 'celery' },
          },
        },
        {
          path: 'pool-resize',
          body: { worker_name: 'celery@web-1', delta: -2 },
          expected: {
            action: 'pool_shrink',
            target_type: 'worker',
            target_id: 'celery@web-1',
            payload: { worker_name: 'celery@web-1', delta: 2, engine: 'celery' },
          },
        },
        {
          path: 'add-consumer',
          body: { worker_name: 'celery@web-1', queue: 'emails' },
          expected: {
            action: 'add_consumer',
            target_type: 'worker',
            target_id: 'celery@web-1',
            payload: { worker_name: 'celery@web-1', queue: 'emails', engine: 'celery' },
          },
        },
        {
          path: 'cancel-consumer',
          body: { worker_name: 'celery@web-1', queue: 'emails' },
          expected: {
            action: 'cancel_consumer',
            target_type: 'worker',
            target_id: 'celery@web-1',
            payload: { worker_name: 'celery@web-1', queue: 'emails', engine: 'celery' },
          },
        },
        {
          path: 'rate-limit',
          body: { task_name: 'app.tasks.add', rate: '10/m', worker_name: '' },
          expected: {
            action: 'rate_limit',
            target_type: 'task',
            target_id: 'app.tasks.add',
            payload: { task_name: 'app.tasks.add', rate: '10/m', worker_name: null, engine: 'celery' },
          },
        },
        {
          path: 'rate-limit',
          body: { task_name: 'app.tasks.add', rate: '0', worker_name: 'celery@web-1' },
          expected: {
            action: 'rate_limit',
            target_type: 'task',
            target_id: 'app.tasks.add',
            payload: { task_name: 'app.tasks.add', rate: '0', worker_name: 'celery@web-1', engine: 'celery' },
          },
        },
      ];

      for (const item of cases) {
        const reply = await issue(w, item.path, item.body, { jar: item.admin ? w.admin : w.operator, ip: '203.0.113.7' });
        expect(reply.status, `${item.path} ${JSON.stringify(reply.body)}`).toBe(202);
        const command = reply.body;
        expect(command).toMatchObject({ ...item.expected, status: 'pending', agent_id: agentId, project_id: w.projectId });
        expect(Object.keys(command).sort()).toEqual(
          [
            'id',
            'project_id',
            'agent_id',
            'action',
            'target_type',
            'target_id',
            'payload',
            'status',
            'result',
            'error',
            'idempotency_key',
            'issued_by',
            'issued_at',
            'dispatched_at',
            'completed_at',
            'timeout_at',
          ].sort(),
        );
        const row = await harness.db.selectFrom('commands').selectAll().where('id', '=', command.id).executeTakeFirstOrThrow();
        expect(row).toMatchObject({
          ...item.expected,
          status: 'pending',
          agent_id: agentId,
          source_ip: '203.0.113.7',
          idempotency_key: null,
        });
        expect(row.payload).toEqual(item.expected.payload);
        expect(row.timeout_at.getTime() - row.issued_at.getTime()).toBe(60_000);
        expect(row.issued_by).toBe(item.admin ? w.adminId : w.operatorId);

        const audit = await harness.db
          .selectFrom('audit_log')
          .select(['action', 'target_type', 'target_id', 'metadata', 'project_id', 'source_ip'])
          .where('action', 'like', 'command.issue.%')
          .execute();
        expect(audit.filter((entry) => (entry.metadata as { command_id?: string }).command_id === command.id)).toEqual([
          {
            action: `command.issue.${String(item.expected.action)}`,
            target_type: item.expected.target_type,
            target_id: item.expected.target_id,
            metadata: { command_id: command.id, agent_id: agentId, idempotency_key: null },
            project_id: w.projectId,
            source_ip: '203.0.113.7',
          },
        ]);
        expect(harness.published).toContainEqual({ channel: COMMANDS_CHANNEL, payload: JSON.stringify({ c: command.id, a: agentId }) });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(visibleOnNotify).toEqual(cases.map(() => true));
      expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);
    },
  );

  it.skipIf(skip)('viewers cannot issue (403); operators can, except purge-queue, which needs admin', async () => {
    const w = await world(test().database.db);
    for (const path of ['retry-task', 'cancel-task', 'bulk-retry', 'purge-queue', 'restart-worker', 'pool-resize', 'rate-limit']) {
      const reply = await issue(
        w,
        path,
        { engine: 'celery', task_id: 'task-1', queue: 'q', worker_name: 'w', delta: 1, task_name: 't', rate: '1' },
        {
          jar: w.viewer,
        },
      );
      expect(reply.status, path).toBe(403);
    }
    expect((await issue(w, 'purge-queue', { queue: 'default', force: true })).status).toBe(403);
    expect((await issue(w, 'purge-queue', { queue: 'default', force: true }, { jar: w.admin })).status).toBe(202);
    expect((await issue(w, 'restart-worker', { worker_name: 'w' })).status).toBe(202);
    expect((await w.harness.db.selectFrom('commands').select('action').execute()).map((row) => row.action).sort()).toEqual([
      'purge_queue',
      'restart_worker',
    ]);
  });

  it.skipIf(skip)('validates bodies, the agent, its engines and the task', async () => {
    // Bodies above Z4J_MAX_PAYLOAD_SIZE_BYTES (8 KiB by default) are 413 before any route; raise it to reach the 64 KiB caps.
    const w = await world(test().database.db, { Z4J_MAX_PAYLOAD_SIZE_BYTES: String(1024 * 1024) });
    const { harness, projectId } = w;
    const invalid: [string, Record<string, unknown>][] = [
      ['rate-limit', { task_name: 't', rate: '10/x' }],
      ['rate-limit', { task_name: 't', rate: '01' }],
      ['rate-limit', { task_name: 't', rate: '1.5' }],
      ['rate-limit', { task_name: 't', rate: '10/m ' }],
      ['retry-task', { engine: 'celery', task_id: 'task-1', eta_seconds: 86_401 }],
      ['retry-task', { engine: 'celery', task_id: 'task-1', eta_seconds: -1 }],
      ['retry-task', { engine: 'celery', task_id: 'task-1', override_args: ['x'.repeat(64 * 1024)] }],
      ['retry-task', { engine: 'celery', task_id: 'task-1', override_kwargs: { big: 'x'.repeat(64 * 1024) } }],
      ['retry-task', { engine: 'celery', task_id: 'task-1', override_args: { not: 'a list' } }],
      ['pool-resize', { worker_name: 'w', delta: 101 }],
      ['pool-resize', { worker_name: 'w', delta: 1.5 }],
      ['bulk-retry', { filter: {}, max: 0 }],
      ['bulk-retry', { filter: {}, max: 10_001 }],
      ['purge-queue', { queue: 'q', confirm_token: 'x'.repeat(129) }],
      ['restart-worker', { worker_name: 'w', idempotency_key: 'k'.repeat(201) }],
      ['restart-worker', { worker_name: 'bad\u0000name' }],
      ['restart-worker', { worker_name: 'w', agent_id: 'not-a-uuid' }],
      // Engines the agent does not run: refused before anything is stored.
      ['retry-task', { engine: 'rq', task_id: 'task-1' }],
      ['cancel-task', { engine: 'bullmq', task_id: 'task-1' }],
      ['restart-worker', { worker_name: 'w', engine: 'rq' }],
    ];
    for (const [path, body] of invalid) {
      const reply = await issue(w, path, body, { jar: w.admin });
      expect(reply.status, `${path} ${JSON.stringify(body).slice(0, 80)}`).toBe(422);
      expect(reply.body.error).toBe('validation_failed');
    }
    for (const rate of ['0', '7', '10/s', '100/m', '3/h']) {
      expect((await issue(w, 'rate-limit', { task_name: 't', rate })).status, rate).toBe(202);
    }

    const unknownTask = await issue(w, 'retry-task', { engine: 'celery', task_id: 'nope' });
    expect([unknownTask.status, unknownTask.body.message]).toEqual([404, 'task not found']);
    const otherProject = await harness.createProject('beta');
    for (const agentId of [randomUUID(), await insertAgent(harness.db, otherProject)]) {
      const reply = await issue(w, 'restart-worker', { worker_name: 'w', agent_id: agentId });
      expect([reply.status, reply.body.message]).toEqual([404, 'agent not found']);
    }
    const revoked = await insertAgent(harness.db, projectId, { revoked: true });
    expect((await issue(w, 'restart-worker', { worker_name: 'w', agent_id: revoked })).status).toBe(409);

    // A multi-engine agent: retry-task accepts any engine it advertises (not only celery/rq/dramatiq); the
    // other commands must name one, and the payload carries it so the gateway can put it into the target.
    const multi = await insertAgent(harness.db, projectId, { engines: ['bullmq', 'pg-boss'] });
    await harness.db.insertInto('tasks').values({ project_id: projectId, engine: 'bullmq', task_id: '42', name: 'email' }).execute();
    const retried = await issue(w, 'retry-task', { agent_id: multi, engine: 'bullmq', task_id: '42' });
    expect(retried.status).toBe(202);
    expect(retried.body.payload).toMatchObject({ engine: 'bullmq', task_name: 'email', args: [], kwargs: {}, priority: 'normal' });
    const unnamed = await issue(w, 'restart-worker', { agent_id: multi, worker_name: 'w' });
    expect(unnamed.status).toBe(422);
    expect(unnamed.body.details.errors[0].field).toBe('body.engine');
    const named = await issue(w, 'restart-worker', { agent_id: multi, worker_name: 'w', engine: 'pg-boss' });
    expect([named.status, named.body.payload.engine]).toEqual([202, 'pg-boss']);
    // An agent that has not said hello yet reports no engines: the payload says engine null.
    const silent = await insertAgent(harness.db, projectId, { engines: [] });
    const bare = await issue(w, 'restart-worker', { agent_id: silent, worker_name: 'w' });
    expect([bare.status, bare.body.payload.engine]).toEqual([202, null]);

    await harness.db.updateTable('projects').set({ is_active: false }).where('id', '=', projectId).execute();
    expect((await issue(w, 'restart-worker', { worker_name: 'w' })).status).toBe(409);
  });

  it.skipIf(skip)(
    'bulk-retry drops task_names/task_priorities/overrides from the filter, audits that, fills names and priorities, and is throttled per address',
    async () => {
      const w = await world(test().database.db);
      const { harness, agentId } = w;
      const reply = await issue(w, 'bulk-retry', {
        filter: {
          engine: 'celery',
          task_ids: ['task-1', 'missing', 'task-1', 7],
          task_names: { 'task-1': 'evil.task' },
          task_priorities: { 'task-1': 'critical' },
          overrides: { args: ['rm -rf'] },
        },
        max: 10,
      });
      expect(reply.status).toBe(202);
      expect(reply.body.payload).toEqual({
        filter: {
          engine: 'celery',
          task_ids: ['task-1', 'missing', 'task-1', 7],
          task_names: { 'task-1': 'app.tasks.add' },
          task_priorities: { 'task-1': 'high' },
        },
        max: 10,
        engine: 'celery',
      });
      // audit_log is append-only, so earlier tests' rows are still there: pick this command's row.
      const audits = await harness.db.selectFrom('audit_log').select('metadata').where('action', '=', 'command.issue.bulk_retry').execute();
      expect(
        audits.map((row) => row.metadata).filter((metadata) => (metadata as { command_id: string }).command_id === reply.body.id),
      ).toEqual([
        {
          command_id: reply.body.id,
          agent_id: agentId,
          idempotency_key: null,
          stripped_filter_keys: ['task_names', 'task_priorities', 'overrides'],
        },
      ]);

      // 10 per minute per address, shared with purge-queue; another address is not affected.
      for (let index = 0; index < 10; index += 1) {
        expect((await issue(w, 'bulk-retry', { filter: {}, max: 1 }, { ip: '198.51.100.1' })).status).toBe(202);
      }
      const throttled = await issue(w, 'bulk-retry', { filter: {}, max: 1 }, { ip: '198.51.100.1' });
      expect([throttled.status, throttled.body.error]).toEqual([429, 'rate_limited']);
      expect((await issue(w, 'purge-queue', { queue: 'q', force: true }, { ip: '198.51.100.1', jar: w.admin })).status).toBe(429);
      expect((await issue(w, 'bulk-retry', { filter: {}, max: 1 }, { ip: '198.51.100.2' })).status).toBe(202);
      w.harness.clock.advance(61_000);
      expect((await issue(w, 'bulk-retry', { filter: {}, max: 1 }, { ip: '198.51.100.1' })).status).toBe(202);
    },
  );

  it.skipIf(skip)(
    'a repeated idempotency key returns the first command unchanged with 200, and stores, audits and announces nothing',
    async () => {
      const w = await world(test().database.db);
      const { harness } = w;
      const first = await issue(w, 'restart-worker', { worker_name: 'w', idempotency_key: 'deploy-42' });
      expect(first.status).toBe(202);
      expect(first.body.idempotency_key).toBe('deploy-42');
      const announced = harness.published.length;
      // Even with another body: the key names the first command.
      const second = await issue(w, 'restart-worker', { worker_name: 'other', idempotency_key: 'deploy-42' });
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      expect(harness.published).toHaveLength(announced);
      expect(await harness.db.selectFrom('commands').select('id').execute()).toEqual([{ id: first.body.id }]);
      const audits = await harness.db
        .selectFrom('audit_log')
        .select('metadata')
        .where('action', '=', 'command.issue.restart_worker')
        .execute();
      expect(audits.filter((row) => (row.metadata as { command_id: string }).command_id === first.body.id)).toHaveLength(1);
      // Keys are per project.
      const betaAdmin = await harness.createUser({ memberships: { beta: 'operator' } });
      const betaId = await harness.createProject('beta');
      const betaAgent = await insertAgent(harness.db, betaId);
      const beta = await harness.request('POST', '/api/v1/projects/beta/commands/restart-worker', {
        jar: await harness.sessionJar(betaAdmin),
        csrf: true,
        body: { agent_id: betaAgent, worker_name: 'w', idempotency_key: 'deploy-42' },
      });
      expect(beta.status).toBe(202);
      expect(beta.body.id).not.toBe(first.body.id);
    },
  );

  it.skipIf(skip || kind !== 'postgres')('concurrent requests with one idempotency key store one command (real Postgres)', async () => {
    const w = await world(test().database.db);
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => issue(w, 'restart-worker', { worker_name: 'w', idempotency_key: 'same-click' })),
    );
    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 202]);
    expect(new Set(replies.map((reply) => String(reply.body.id))).size).toBe(1);
    expect(await w.harness.db.selectFrom('commands').select('id').execute()).toHaveLength(1);
    expect(w.harness.published.filter((entry) => entry.channel === COMMANDS_CHANNEL)).toHaveLength(1);
  });

  it.skipIf(skip)('an offline agent: the command is stored and announced, the reply is 503 agent_offline with the command', async () => {
    const w = await world(test().database.db);
    const { harness, projectId } = w;
    const offline = await insertAgent(harness.db, projectId, { state: 'offline' });
    const reply = await issue(w, 'restart-worker', { agent_id: offline, worker_name: 'w', idempotency_key: 'k1' });
    expect(reply.status).toBe(503);
    expect(reply.body.error).toBe('agent_offline');
    expect(reply.body.details.agent_id).toBe(offline);
    const command = reply.body.details.command;
    expect(command).toMatchObject({ action: 'restart_worker', status: 'pending', agent_id: offline });
    const row = await harness.db.selectFrom('commands').select(['id', 'status']).executeTakeFirstOrThrow();
    expect(row).toEqual({ id: command.id, status: 'pending' });
    expect(harness.published).toContainEqual({ channel: COMMANDS_CHANNEL, payload: JSON.stringify({ c: command.id, a: offline }) });
    // Asking again with the key reports the stored command instead of issuing another.
    const again = await issue(w, 'restart-worker', { agent_id: offline, worker_name: 'w', idempotency_key: 'k1' });
    expect([again.status, again.body.id]).toEqual([200, command.id]);
    // wait=true does not wait for an agent that is not there.
    const waited = await issue(w, 'restart-worker', { agent_id: offline, worker_name: 'w' }, { query: '?wait=true' });
    expect(waited.status).toBe(503);
  });

  it.skipIf(skip)('Z4J_RATELIMIT_COMMANDS_PER_MINUTE caps new commands per project (429); repeats of a key are not counted', async () => {
    const w = await world(test().database.db, { Z4J_RATELIMIT_COMMANDS_PER_MINUTE: '3' });
    for (let index = 0; index < 3; index += 1) {
      expect((await issue(w, 'restart-worker', { worker_name: 'w', idempotency_key: `k${index}` })).status).toBe(202);
    }
    const limited = await issue(w, 'restart-worker', { worker_name: 'w' });
    expect([limited.status, limited.body.error]).toEqual([429, 'rate_limited']);
    expect((await issue(w, 'restart-worker', { worker_name: 'w', idempotency_key: 'k1' })).status).toBe(200);
    // Commands the brain issues itself (issued_by null) do not use the budget; the window slides.
    w.harness.clock.advance(61_000);
    await w.harness.db
      .insertInto('commands')
      .values(
        Array.from({ length: 5 }, () => ({
          project_id: w.projectId,
          agent_id: w.agentId,
          action: 'reconcile_task',
          target_type: 'task',
          issued_at: w.harness.clock.now,
          timeout_at: new Date(w.harness.clock.now.getTime() + 60_000),
        })),
      )
      .execute();
    expect((await issue(w, 'restart-worker', { worker_name: 'w' })).status).toBe(202);
    expect(await w.harness.db.selectFrom('commands').select('id').where('issued_by', 'is not', null).execute()).toHaveLength(4);
  });

  it.skipIf(skip)('?wait=true answers 200 with the final command once the gateway reports the result', async () => {
    const w = await world(test().database.db);
    const { harness } = w;
    await fakeGateway(harness, async (commandId) => {
      await setStatus(harness, commandId, { status: 'dispatched', dispatched_at: new Date() });
      await setStatus(harness, commandId, { status: 'completed', completed_at: new Date(), result: JSON.stringify({ restarted: true }) });
    });
    const started = Date.now();
    const reply = await issue(w, 'restart-worker', { worker_name: 'w' }, { query: '?wait=true' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ status: 'completed', result: { restarted: true }, error: null, action: 'restart_worker' });
    expect(reply.body.completed_at).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it.skipIf(skip)('?wait=true answers 200 with a failed command too', async () => {
    const w = await world(test().database.db);
    await fakeGateway(w.harness, (commandId) =>
      setStatus(w.harness, commandId, {
        status: 'failed',
        completed_at: new Date(),
        error: "adapter 'celery' does not support action 'restart_worker'",
      }),
    );
    const reply = await issue(w, 'restart-worker', { worker_name: 'w' }, { query: '?wait=1&wait_seconds=30' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ status: 'failed', error: "adapter 'celery' does not support action 'restart_worker'" });
  });

  it.skipIf(skip)('?wait=true answers 504 command_timeout when the command times out, or when the wait runs out', async () => {
    const w = await world(test().database.db, { Z4J_COMMAND_TIMEOUT_SECONDS: '1' });
    expect((await issue(w, 'restart-worker', { worker_name: 'w' }, { query: '?wait=true&wait_seconds=2' })).status).toBe(422);
    expect((await issue(w, 'restart-worker', { worker_name: 'w' }, { query: '?wait=maybe' })).status).toBe(422);

    // Nobody answers: the wait (Z4J_COMMAND_TIMEOUT_SECONDS) runs out.
    const started = Date.now();
    const silent = await issue(w, 'restart-worker', { worker_name: 'w' }, { query: '?wait=true' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect([silent.status, silent.body.error]).toEqual([504, 'command_timeout']);
    expect(silent.body.details.command).toMatchObject({ status: 'pending', action: 'restart_worker' });

    // The timeout worker marks it: 504 at once, with the timed-out command.
    const unsubscribe = await fakeGateway(w.harness, (commandId) => setStatus(w.harness, commandId, { status: 'timeout' }));
    const timedOut = await issue(w, 'restart-worker', { worker_name: 'w' }, { query: '?wait=true' });
    expect([timedOut.status, timedOut.body.details.command.status]).toEqual([504, 'timeout']);
    await unsubscribe();

    // A result whose NOTIFY was lost is still found by the read at the deadline.
    await fakeGateway(w.harness, (commandId) => setStatus(w.harness, commandId, { status: 'completed', result: '{}' }, false));
    const lost = await issue(w, 'restart-worker', { worker_name: 'w' }, { query: '?wait=true' });
    expect([lost.status, lost.body.status]).toEqual([200, 'completed']);
  });

  it.skipIf(skip)('lists commands newest first with an exact cursor and filters; one command by id; viewers may read', async () => {
    const w = await world(test().database.db);
    const { harness, projectId, agentId } = w;
    const ids: string[] = [];
    for (let index = 0; index < 7; index += 1) {
      // Several commands share a millisecond: the (issued_at, id) cursor must still be exact.
      if (index % 3 === 0) harness.clock.advance(1);
      const reply = await issue(w, index % 2 === 0 ? 'restart-worker' : 'cancel-task', {
        worker_name: 'w',
        engine: 'celery',
        task_id: 'task-1',
      });
      expect(reply.status).toBe(202);
      ids.push(reply.body.id);
    }
    const other = await insertAgent(harness.db, projectId);
    const otherCommand = (await issue(w, 'restart-worker', { agent_id: other, worker_name: 'w' })).body.id;
    await harness.db.updateTable('commands').set({ status: 'completed' }).where('id', '=', ids[0]!).execute();

    const all = await harness.db.selectFrom('commands').select('id').orderBy('issued_at', 'desc').orderBy('id', 'desc').execute();
    const seen: string[] = (await harness.walkPages('/api/v1/projects/alpha/commands', { jar: w.viewer, limit: 3 })).items.map(
      (item: { id: string }) => item.id,
    );
    expect(seen).toEqual(all.map((row) => row.id));
    expect(seen).toHaveLength(8);

    const list = (query: string) => harness.request('GET', `/api/v1/projects/alpha/commands?${query}`, { jar: w.viewer });
    expect((await list('action=cancel_task')).body.items.map((item: { id: string }) => item.id).sort()).toEqual(
      ids.filter((_, index) => index % 2 === 1).sort(),
    );
    expect((await list('status=completed')).body.items.map((item: { id: string }) => item.id)).toEqual([ids[0]]);
    expect((await list(`agent_id=${other}`)).body.items.map((item: { id: string }) => item.id)).toEqual([otherCommand]);
    expect((await list(`agent_id=${agentId.toUpperCase()}&status=pending`)).body.items).toHaveLength(6);
    expect((await list('status=bogus')).status).toBe(422);
    expect((await list('cursor=nonsense')).status).toBe(422);

    const one = await harness.request('GET', `/api/v1/projects/alpha/commands/${ids[1]}`, { jar: w.viewer });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: ids[1], action: 'cancel_task', target_id: 'celery:task-1', issued_by: w.operatorId });
    expect(one.body.source_ip).toBeUndefined();
    for (const id of [randomUUID(), 'retry-task', 'not-a-uuid']) {
      const missing = await harness.request('GET', `/api/v1/projects/alpha/commands/${id}`, { jar: w.viewer });
      expect([missing.status, missing.body.message]).toEqual([404, 'command not found']);
    }
    // Another project's command is not found from here.
    const betaUser = await harness.createUser({ memberships: { alpha: 'viewer', beta: 'viewer' } });
    const fromBeta = await harness.request('GET', `/api/v1/projects/beta/commands/${ids[1]}`, { jar: await harness.sessionJar(betaUser) });
    expect(fromBeta.status).toBe(404);
  });

  it.skipIf(skip)('API keys need the commands scope', async () => {
    const w = await world(test().database.db);
    const user = await w.harness.createUser({ memberships: { alpha: 'operator' } });
    const readOnly = await w.harness.createApiKey(user, ['commands:read']);
    const writer = await w.harness.createApiKey(user, ['commands:write']);
    const body = { agent_id: w.agentId, worker_name: 'w' };
    const path = '/api/v1/projects/alpha/commands/restart-worker';
    expect((await w.harness.request('POST', path, { body, headers: { authorization: `Bearer ${readOnly}` } })).status).toBe(403);
    const issued = await w.harness.request('POST', path, { body, headers: { authorization: `Bearer ${writer}` } });
    expect(issued.status).toBe(202);
    expect(issued.body.issued_by).toBe(user.id);
    const listed = await w.harness.request('GET', '/api/v1/projects/alpha/commands', { headers: { authorization: `Bearer ${readOnly}` } });
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([issued.body.id]);
  });
});
