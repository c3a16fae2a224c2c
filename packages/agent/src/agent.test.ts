import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  canonicalBytes,
  encodeHmacSecret,
  FrameSigner,
  FrameVerifier,
  HelloFrameSchema,
  isoTimestamp,
  parseFrame,
  type JsonObject,
  type VerifiedFrame,
} from '@z4j/protocol';
import { createAgent, type Agent } from './agent.js';
import type { AgentLogger } from './agent-logger.js';
import type { CommandAction, EngineAdapter } from './engine-adapter.js';
import type { EventSink } from './event-sink.js';

const SECRET = Buffer.alloc(32, 3);
const silent: AgentLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * A brain stand-in for protocol details the real brain does not let a test vary (its heartbeat interval, withheld
 * acks, a foreign protocol version). It speaks real protocol 2: it verifies every signed frame with its own
 * FrameVerifier and signs what it sends. The end-to-end suite (cli/test/ts-agent.test.ts) runs against the real brain.
 */
class ProtocolBrain {
  readonly frames: VerifiedFrame[] = [];
  readonly hellos: JsonObject[] = [];
  heartbeatSeconds = 10;
  protocolVersion = '2';
  ackBatches = true;
  #sessions: { ws: WebSocket; signer: FrameSigner }[] = [];

  private constructor(readonly server: WebSocketServer) {
    server.on('connection', (ws) => {
      let verifier: FrameVerifier | undefined;
      let signer: FrameSigner | undefined;
      ws.on('message', (data: RawData) => {
        const frame = parseFrame(data as Buffer);
        if (!verifier) {
          this.hellos.push(frame);
          const binding = { agentId: randomUUID(), projectId: randomUUID(), sessionId: randomUUID() };
          verifier = new FrameVerifier({ secret: SECRET, binding });
          signer = new FrameSigner({ secret: SECRET, binding });
          this.#sessions.push({ ws, signer });
          const payload = {
            protocol_version: this.protocolVersion,
            brain_version: '0.1.0',
            agent_id: binding.agentId,
            project_id: binding.projectId,
            session_id: binding.sessionId,
            heartbeat_interval_seconds: this.heartbeatSeconds,
            max_frame_size_bytes: 1_048_576,
          };
          ws.send(canonicalBytes({ v: 2, type: 'hello_ack', id: 'hack_0123456789ab', ts: isoTimestamp(new Date()), payload }));
          return;
        }
        const verified = verifier.verify(frame);
        this.frames.push(verified);
        if (verified.type === 'event_batch' && this.ackBatches) this.ack(verified.id);
      });
    });
  }

  static async start(): Promise<ProtocolBrain> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    return new ProtocolBrain(server);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  ack(frameId: string): void {
    const session = this.#sessions.at(-1)!;
    const events = (this.frames.find((frame) => frame.id === frameId)?.payload?.events ?? []) as unknown[];
    const payload = { acked_id: frameId, received: events.length, accepted: events.length, rejected: 0 };
    session.ws.send(session.signer.signEncoded({ type: 'event_batch_ack', id: `eba_${frameId}`, payload }));
  }

  dropConnections(): void {
    for (const { ws } of this.#sessions) ws.terminate();
  }

  of(type: string): VerifiedFrame[] {
    return this.frames.filter((frame) => frame.type === type);
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function fakeEngine(): EngineAdapter & { sink?: EventSink } {
  const engine: EngineAdapter & { sink?: EventSink } = {
    engine: 'fake',
    capabilities: new Set<CommandAction>(['retry_task', 'cancel_task']),
    start: (sink) => void (engine.sink = sink),
    stop: () => undefined,
    queueDepths: async () => ({ q: 2 }),
    workerDetails: async () => [],
    execute: async () => ({}),
  };
  return engine;
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return condition();
}

describe('agent protocol behaviour', () => {
  let brain: ProtocolBrain | undefined;
  let agent: Agent | undefined;
  afterEach(async () => {
    await agent?.stop({ graceMs: 0 });
    await brain?.close();
  });

  async function connect(extra: Parameters<typeof createAgent>[0] = {}) {
    brain = await ProtocolBrain.start();
    const engine = fakeEngine();
    agent = createAgent({
      brainUrl: brain.url,
      token: 't',
      hmacSecret: encodeHmacSecret(SECRET),
      adapters: [engine],
      logger: silent,
      ...extra,
    });
    await agent.start();
    return { brain, agent, engine };
  }

  it('says hello with the worker-first fields the gateway validates', async () => {
    const { brain } = await connect({ agentName: 'web-1' });
    expect(await until(() => brain.hellos.length === 1)).toBe(true);
    const hello = v.parse(HelloFrameSchema, brain.hellos[0]);
    expect(hello.payload).toMatchObject({
      protocol_version: '2',
      framework: 'bare',
      engines: ['fake'],
      schedulers: [],
      capabilities: { fake: ['cancel_task', 'retry_task'] },
      host: { name: 'web-1' },
      worker_pid: process.pid,
      worker_role: null,
    });
    expect(hello.payload.worker_id).toMatch(new RegExp(`^bare-${process.pid}-\\d+$`));
    expect(hello.id).toMatch(/^hello_[0-9a-f]{16}$/);
  });

  it('adopts the heartbeat interval from hello_ack and sends agent_status with each heartbeat', async () => {
    brain = await ProtocolBrain.start();
    brain.heartbeatSeconds = 1;
    const engine = fakeEngine();
    agent = createAgent({
      brainUrl: brain.url,
      token: 't',
      hmacSecret: encodeHmacSecret(SECRET),
      adapters: [engine],
      logger: silent,
      heartbeatInterval: 60,
    });
    await agent.start();
    const server = brain;
    expect(await until(() => server.of('heartbeat').length >= 3)).toBe(true);
    const times = server.of('heartbeat').map((frame) => Date.parse(frame.ts));
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(900);
    expect(times[2]! - times[1]!).toBeLessThan(5_000);
    expect(server.of('heartbeat')[0]!.payload).toMatchObject({
      buffer_size: 0,
      dropped_events: 0,
      adapter_health: { 'fake.queue_depths': '{"q":2}' },
    });
    expect(server.of('agent_status').length).toBeGreaterThanOrEqual(3);
    expect(server.of('agent_status')[0]!.payload).toMatchObject({ protocol_version: '2', engines: ['fake'], buffer_depth: 0 });
  });

  it('re-sends an unacked batch once per ack timeout (same id, new seq), never in a loop, and stops once acked', async () => {
    brain = await ProtocolBrain.start();
    brain.ackBatches = false;
    const engine = fakeEngine();
    agent = createAgent({
      brainUrl: brain.url,
      token: 't',
      hmacSecret: encodeHmacSecret(SECRET),
      adapters: [engine],
      logger: silent,
      ackTimeoutMs: 300,
    });
    await agent.start();
    const server = brain;
    expect(await until(() => agent!.stats().connected)).toBe(true);
    engine.sink!.emit('task.started', { taskId: 'a', data: { task_name: 'x' } });
    expect(await until(() => server.of('event_batch').length === 3)).toBe(true);
    const [first, second, third] = server.of('event_batch');
    expect(new Set([first!.id, second!.id, third!.id]).size).toBe(1);
    expect(second!.seq).toBeGreaterThan(first!.seq);
    expect(Date.parse(third!.ts) - Date.parse(first!.ts)).toBeGreaterThanOrEqual(550);
    server.ack(first!.id);
    expect(await until(() => agent!.stats().bufferDepth === 0)).toBe(true);
    const sent = server.of('event_batch').length;
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(server.of('event_batch').length).toBe(sent);
  });

  it('sends unacked batches again on the next session with a fresh seq, then releases them on ack', async () => {
    const { brain, agent, engine } = await connect({ reconnectBackoffMax: 1 });
    brain.ackBatches = false;
    expect(await until(() => agent.stats().connected)).toBe(true);
    engine.sink!.emit('task.started', { taskId: 'a', data: {} });
    expect(await until(() => brain.of('event_batch').length === 1)).toBe(true);
    brain.ackBatches = true;
    brain.dropConnections();
    expect(await until(() => brain.hellos.length === 2 && brain.of('event_batch').length === 2)).toBe(true);
    const [before, after] = brain.of('event_batch');
    expect(after!.id).toBe(before!.id);
    expect(after!.seq).toBeLessThanOrEqual(before!.seq);
    expect(await until(() => agent.stats().bufferDepth === 0)).toBe(true);
    expect(agent.stats().sessions).toBe(2);
  });

  it('refuses a brain speaking another protocol version, as a protocol failure', async () => {
    brain = await ProtocolBrain.start();
    brain.protocolVersion = '3';
    const logged: Record<string, unknown>[] = [];
    agent = createAgent({
      brainUrl: brain.url,
      token: 't',
      hmacSecret: encodeHmacSecret(SECRET),
      logger: { ...silent, error: (fields) => logged.push(fields) },
    });
    await agent.start();
    expect(await until(() => agent!.stats().failureStreaks.protocol === 1)).toBe(true);
    expect(agent.stats().sessions).toBe(0);
    expect(logged.find((fields) => fields.kind === 'protocol')).toMatchObject({ code: 4426 });
  });

  it('keeps unacked events in the spill file on stop and sends them first after a restart', async () => {
    brain = await ProtocolBrain.start();
    brain.ackBatches = false;
    const spillPath = join(mkdtempSync(join(tmpdir(), 'z4j-agent-spill-')), 'spill.jsonl');
    const options = { brainUrl: brain.url, token: 't', hmacSecret: encodeHmacSecret(SECRET), logger: silent, spillPath };
    const first = fakeEngine();
    agent = createAgent({ ...options, adapters: [first] });
    await agent.start();
    const server = brain;
    expect(await until(() => agent!.stats().connected)).toBe(true);
    for (const taskId of ['s1', 's2', 's3']) first.sink!.emit('task.received', { taskId, data: { task_name: 'spilled', big: 2n ** 64n } });
    expect(await until(() => server.of('event_batch').length === 1)).toBe(true);
    await agent.stop({ graceMs: 100 });
    expect(readFileSync(spillPath, 'utf8').trim().split('\n')).toHaveLength(3);
    const sentBefore = server.of('event_batch')[0]!.payload!.events as JsonObject[];

    server.ackBatches = true;
    const second = fakeEngine();
    agent = createAgent({ ...options, adapters: [second] });
    await agent.start();
    expect(existsSync(spillPath)).toBe(false);
    expect(await until(() => agent!.stats().bufferDepth === 0)).toBe(true);
    const resent = server.of('event_batch').at(-1)!.payload!.events as JsonObject[];
    expect(resent.map((event) => event.id)).toEqual(sentBefore.map((event) => event.id));
    expect((resent[0]!.data as JsonObject).big).toBe(2n ** 64n);
    await agent.stop();
    expect(existsSync(spillPath)).toBe(false);
  });

  it('stops within its grace even when an adapter never finishes stopping', async () => {
    brain = await ProtocolBrain.start();
    const stuck = { ...fakeEngine(), stop: () => new Promise<void>(() => undefined) };
    agent = createAgent({ brainUrl: brain.url, token: 't', hmacSecret: encodeHmacSecret(SECRET), adapters: [stuck], logger: silent });
    await agent.start();
    const startedAt = Date.now();
    await agent.stop({ graceMs: 200 });
    expect(agent.state).toBe('stopped');
    expect(Date.now() - startedAt).toBeLessThan(2_000);
  });
});
