import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, mintApiKey } from '@z4j/identity';
import type { JsonObject } from '@z4j/protocol';
import { FakeAgent, probePostgres, type FakeAgentCommand } from '@z4j/testing';
import { TEST_SECRET, startTestBrain, type TestBrain } from './test-brain.js';

const postgres = await probePostgres();

/**
 * Commands end to end through the REST API across two replicas: issued with
 * `?wait=true` on replica A, delivered to an agent connected to replica B
 * (NOTIFY z4j_commands → claim → push), answered with ack + result, and the
 * waiting call returns the final row. An agent that never answers times out
 * (workers sweep) and the waiting call gets 504 `command_timeout`.
 */
describe.skipIf(!postgres.available)('commands through the REST API across replicas', () => {
  let a: TestBrain;
  let b: TestBrain;
  let token: string;
  const received: FakeAgentCommand[] = [];
  let agent: FakeAgent;
  let agentId: string;

  beforeAll(async () => {
    a = await startTestBrain({
      services: ['gateway', 'ingest', 'api', 'workers'],
      env: { Z4J_COMMAND_TIMEOUT_SECONDS: '2', Z4J_COMMAND_TIMEOUT_SWEEP_SECONDS: '1', Z4J_ENVIRONMENT: 'dev' },
    });
    b = await startTestBrain({ services: ['gateway', 'ingest'], databaseUrl: a.databaseUrl, env: { Z4J_ENVIRONMENT: 'dev' } });
    await Promise.all([a.brain.ready, b.brain.ready]);
    const db = a.brain.database.db;
    const user = await db
      .insertInto('users')
      .values({ email: 'ops@example.com', password_hash: 'x', is_admin: true })
      .returning('id')
      .executeTakeFirstOrThrow();
    const key = mintApiKey();
    token = key.token;
    await db
      .insertInto('api_keys')
      .values({ user_id: user.id, name: 'e2e', token_hash: hashApiKey(TEST_SECRET, key.token), prefix: key.prefix, scopes: ['admin:*'] })
      .execute();
    const minted = await a.mint('e2e-agent');
    agentId = minted.agent_id;
    agent = await FakeAgent.handshake({
      url: b.agentUrl,
      token: minted.token,
      hmacSecret: minted.hmac_secret,
      engines: ['celery'],
      onCommand: (command) => {
        received.push(command);
        // The "slow" task never finishes: its command must time out.
        return command.parameters.task_id === 'never'
          ? new Promise(() => undefined)
          : { status: 'success', result: { done: command.action } };
      },
    });
    await db
      .insertInto('tasks')
      .values({
        project_id: minted.project_id,
        engine: 'celery',
        task_id: 't-1',
        name: 'app.tasks.add',
        args: JSON.stringify([1, 2]),
        kwargs: JSON.stringify({}),
      })
      .execute();
  });
  afterAll(async () => {
    await agent?.close();
    await b?.stop({ keepDatabase: true });
    await a?.stop();
  });

  const issue = (endpoint: string, body: JsonObject, wait = true) =>
    fetch(`${a.brain.url}/api/v1/projects/default/commands/${endpoint}${wait ? '?wait=true' : ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: agentId, ...body }),
    });

  it('delivers every action with its documented target and parameters and returns the final state', async () => {
    const cases: [string, JsonObject, string, JsonObject][] = [
      [
        'retry-task',
        { engine: 'celery', task_id: 't-1' },
        'retry_task',
        { engine: 'celery', task_id: 't-1', task_name: 'app.tasks.add', args: [1, 2] },
      ],
      ['cancel-task', { engine: 'celery', task_id: 't-1' }, 'cancel_task', { engine: 'celery', task_id: 't-1' }],
      ['bulk-retry', { filter: { state: 'failure' }, max: 10 }, 'bulk_retry', { max: 10 }],
      ['purge-queue', { queue: 'default', force: true }, 'purge_queue', { queue: 'default', force: true }],
      ['restart-worker', { worker_name: 'celery@w1' }, 'restart_worker', { worker_name: 'celery@w1' }],
      ['pool-resize', { worker_name: 'celery@w1', delta: -2 }, 'pool_shrink', { worker_name: 'celery@w1', delta: 2 }],
      ['add-consumer', { worker_name: 'celery@w1', queue: 'q2' }, 'add_consumer', { worker_name: 'celery@w1', queue: 'q2' }],
      ['cancel-consumer', { worker_name: 'celery@w1', queue: 'q2' }, 'cancel_consumer', { worker_name: 'celery@w1', queue: 'q2' }],
      ['rate-limit', { task_name: 'app.tasks.add', rate: '10/m' }, 'rate_limit', { task_name: 'app.tasks.add', rate: '10/m' }],
    ];
    for (const [endpoint, body, action, parameters] of cases) {
      const reply = await issue(endpoint, body);
      const final = (await reply.json()) as { id: string; status: string; result: JsonObject; action: string };
      expect(reply.status, `${endpoint}: ${JSON.stringify(final)}`).toBe(200);
      expect(final).toMatchObject({ action, status: 'completed', result: { done: action } });
      const command = received.find((candidate) => candidate.id === final.id);
      expect(command, endpoint).toBeDefined();
      expect(command!.action).toBe(action);
      expect(command!.parameters).toMatchObject(parameters);
      expect(command!.target).toMatchObject({ engine: 'celery' });
    }
    expect(agent.executions.size).toBe(cases.length);
  });

  it('answers 504 command_timeout to a waiting call whose agent never answers', async () => {
    const reply = await issue('cancel-task', { engine: 'celery', task_id: 'never' });
    expect(reply.status).toBe(504);
    const body = (await reply.json()) as { error: string; details: { command: { status: string } } };
    expect(body.error).toBe('command_timeout');
  });
});
