import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes, type JsonObject } from '@z4j/protocol';
import { FakeAgent, probePostgres, taskEvent } from '@z4j/testing';
import { settled, settledQueueDepth, startTestBrain, type TestBrain } from './test-brain.js';

const postgres = await probePostgres();

/**
 * The agent socket end to end, with an agent that speaks real signed protocol-2
 * frames: handshake, acks, and every close code of §1.7.
 */
describe.skipIf(!postgres.available)('agent gateway', () => {
  let test: TestBrain;
  beforeAll(async () => {
    test = await startTestBrain({ env: { Z4J_WS_MAX_FRAME_BYTES: '8192' } });
  });
  afterAll(async () => {
    await test?.stop();
  });

  async function agentOptions(name = `agent-${randomBytes(4).toString('hex')}`) {
    const minted = await test.mint(name);
    return { minted, options: { url: test.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret } };
  }

  it('completes the handshake with a hello_ack the Python agent accepts, and acks batches after commit', async () => {
    const { minted, options } = await agentOptions();
    const agent = await FakeAgent.handshake(options);
    const ack = agent.helloAck as JsonObject;
    const payload = ack.payload as JsonObject;
    expect(ack).toMatchObject({ v: 2, type: 'hello_ack' });
    expect(ack.id).toMatch(/^hack_[0-9a-f]{12}$/);
    expect(payload).toMatchObject({
      protocol_version: '2',
      agent_id: minted.agent_id,
      project_id: minted.project_id,
      heartbeat_interval_seconds: 10,
      max_frame_size_bytes: 8192,
    });
    expect(payload.session_id).toMatch(/^[0-9a-f-]{36}$/);

    agent.heartbeat({ 'celery.queue_depths': JSON.stringify({ default: 7, mail: 0 }) });
    const frameId = agent.eventBatch([taskEvent('task.received', 'task-1', new Date()), taskEvent('task.started', 'task-1', new Date())]);
    const batchAck = await agent.waitForAck(frameId);
    expect(batchAck.payload).toEqual({ acked_id: frameId, received: 2, accepted: 2, rejected: 0 });
    expect(batchAck.id).toBe(`eba_${frameId}`);

    const db = test.brain.database.db;
    const row = await db
      .selectFrom('agents')
      .select(['state', 'framework_adapter', 'engine_adapters', 'last_seen_at'])
      .where('id', '=', minted.agent_id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'online', framework_adapter: 'bare', engine_adapters: ['dummy'] });
    const task = await db.selectFrom('tasks').select(['state', 'name']).where('task_id', '=', 'task-1').executeTakeFirstOrThrow();
    expect(task).toEqual({ state: 'started', name: 'app.tasks.add' });
    // Heartbeats are handled in order with the session's other writes; poll the projection, bounded.
    const depth = await settledQueueDepth(db, minted.project_id, 'default');
    expect(depth).toBe(7);
    // …and the same heartbeat wrote this minute's depth sample of each queue (the history the queues page draws).
    const samples = await db
      .selectFrom('queue_depth_samples')
      .select(['queue', 'depth'])
      .where('project_id', '=', minted.project_id)
      .orderBy('queue')
      .execute();
    expect(samples).toEqual([
      { queue: 'default', depth: 7 },
      { queue: 'mail', depth: 0 },
    ]);

    await agent.close();
    const state = await settled(
      async () => (await db.selectFrom('agents').select('state').where('id', '=', minted.agent_id).executeTakeFirstOrThrow()).state,
      (value) => value === 'offline',
    );
    expect(state).toBe('offline');
  });

  it('closes 4401 for a bad or missing bearer token', async () => {
    const { options } = await agentOptions();
    const bad = await FakeAgent.connect({ ...options, token: 'not-a-real-token' });
    expect((await bad.closed).code).toBe(4401);
    const missing = await FakeAgent.connect(options, {});
    expect((await missing.closed).code).toBe(4401);
    // Audited, once per address per minute (the second failure from 127.0.0.1 is only logged).
    const db = test.brain.database.db;
    const audited = await settled(
      () =>
        db
          .selectFrom('audit_log')
          .select(['action', 'outcome', 'source_ip', 'metadata'])
          .where('action', '=', 'agent.auth.bearer_failed')
          .execute(),
      (rows) => rows.length > 0,
    );
    expect(audited).toEqual([
      { action: 'agent.auth.bearer_failed', outcome: 'deny', source_ip: '127.0.0.1', metadata: { reason: 'unknown_token' } },
    ]);
  });

  it('closes 4400 when the first frame is not a hello', async () => {
    const { options } = await agentOptions();
    const agent = await FakeAgent.connect(options);
    agent.sendRaw(canonicalBytes({ v: 2, type: 'heartbeat', id: 'hb_1', ts: null, payload: {} }));
    expect((await agent.closed).code).toBe(4400);
    const garbage = await FakeAgent.connect(options);
    garbage.sendRaw('not json');
    expect((await garbage.closed).code).toBe(4400);
  });

  it('closes 4426 for an unsupported protocol version', async () => {
    const { options } = await agentOptions();
    const agent = await FakeAgent.connect({ ...options, protocolVersion: '3' });
    agent.sendRaw(canonicalBytes(agent.helloFrame()));
    expect((await agent.closed).code).toBe(4426);
  });

  it('closes 4403 for a bad HMAC', async () => {
    const { options } = await agentOptions();
    const agent = await FakeAgent.handshake(options);
    const frame = JSON.parse(
      agent.sign('heartbeat', 'hb_x', { buffer_size: 0, last_flush_at: null, dropped_events: 0, adapter_health: {} }).toString(),
    ) as Record<string, unknown>;
    frame.hmac = '0'.repeat(64);
    agent.sendRaw(JSON.stringify(frame));
    expect((await agent.closed).code).toBe(4403);
  });

  it('closes 4403 for a replayed seq', async () => {
    const { options } = await agentOptions();
    const agent = await FakeAgent.handshake(options);
    const bytes = agent.sign('heartbeat', 'hb_1', { buffer_size: 0, last_flush_at: null, dropped_events: 0, adapter_health: {} });
    agent.sendRaw(bytes);
    agent.sendRaw(bytes);
    expect((await agent.closed).code).toBe(4403);
  });

  it('closes 4403 for a stale timestamp', async () => {
    const { options } = await agentOptions();
    const agent = await FakeAgent.handshake({ ...options, now: () => new Date(Date.now() - 120_000) });
    agent.heartbeat();
    expect((await agent.closed).code).toBe(4403);
  });

  it('closes 4403 for a reused nonce', async () => {
    const { options } = await agentOptions();
    const agent = await FakeAgent.handshake(options);
    const first = JSON.parse(
      agent.sign('heartbeat', 'hb_1', { buffer_size: 0, last_flush_at: null, dropped_events: 0, adapter_health: {} }).toString(),
    ) as JsonObject;
    agent.sendRaw(JSON.stringify(first));
    // A correctly signed frame with a higher seq but the first frame's nonce.
    const signer = agent.signer!;
    const second = signer.sign({
      type: 'heartbeat',
      id: 'hb_2',
      payload: { buffer_size: 0, last_flush_at: null, dropped_events: 0, adapter_health: {} },
    });
    const { hmac: _ignored, ...unsigned } = { ...second, nonce: first.nonce as string };
    const { computeFrameHmac, decodeHmacSecret } = await import('@z4j/protocol');
    const ack = agent.helloAck!.payload as JsonObject;
    const resigned = {
      ...unsigned,
      hmac: computeFrameHmac(decodeHmacSecret(options.hmacSecret), unsigned, {
        agentId: ack.agent_id as string,
        projectId: ack.project_id as string,
        sessionId: ack.session_id as string,
      }),
    };
    agent.sendRaw(canonicalBytes(resigned));
    expect((await agent.closed).code).toBe(4403);
  });

  it('closes 4400 for a frame over Z4J_WS_MAX_FRAME_BYTES', async () => {
    const { options } = await agentOptions();
    const agent = await FakeAgent.handshake(options);
    agent.eventBatch([taskEvent('task.received', 'big', new Date(), { args: ['x'.repeat(10_000)] })]);
    expect((await agent.closed).code).toBe(4400);
  });

  it('displaces the old socket of the same worker slot with 4002 and keeps the agent online', async () => {
    const { minted, options } = await agentOptions();
    const first = await FakeAgent.handshake({ ...options, workerId: 'bare-1-1' });
    const second = await FakeAgent.handshake({ ...options, workerId: 'bare-1-1' });
    expect((await first.closed).code).toBe(4002);
    second.heartbeat();
    const frameId = second.eventBatch([taskEvent('task.received', 'displace-1', new Date())]);
    await second.waitForAck(frameId);
    const row = await test.brain.database.db
      .selectFrom('agents')
      .select('state')
      .where('id', '=', minted.agent_id)
      .executeTakeFirstOrThrow();
    expect(row.state).toBe('online');
    await second.close();
  });

  it('allows 64 worker slots per agent and closes the 65th with 4429; a reconnect into a held slot still works', async () => {
    const { options } = await agentOptions();
    const agents = await Promise.all(
      Array.from({ length: 64 }, (_, index) => FakeAgent.handshake({ ...options, workerId: `bare-${index}-1` })),
    );
    const extra = await FakeAgent.connect({ ...options, workerId: 'bare-64-1' });
    extra.sendRaw(canonicalBytes(extra.helloFrame()));
    expect((await extra.closed).code).toBe(4429);
    const again = await FakeAgent.handshake({ ...options, workerId: 'bare-0-1' });
    expect((await agents[0]!.closed).code).toBe(4002);
    await Promise.all([again, ...agents.slice(1)].map((agent) => agent.close()));
  });

  it('marks the agent offline only when its last worker socket closes', async () => {
    const { minted, options } = await agentOptions();
    const a = await FakeAgent.handshake({ ...options, workerId: 'bare-a-1' });
    const b = await FakeAgent.handshake({ ...options, workerId: 'bare-b-1' });
    const db = test.brain.database.db;
    const stateOf = async () =>
      (await db.selectFrom('agents').select('state').where('id', '=', minted.agent_id).executeTakeFirstOrThrow()).state;
    await a.close();
    // b is still connected: a round trip through b proves a's close was handled first.
    await b.waitForAck(b.eventBatch([]));
    expect(await stateOf()).toBe('online');
    await b.close();
    expect(await settled(stateOf, (state) => state === 'offline')).toBe('offline');
  });

  it('drains pending commands on connect: claimed as dispatched, then pushed as signed command frames', async () => {
    const { minted, options } = await agentOptions();
    const db = test.brain.database.db;
    const now = Date.now();
    const inserted = await db
      .insertInto('commands')
      .values(
        [0, 1].map((offset) => ({
          project_id: minted.project_id,
          agent_id: minted.agent_id,
          action: 'retry_task',
          target_type: 'task',
          target_id: `celery:t-${offset}`,
          payload: JSON.stringify({ engine: 'celery', task_id: `t-${offset}` }),
          issued_at: new Date(now + offset),
          timeout_at: new Date(now + 60_000),
        })),
      )
      .returning('id')
      .execute();
    const agent = await FakeAgent.handshake(options);
    const pushed = await Promise.all(inserted.map((row) => agent.waitFor((frame) => frame.type === 'command' && frame.id === row.id)));
    expect(pushed[0]!.payload).toMatchObject({
      action: 'retry_task',
      target: { type: 'task', id: 'celery:t-0', engine: 'celery' },
      timeout_seconds: 60,
    });
    const statuses = await db.selectFrom('commands').select('status').where('agent_id', '=', minted.agent_id).execute();
    expect(statuses.map((row) => row.status)).toEqual(['dispatched', 'dispatched']);

    agent.send('command_ack', inserted[0]!.id, {});
    agent.send('command_result', inserted[0]!.id, { status: 'success', result: { task_id: 'new-1' }, error: null });
    agent.send('command_result', inserted[1]!.id, { status: 'failed', result: null, error: 'boom' });
    await agent.waitForAck(agent.eventBatch([]));
    const rows = await settled(
      () =>
        db
          .selectFrom('commands')
          .select(['id', 'status', 'result', 'error'])
          .where('agent_id', '=', minted.agent_id)
          .orderBy('issued_at')
          .execute(),
      (current) => !current.some((row) => row.status === 'dispatched'),
    );
    expect(rows.map((row) => [row.status, row.result, row.error])).toEqual([
      ['completed', { task_id: 'new-1' }, null],
      ['failed', null, 'boom'],
    ]);
    await agent.close();
  });

  it('closes a revoked agent with 4401 and refuses its token afterwards', async () => {
    const { minted, options } = await agentOptions();
    const agent = await FakeAgent.handshake(options);
    const { revokeAgent } = await import('@z4j/enrolment');
    const { createNotifier } = await import('@z4j/db');
    const notifier = createNotifier(test.brain.database);
    await revokeAgent(test.brain.database.db, notifier, minted.agent_id, new Date());
    await notifier.close();
    expect((await agent.closed).code).toBe(4401);
    const retry = await FakeAgent.connect(options);
    expect((await retry.closed).code).toBe(4401);
  });
});

describe.skipIf(!postgres.available)('agent gateway edges', () => {
  it('leaves the agent offline when the socket closes during the hello, and stores NUL-bearing results', async () => {
    const test = await startTestBrain({ services: ['gateway', 'ingest'] });
    try {
      const minted = await test.mint('edge-agent');
      const options = { url: test.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret };
      const db = test.brain.database.db;
      const early = await FakeAgent.connect(options);
      early.sendRaw(canonicalBytes(early.helloFrame()));
      early.socket.terminate();
      await early.closed;
      // A later connection proves the gateway handled the first one; then it leaves too.
      const agent = await FakeAgent.handshake(options);
      const now = Date.now();
      const command = await db
        .insertInto('commands')
        .values({
          project_id: minted.project_id,
          agent_id: minted.agent_id,
          action: 'retry_task',
          target_type: 'task',
          target_id: 'x',
          payload: '{}',
          issued_at: new Date(now),
          timeout_at: new Date(now + 60_000),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db.updateTable('commands').set({ status: 'dispatched' }).where('id', '=', command.id).execute();
      agent.send('command_result', command.id, { status: 'failed', result: { note: 'nul\u0000inside' }, error: 'bad\u0000byte' });
      await agent.waitForAck(agent.eventBatch([]));
      await agent.close();
      const rows = await settled(
        () => db.selectFrom('agents').select('state').where('id', '=', minted.agent_id).execute(),
        (current) => current[0]?.state === 'offline',
      );
      expect(rows[0]?.state).toBe('offline');
      const stored = await settled(
        () => db.selectFrom('commands').select(['status', 'error', 'result']).where('id', '=', command.id).executeTakeFirstOrThrow(),
        (current) => current.status !== 'dispatched',
      );
      expect(stored).toEqual({ status: 'failed', error: 'bad\ufffdbyte', result: { note: 'nul\ufffdinside' } });
    } finally {
      await test.stop();
    }
  });

  it('drains on shutdown: closes agents with 1000 and records them offline', async () => {
    const test = await startTestBrain({ services: ['gateway', 'ingest'] });
    let stopped = false;
    try {
      const minted = await test.mint('drain-agent');
      const agent = await FakeAgent.handshake({ url: test.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret });
      const frameId = agent.eventBatch([taskEvent('task.received', 'drain-1', new Date())]);
      await agent.waitForAck(frameId);
      const pool = (await import('pg')).default;
      const client = new pool.Client({ connectionString: test.databaseUrl });
      await client.connect();
      await test.stop({ keepDatabase: true });
      stopped = true;
      expect((await agent.closed).code).toBe(1000);
      const state = await client.query<{ state: string }>('select state from agents where id = $1', [minted.agent_id]);
      await client.end();
      expect(state.rows[0]?.state).toBe('offline');
    } finally {
      if (!stopped) await test.stop();
    }
  });

  it('refuses the 601st connect from one address within a minute with 4429 and survives garbage on the refused socket', async () => {
    const test = await startTestBrain({ services: ['gateway', 'ingest'] });
    try {
      const minted = await test.mint('busy-agent');
      const options = { url: test.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret };
      for (let batch = 0; batch < 6; batch += 1) {
        const sockets = await Promise.all(Array.from({ length: 100 }, () => FakeAgent.connect(options)));
        await Promise.all(sockets.map((socket) => socket.close()));
      }
      const refused = await FakeAgent.connect(options);
      // Frames sent into the closing socket (even a malformed one) must not take the brain down.
      refused.sendRaw('garbage');
      refused.socket.send(Buffer.alloc(2_000_000), { binary: true });
      expect((await refused.closed).code).toBe(4429);
      expect((await fetch(`${test.brain.url}/api/v1/health`)).status).toBe(200);
    } finally {
      await test.stop();
    }
  });
});

describe.skipIf(!postgres.available)('agent gateway idle timeout', () => {
  it('closes 4408 when an agent sends nothing for Z4J_WS_IDLE_TIMEOUT_SECONDS', async () => {
    const test = await startTestBrain({ services: ['gateway', 'ingest'], env: { Z4J_WS_IDLE_TIMEOUT_SECONDS: '1' } });
    try {
      const minted = await test.mint('idle-agent');
      const agent = await FakeAgent.handshake({ url: test.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret });
      expect((await agent.closed).code).toBe(4408);
    } finally {
      await test.stop();
    }
  });
});
