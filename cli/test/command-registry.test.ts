import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '@z4j/protocol';
import { FakeAgent, probePostgres, type FakeAgentOptions } from '@z4j/testing';
import { startTestBrain, type TestBrain } from './test-brain.js';

const postgres = await probePostgres();

/**
 * Reads until `isDone` holds or `withinMs` passed, and returns the last value read (the caller asserts on it):
 * for effects of timers in another replica (sweeps, reconcile passes, watchdog), which take seconds, not ticks.
 */
async function eventually<T>(read: () => Promise<T>, isDone: (value: T) => boolean, withinMs = 10_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  let value = await read();
  while (!isDone(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

/**
 * Commands across gateway replicas (§10.1–10.2, §3, §9): replicas that share
 * one database, each with its own LISTEN connection, an "API" that is a plain
 * Postgres connection doing exactly what the REST endpoints do (insert the
 * pending row, then NOTIFY `z4j_commands` after commit), and agents that
 * speak real signed frames and dedupe command ids like the Python agent.
 */
describe.skipIf(!postgres.available)('command delivery across gateway replicas', () => {
  /** Fast watchdog; a reconcile interval far beyond the test, so only the paths under test can deliver. */
  const REGISTRY_ENV = {
    Z4J_REGISTRY_LISTENER_HEARTBEAT_SECONDS: '1',
    Z4J_REGISTRY_LISTENER_HEARTBEAT_TIMEOUT_SECONDS: '2',
    Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS: '600',
  };
  /** Replica A also runs the workers (command timeouts every second); the agents connect to B. */
  let a: TestBrain;
  let b: TestBrain;
  let api: pg.Client;
  let updatesClient: pg.Client;
  const updates: string[] = [];

  beforeAll(async () => {
    a = await startTestBrain({
      services: ['gateway', 'ingest', 'workers'],
      env: { ...REGISTRY_ENV, Z4J_COMMAND_TIMEOUT_SWEEP_SECONDS: '1' },
    });
    b = await startTestBrain({ services: ['gateway', 'ingest'], env: REGISTRY_ENV, databaseUrl: a.databaseUrl });
    api = new pg.Client({ connectionString: a.databaseUrl, application_name: 'z4j-test-api' });
    await api.connect();
    // What an API `?wait=true` caller hears.
    updatesClient = new pg.Client({ connectionString: a.databaseUrl });
    await updatesClient.connect();
    updatesClient.on('notification', (message) => updates.push(message.payload ?? ''));
    await updatesClient.query('LISTEN z4j_command_updates');
  });
  afterAll(async () => {
    await api?.end();
    await updatesClient?.end();
    await b?.stop();
    await a?.stop();
  });

  async function connectAgent(brain: TestBrain, extra: Partial<FakeAgentOptions> = {}) {
    const minted = await brain.mint(`agent-${randomBytes(4).toString('hex')}`);
    const agent = await FakeAgent.handshake({ url: brain.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret, ...extra });
    // The session logs "active" once its connect-time drain is done: rows inserted after that are not drained on connect.
    const active = await eventually(
      async () => brain.logs.some((line) => line.includes('"gateway:session:active"') && line.includes(minted.agent_id)),
      Boolean,
    );
    expect(active).toBe(true);
    return { minted, agent };
  }

  /** The REST endpoint's write: the pending row, committed; then (unless told not to) the NOTIFY. */
  async function issue(
    minted: { agent_id: string; project_id: string },
    options: { notify?: boolean; timeoutMs?: number; payload?: JsonObject; action?: string } = {},
  ): Promise<string> {
    const payload = options.payload ?? { engine: 'celery', task_id: 't-1', task_name: 'app.tasks.add', args: [1, 2], kwargs: {} };
    const inserted = await api.query<{ id: string }>(
      `insert into commands (project_id, agent_id, action, target_type, target_id, payload, issued_at, timeout_at)
       values ($1, $2, $3, 'task', 'celery:t-1', $4, now(), now() + make_interval(secs => $5::float8 / 1000))
       returning id`,
      [minted.project_id, minted.agent_id, options.action ?? 'retry_task', JSON.stringify(payload), options.timeoutMs ?? 60_000],
    );
    const id = inserted.rows[0]!.id;
    if (options.notify ?? true)
      await api.query('select pg_notify($1, $2)', ['z4j_commands', JSON.stringify({ c: id, a: minted.agent_id })]);
    return id;
  }

  async function commandRow(id: string) {
    const result = await api.query<{
      status: string;
      result: unknown;
      error: string | null;
      dispatched_at: Date | null;
      completed_at: Date | null;
    }>('select status, result, error, dispatched_at, completed_at from commands where id = $1', [id]);
    return result.rows[0]!;
  }

  /** Sums a series on a replica's /metrics (metrics are public in the test brain), over series matching `labels`. */
  async function metric(brain: TestBrain, name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`${brain.brain.url}/metrics`)).text();
    let total = 0;
    for (const line of text.split('\n')) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match?.[1] !== name) continue;
      if (Object.entries(labels).every(([key, value]) => (match[2] ?? '').includes(`${key}="${value}"`))) total += Number(match[3]);
    }
    return total;
  }

  async function listenerPids(brain: TestBrain): Promise<number[]> {
    const rows = await api.query<{ pid: number }>('select pid from pg_stat_activity where application_name = $1', [
      brain.brain.notifier.listenerApplicationName,
    ]);
    return rows.rows.map((row) => row.pid);
  }

  /** Kills the replica's LISTEN connection from the server side, as a failover or an idle-connection killer would. */
  async function terminateListener(brain: TestBrain): Promise<number> {
    const [pid] = await listenerPids(brain);
    expect(pid).toBeGreaterThan(0);
    await api.query('select pg_terminate_backend($1)', [pid]);
    return pid!;
  }

  const isCommand = (id: string) => (frame: JsonObject) => frame.type === 'command' && frame.id === id;

  it('delivers a command issued beside replica A to the agent on replica B, and records its result', async () => {
    expect(a.brain.notifier.listenerApplicationName).not.toBe(b.brain.notifier.listenerApplicationName);
    const { minted, agent } = await connectAgent(b, {
      onCommand: (command) => ({ status: 'success', result: { task_id: 'new-1', ran: command.action } }),
    });
    try {
      const id = await issue(minted);
      const frame = await agent.waitFor(isCommand(id));
      // §1.8: target {type, id} (+ engine, ours), parameters = the row's payload, the brain's timeout, issued_by.
      expect(frame.payload).toEqual({
        action: 'retry_task',
        target: { type: 'task', id: 'celery:t-1', engine: 'celery' },
        parameters: { engine: 'celery', task_id: 't-1', task_name: 'app.tasks.add', args: [1, 2], kwargs: {} },
        timeout_seconds: 60,
        issued_by: null,
      });
      const row = await eventually(
        () => commandRow(id),
        (current) => current.status === 'completed',
      );
      expect(row).toMatchObject({ status: 'completed', result: { task_id: 'new-1', ran: 'retry_task' }, error: null });
      expect(row.dispatched_at).not.toBeNull();
      expect(row.completed_at).not.toBeNull();
      // One update per status change: dispatched (the claim), then completed (the result).
      const announced = await eventually(
        async () => updates.filter((payload) => payload === id).length,
        (count) => count >= 2,
      );
      expect(announced).toBe(2);
      expect(agent.executions.get(id)).toBe(1);
      expect(await metric(b, 'z4j_gateway_commands_pushed_total')).toBeGreaterThanOrEqual(1);
      // Delivered by the NOTIFY, not by a reconcile pass; replica A never held the agent.
      expect(await metric(b, 'z4j_gateway_commands_recovered_total')).toBe(0);
      expect(await metric(a, 'z4j_gateway_commands_pushed_total')).toBe(0);
    } finally {
      await agent.close();
    }
  });

  it('ignores malformed z4j_commands payloads with a warning and keeps delivering', async () => {
    const { minted, agent } = await connectAgent(b, { onCommand: () => ({ status: 'success', result: {} }) });
    try {
      const before = await metric(b, 'z4j_gateway_command_notifications_malformed_total');
      for (const payload of ['not json', '{"c":"x","a":"y"}', JSON.stringify({ c: minted.agent_id })]) {
        await api.query('select pg_notify($1, $2)', ['z4j_commands', payload]);
      }
      const malformed = await eventually(
        () => metric(b, 'z4j_gateway_command_notifications_malformed_total'),
        (count) => count >= before + 3,
      );
      expect(malformed).toBe(before + 3);
      expect(b.logs.some((line) => line.includes('gateway:commands:malformed_notification'))).toBe(true);
      const id = await issue(minted);
      await agent.waitFor(isCommand(id));
    } finally {
      await agent.close();
    }
  });

  it('rebuilds a killed LISTEN connection, catches up at once on what it missed (commands and revocations), and keeps delivering', async () => {
    const { minted, agent } = await connectAgent(b, { onCommand: () => ({ status: 'success', result: { ok: true } }) });
    const revoked = await connectAgent(b);
    try {
      const rebuildsBefore = await metric(b, 'z4j_registry_listener_rebuilds_total');
      const recoveredBefore = await metric(b, 'z4j_gateway_commands_recovered_total');
      // What the outage swallows: a command whose NOTIFY never arrived, and a revocation whose NOTIFY never arrived.
      const missed = await issue(minted, { notify: false });
      await api.query('update agents set revoked_at = now() where id = $1', [revoked.minted.agent_id]);

      const killed = await terminateListener(b);
      const rebuilds = await eventually(
        () => metric(b, 'z4j_registry_listener_rebuilds_total', { reason: 'connection_lost' }),
        (count) => count > rebuildsBefore,
      );
      expect(rebuilds).toBe(rebuildsBefore + 1);
      const pids = await listenerPids(b);
      expect(pids).toHaveLength(1);
      expect(pids[0]).not.toBe(killed);
      expect(await metric(a, 'z4j_registry_listener_rebuilds_total')).toBe(0);

      // The pass right after the rebuild (the regular one is 10 minutes away) delivers the missed command ...
      await agent.waitFor(isCommand(missed));
      expect(await metric(b, 'z4j_gateway_commands_recovered_total')).toBe(recoveredBefore + 1);
      // ... and closes the agent revoked meanwhile.
      expect((await revoked.agent.closed).code).toBe(4401);

      // New NOTIFYs reach the rebuilt LISTEN connection.
      const after = await issue(minted);
      await agent.waitFor(isCommand(after));
      const row = await eventually(
        () => commandRow(after),
        (current) => current.status === 'completed',
      );
      expect(row.status).toBe('completed');
    } finally {
      await agent.close();
      await revoked.agent.close();
    }
  });

  it('delivers a command whose NOTIFY was dropped through the reconcile loop, within its interval', async () => {
    const c = await startTestBrain({
      services: ['gateway', 'ingest'],
      env: { ...REGISTRY_ENV, Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS: '1' },
      databaseUrl: a.databaseUrl,
    });
    try {
      const { minted, agent } = await connectAgent(c, { onCommand: () => ({ status: 'success', result: { late: false } }) });
      const issuedAt = Date.now();
      const id = await issue(minted, { notify: false });
      await agent.waitFor(isCommand(id));
      expect(Date.now() - issuedAt).toBeLessThan(2_500);
      const row = await eventually(
        () => commandRow(id),
        (current) => current.status === 'completed',
      );
      expect(row).toMatchObject({ status: 'completed', result: { late: false } });
      expect(await metric(c, 'z4j_gateway_commands_recovered_total')).toBe(1);
      await agent.close();
    } finally {
      await c.stop({ keepDatabase: true });
    }
  });

  it('times out a command to an offline agent (workers sweep) and announces it', async () => {
    const minted = await b.mint(`offline-${randomBytes(4).toString('hex')}`);
    const id = await issue(minted, { timeoutMs: 1_000 });
    const row = await eventually(
      () => commandRow(id),
      (current) => current.status === 'timeout',
    );
    expect(row).toMatchObject({ status: 'timeout', error: 'timed out', dispatched_at: null });
    expect(row.completed_at).not.toBeNull();
    expect(await eventually(async () => updates.includes(id), Boolean)).toBe(true);
  });

  it('pushes a re-delivered command id again; the agent only re-acks it and does not run it twice', async () => {
    const { minted, agent } = await connectAgent(b, { onCommand: () => ({ status: 'success', result: { n: 1 } }) });
    try {
      const id = await issue(minted);
      await eventually(
        () => commandRow(id),
        (current) => current.status === 'completed',
      );
      // Back to pending (a replica that claimed it and died before the push would leave the same), announced again.
      await api.query("update commands set status = 'pending', result = null, completed_at = null, dispatched_at = null where id = $1", [
        id,
      ]);
      await api.query('select pg_notify($1, $2)', ['z4j_commands', JSON.stringify({ c: id, a: minted.agent_id })]);
      await eventually(async () => agent.reacked.includes(id), Boolean);
      expect(agent.reacked).toEqual([id]);
      expect(agent.executions.get(id)).toBe(1);
      expect(agent.inbound.filter(isCommand(id))).toHaveLength(2);
      // A round trip through the session proves the brain handled the second ack: nothing ran, so no new result.
      await agent.waitForAck(agent.eventBatch([]));
      expect((await commandRow(id)).status).toBe('dispatched');
    } finally {
      await agent.close();
    }
  });

  it('ignores a result that arrives after the timeout, and counts it', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { minted, agent } = await connectAgent(b, {
      onCommand: async () => {
        await released;
        return { status: 'success', result: { too: 'late' } };
      },
    });
    try {
      const lateBefore = await metric(b, 'z4j_command_late_results_total', { status: 'success' });
      const id = await issue(minted, { timeoutMs: 1_500 });
      await agent.waitFor(isCommand(id));
      await eventually(
        () => commandRow(id),
        (current) => current.status === 'timeout',
      );
      release();
      const late = await eventually(
        () => metric(b, 'z4j_command_late_results_total', { status: 'success' }),
        (count) => count > lateBefore,
      );
      expect(late).toBe(lateBefore + 1);
      expect(await commandRow(id)).toMatchObject({ status: 'timeout', error: 'timed out', result: null });
    } finally {
      await agent.close();
    }
  });

  it('with Z4J_REGISTRY_BACKEND=local delivers through the in-process notifier', async () => {
    const local = await startTestBrain({
      services: ['gateway', 'ingest'],
      env: { ...REGISTRY_ENV, Z4J_REGISTRY_BACKEND: 'local' },
      databaseUrl: a.databaseUrl,
    });
    try {
      expect(local.brain.notifier.backend).toBe('local');
      expect(local.brain.notifier.listenerApplicationName).toBeUndefined();
      const { minted, agent } = await connectAgent(local, { onCommand: () => ({ status: 'success', result: { local: true } }) });
      const id = await issue(minted, { notify: false });
      // What the API service does in the same process: publish on the process's notifier.
      await local.brain.notifier.publish('z4j_commands', JSON.stringify({ c: id, a: minted.agent_id }));
      await agent.waitFor(isCommand(id));
      const row = await eventually(
        () => commandRow(id),
        (current) => current.status === 'completed',
      );
      expect(row).toMatchObject({ status: 'completed', result: { local: true } });
      await agent.close();
    } finally {
      await local.stop({ keepDatabase: true });
    }
  });
});
