import { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import {
  createAgent,
  type Agent,
  type AgentLogger,
  type CommandAction,
  type CommandTarget,
  type EngineAdapter,
  type EventSink,
  type WorkerDetail,
} from '@z4j/agent';
import type { JsonObject } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import type { MintedAgent } from '@z4j/enrolment';
import { mintAdminApiKey, settledQueueDepth, startTestBrain, type TestBrain } from './test-brain.js';

const postgres = await probePostgres();

/** The engine is ours to fake; everything between it and the database is real. */
class FakeEngine implements EngineAdapter {
  readonly engine = 'fake';
  readonly capabilities = new Set<CommandAction>(['retry_task', 'cancel_task']);
  readonly executions: { action: CommandAction; target: CommandTarget; parameters: JsonObject }[] = [];
  sink: EventSink | undefined;
  stopped = false;

  start(sink: EventSink): void {
    this.sink = sink;
  }
  async queueDepths(): Promise<Record<string, number>> {
    return { 'fake-default': 7 };
  }
  async workerDetails(): Promise<WorkerDetail[]> {
    return [{ name: 'fake@ts-agent-host', pid: 4242, concurrency: 3, queues: ['fake-default'], active: [{ id: 'job-1' }] }];
  }
  async execute(action: CommandAction, target: CommandTarget, parameters: JsonObject): Promise<JsonObject> {
    this.executions.push({ action, target, parameters });
    return { retried: parameters.task_id ?? null };
  }
  stop(): void {
    this.stopped = true;
  }
}

/** Captures the agent's log lines so a test can wait for one. */
function captureLogger(): AgentLogger & { readonly lines: { event: string; fields: Record<string, unknown> }[] } {
  const lines: { event: string; fields: Record<string, unknown> }[] = [];
  const push = (fields: Record<string, unknown>, event: string) => void lines.push({ event, fields });
  return { lines, debug: push, info: push, warn: push, error: push };
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

function text(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}

/**
 * A transparent WebSocket relay between the agent and the brain: bytes pass through unchanged (the frames stay
 * signed end to end), so the brain is still the real one. It watches the agent's event_batch frames and the
 * brain's event_batch_acks to measure, per connection, how many batches were unacked at once, can hold acks back
 * to put the agent under pressure, and lets a test point it at a restarted brain.
 */
class ObservingRelay {
  readonly server: WebSocketServer;
  upstreamUrl: string;
  ackDelayMs = 0;
  maxUnacked = 0;
  eventBatchFrames = 0;
  /** event_batch frames whose id was already sent on the same connection (a resend storm shows up here). */
  repeatedFrames = 0;
  readonly eventsPerBatch: number[] = [];
  readonly #sockets = new Set<WebSocket>();

  private constructor(server: WebSocketServer, upstreamUrl: string) {
    this.server = server;
    this.upstreamUrl = upstreamUrl;
    server.on('connection', (agentSide, request) => this.#relay(agentSide, request.headers.authorization ?? ''));
  }

  static async start(upstreamUrl: string): Promise<ObservingRelay> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    return new ObservingRelay(server, upstreamUrl);
  }

  get brainUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  #relay(agentSide: WebSocket, authorization: string): void {
    const brainSide = new WebSocket(this.upstreamUrl, { headers: { authorization }, perMessageDeflate: false });
    this.#sockets.add(agentSide).add(brainSide);
    const unacked = new Set<string>();
    const sent = new Set<string>();
    const early: [RawData, boolean][] = [];
    agentSide.on('message', (data, isBinary) => {
      const frame = JSON.parse(text(data)) as { type?: string; id?: string; payload?: { events?: unknown[] } };
      if (frame.type === 'event_batch' && typeof frame.id === 'string') {
        this.eventBatchFrames += 1;
        this.eventsPerBatch.push(frame.payload?.events?.length ?? 0);
        if (sent.has(frame.id)) this.repeatedFrames += 1;
        sent.add(frame.id);
        unacked.add(frame.id);
        this.maxUnacked = Math.max(this.maxUnacked, unacked.size);
      }
      if (brainSide.readyState === WebSocket.OPEN) brainSide.send(data, { binary: isBinary });
      else early.push([data, isBinary]);
    });
    brainSide.on('open', () => {
      for (const [data, isBinary] of early.splice(0)) brainSide.send(data, { binary: isBinary });
    });
    brainSide.on('message', (data, isBinary) => {
      const frame = JSON.parse(text(data)) as { type?: string; payload?: { acked_id?: string } };
      const forward = () => {
        if (frame.type === 'event_batch_ack' && frame.payload?.acked_id) unacked.delete(frame.payload.acked_id);
        if (agentSide.readyState === WebSocket.OPEN) agentSide.send(data, { binary: isBinary });
      };
      if (frame.type === 'event_batch_ack' && this.ackDelayMs > 0) setTimeout(forward, this.ackDelayMs);
      else forward();
    });
    const closeCode = (code: number) => (code === 1005 || code === 1006 || code < 1000 ? 1011 : code);
    brainSide.on('close', (code, reason) => agentSide.close(closeCode(code), reason));
    agentSide.on('close', (code, reason) => brainSide.close(closeCode(code), reason));
    brainSide.on('error', () => agentSide.close(1011, 'brain unreachable'));
    agentSide.on('error', () => brainSide.terminate());
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.terminate();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe.skipIf(!postgres.available)('the TypeScript agent (@z4j/agent) against a real brain', () => {
  const brainEnv = { Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS: '1', Z4J_ENVIRONMENT: 'dev' };
  const services = ['gateway', 'ingest', 'api', 'workers'] as const;
  let brain: TestBrain;
  let relay: ObservingRelay;
  let minted: MintedAgent;
  let apiToken: string;
  const agents: Agent[] = [];

  beforeAll(async () => {
    brain = await startTestBrain({ services, env: brainEnv });
    apiToken = await mintAdminApiKey(brain, 'ts-agent');
    minted = await brain.mint('ts-agent');
    relay = await ObservingRelay.start(brain.agentUrl);
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.stop({ graceMs: 500 })));
    await relay?.close();
    await brain?.stop();
  });

  function startAgent(engine: FakeEngine, extra: Parameters<typeof createAgent>[0] = {}) {
    const logger = captureLogger();
    const agent = createAgent({
      brainUrl: relay.brainUrl,
      token: minted.token,
      hmacSecret: minted.hmac_secret,
      agentName: 'ts-agent-host',
      adapters: [engine],
      logger,
      redactionExtraKeyPatterns: ['tenant_secret_.*'],
      ...extra,
    });
    agents.push(agent);
    return { agent, logger };
  }

  const issue = (endpoint: string, body: JsonObject) =>
    fetch(`${brain.brain.url}/api/v1/projects/default/commands/${endpoint}?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: minted.agent_id, ...body }),
    });

  it('delivers task events into events and tasks (redacted agent-side), and its heartbeats keep the agent online with depths and workers', async () => {
    const engine = new FakeEngine();
    const { agent } = startAgent(engine);
    await agent.start();
    const sink = engine.sink!;
    const base = Date.now() - 10_000;
    for (let index = 0; index < 40; index += 1) {
      const taskId = `ts-${index}`;
      const common = { task_name: 'app.send_mail', queue: 'fake-default', worker: 'fake@ts-agent-host' };
      sink.emit('task.received', {
        taskId,
        occurredAt: new Date(base + index * 10),
        data: { ...common, args: [index], kwargs: { tenant_secret_token: 'abc', to: 'someone' } },
      });
      sink.emit('task.started', { taskId, occurredAt: new Date(base + index * 10 + 1), data: common });
      if (index % 4 === 0) {
        sink.emit('task.failed', { taskId, occurredAt: new Date(base + index * 10 + 2), data: { ...common, exception: 'SmtpError' } });
      } else {
        sink.emit('task.succeeded', {
          taskId,
          occurredAt: new Date(base + index * 10 + 2),
          data: { ...common, result: 'ok', runtime_ms: 5 },
        });
      }
    }
    expect(await eventually(() => agent.stats().bufferDepth === 0 && agent.stats().batchesAcked > 0)).toBe(true);
    // 120 events, batched: far fewer frames than events.
    expect(agent.stats().batchesSent).toBeLessThan(20);

    const db = brain.brain.database.db;
    const events = await db
      .selectFrom('events')
      .select(({ fn }) => fn.count<string>('id').distinct().as('n'))
      .where('project_id', '=', minted.project_id)
      .where('engine', '=', 'fake')
      .where('task_id', 'like', 'ts-%')
      .executeTakeFirstOrThrow();
    expect(Number(events.n)).toBe(120);
    const tasks = await db
      .selectFrom('tasks')
      .select(['task_id', 'state', 'name', 'kwargs', 'exception'])
      .where('project_id', '=', minted.project_id)
      .where('engine', '=', 'fake')
      .where('task_id', 'like', 'ts-%')
      .execute();
    expect(tasks).toHaveLength(40);
    const byId = new Map(tasks.map((task) => [task.task_id, task]));
    expect(byId.get('ts-0')).toMatchObject({ state: 'failure', name: 'app.send_mail', exception: 'SmtpError' });
    expect(byId.get('ts-1')).toMatchObject({ state: 'success' });
    // The brain does not know the user pattern: only the agent can have redacted this key.
    expect(byId.get('ts-1')!.kwargs).toEqual({ tenant_secret_token: '[REDACTED]', to: 'someone' });

    const agentRow = await db
      .selectFrom('agents')
      .select(['state', 'last_seen_at', 'framework_adapter', 'engine_adapters'])
      .where('id', '=', minted.agent_id)
      .executeTakeFirstOrThrow();
    expect(agentRow).toMatchObject({ state: 'online', framework_adapter: 'bare', engine_adapters: ['fake'] });
    expect(agentRow.last_seen_at).not.toBeNull();
    const worker = await db
      .selectFrom('agent_workers')
      .select(['worker_id', 'state', 'pid'])
      .where('agent_id', '=', minted.agent_id)
      .where('state', '=', 'online')
      .executeTakeFirstOrThrow();
    expect(worker.worker_id).toMatch(new RegExp(`^bare-${process.pid}-\\d+$`));
    expect(worker.pid).toBe(process.pid);
    // The first heartbeat goes out right after hello_ack: queue depths and the engine's workers land.
    expect(await settledQueueDepth(db, minted.project_id, 'fake-default')).toBe(7);
    const engineWorker = await db
      .selectFrom('workers')
      .select(['name', 'state', 'pid', 'concurrency', 'active_tasks', 'queues'])
      .where('project_id', '=', minted.project_id)
      .where('name', '=', 'fake@ts-agent-host')
      .executeTakeFirst();
    expect(engineWorker).toMatchObject({ state: 'online', pid: 4242, concurrency: 3, active_tasks: 1, queues: ['fake-default'] });
    const status = await db
      .selectFrom('agent_status_history')
      .select(({ fn }) => fn.countAll<string>().as('n'))
      .where('agent_id', '=', minted.agent_id)
      .executeTakeFirstOrThrow();
    expect(Number(status.n)).toBeGreaterThan(0);

    await agent.stop();
    expect(engine.stopped).toBe(true);
    expect(agent.state).toBe('stopped');
  });

  it('runs a command issued through the API, reports it completed, refuses unadvertised actions, and never runs a re-delivered id twice', async () => {
    const engine = new FakeEngine();
    const { agent, logger } = startAgent(engine);
    await agent.start();
    expect(await eventually(() => agent.stats().connected)).toBe(true);
    engine.sink!.emit('task.failed', { taskId: 'cmd-1', data: { task_name: 'app.flaky', queue: 'fake-default', exception: 'Boom' } });
    expect(await eventually(() => agent.stats().bufferDepth === 0)).toBe(true);

    const reply = await issue('retry-task', { engine: 'fake', task_id: 'cmd-1' });
    const command = (await reply.json()) as { id: string; status: string; result: JsonObject; error: string | null };
    expect(reply.status, JSON.stringify(command)).toBe(200);
    expect(command).toMatchObject({ status: 'completed', result: { retried: 'cmd-1' } });
    expect(engine.executions).toHaveLength(1);
    expect(engine.executions[0]).toMatchObject({
      action: 'retry_task',
      target: { engine: 'fake' },
      parameters: { task_id: 'cmd-1', task_name: 'app.flaky' },
    });

    const refused = await issue('purge-queue', { queue: 'fake-default', force: true });
    const refusedBody = (await refused.json()) as { status: string; error: string };
    expect(refusedBody).toMatchObject({ status: 'failed', error: "adapter 'fake' does not support action 'purge_queue'" });
    expect(engine.executions).toHaveLength(1);

    // Hand the completed command back to the brain as pending: its reconcile loop (1 s) delivers the same id again.
    const db = brain.brain.database.db;
    await db
      .updateTable('commands')
      .set({ status: 'pending', dispatched_at: null, completed_at: null })
      .where('id', '=', command.id)
      .execute();
    const redelivered = await eventually(() =>
      logger.lines.some((line) => line.event === 'agent:command:duplicate' && line.fields.command === command.id),
    );
    expect(redelivered).toBe(true);
    const row = await db.selectFrom('commands').select('status').where('id', '=', command.id).executeTakeFirstOrThrow();
    expect(row.status).toBe('dispatched');
    expect(engine.executions).toHaveLength(1);
    await agent.stop();
  });

  it('keeps at most maxInFlightBatches unacked batches on the wire while acks are slow, and never re-sends in a loop', async () => {
    const engine = new FakeEngine();
    const { agent } = startAgent(engine, { bufferSize: 10_000, maxInFlightBatches: 2, maxBatchEvents: 100 });
    relay.maxUnacked = 0;
    relay.eventBatchFrames = 0;
    relay.repeatedFrames = 0;
    relay.ackDelayMs = 150;
    try {
      await agent.start();
      expect(await eventually(() => agent.stats().connected)).toBe(true);
      const now = Date.now();
      for (let index = 0; index < 2_000; index += 1) {
        engine.sink!.emit('task.received', { taskId: `flow-${index}`, occurredAt: new Date(now - 5_000), data: { task_name: 'app.flow' } });
      }
      expect(await eventually(() => agent.stats().bufferDepth === 0, 30_000)).toBe(true);
    } finally {
      relay.ackDelayMs = 0;
    }
    // The limit was reached (the test exercised it) and never exceeded.
    expect(relay.maxUnacked).toBe(2);
    expect(relay.repeatedFrames).toBe(0);
    expect(relay.eventBatchFrames).toBe(20);
    expect(agent.stats()).toMatchObject({ droppedEvents: 0, batchesSent: 20, batchesAcked: 20 });
    const stored = await brain.brain.database.db
      .selectFrom('events')
      .select(({ fn }) => fn.countAll<string>().as('n'))
      .where('project_id', '=', minted.project_id)
      .where('task_id', 'like', 'flow-%')
      .executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(2_000);
    await agent.stop();
  });

  it('treats a refused token and a wrong signing secret as auth failures (long backoff), without ever going active on a bad token', async () => {
    const badToken = startAgent(new FakeEngine(), { token: 'not-a-real-token' });
    await badToken.agent.start();
    expect(await eventually(() => badToken.agent.stats().failureStreaks.auth === 1)).toBe(true);
    expect(badToken.agent.stats().sessions).toBe(0);
    expect(badToken.logger.lines.find((line) => line.event === 'agent:session:rejected')?.fields).toMatchObject({
      code: 4401,
      kind: 'auth',
    });

    // Right token, wrong project secret: hello_ack arrives, then the brain refuses the first signed frame with 4403.
    const wrongSecret = startAgent(new FakeEngine(), { hmacSecret: Buffer.alloc(32, 9).toString('base64url') });
    await wrongSecret.agent.start();
    expect(await eventually(() => wrongSecret.agent.stats().failureStreaks.auth === 1)).toBe(true);
    expect(wrongSecret.agent.stats().sessions).toBe(1);
    expect(wrongSecret.logger.lines.find((line) => line.event === 'agent:session:rejected')?.fields).toMatchObject({
      code: 4403,
      kind: 'auth',
    });
    const delays = [badToken, wrongSecret].map(
      ({ logger }) => logger.lines.find((line) => line.event === 'agent:session:rejected')!.fields.delayMs,
    );
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(10_000);
    await Promise.all([badToken.agent.stop({ graceMs: 0 }), wrongSecret.agent.stop({ graceMs: 0 })]);
  });

  it('loses no event when the brain stops and restarts mid-stream', async () => {
    const engine = new FakeEngine();
    const { agent } = startAgent(engine, { bufferSize: 20_000, maxInFlightBatches: 2 });
    relay.maxUnacked = 0;
    await agent.start();
    expect(await eventually(() => agent.stats().connected)).toBe(true);
    let emitted = 0;
    const emitSome = () => {
      for (let n = 0; n < 10; n += 1) {
        engine.sink!.emit('task.received', { taskId: `rs-${emitted}`, data: { task_name: 'app.restart' } });
        emitted += 1;
      }
    };
    const producer = setInterval(emitSome, 5);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { resume } = await brain.suspend();
      expect(await eventually(() => !agent.stats().connected)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(agent.stats().bufferDepth).toBeGreaterThan(0);
      brain = await resume();
      relay.upstreamUrl = brain.agentUrl;
      expect(await eventually(() => agent.stats().connected, 20_000)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      clearInterval(producer);
    }
    expect(await eventually(() => agent.stats().bufferDepth === 0, 20_000)).toBe(true);
    expect(agent.stats().droppedEvents).toBe(0);
    expect(agent.stats().sessions).toBeGreaterThanOrEqual(2);
    const stored = await brain.brain.database.db
      .selectFrom('events')
      .select(({ fn }) => fn.count<string>('task_id').distinct().as('n'))
      .where('project_id', '=', minted.project_id)
      .where('task_id', 'like', 'rs-%')
      .executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(emitted);
    expect(relay.maxUnacked).toBeLessThanOrEqual(2);
    await agent.stop();
  });
});
