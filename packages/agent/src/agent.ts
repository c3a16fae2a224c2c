import { randomBytes } from 'node:crypto';
import {
  canonicalJson,
  isoTimestamp,
  parsePayload,
  PROTOCOL_VERSION,
  type HelloAckPayload,
  type HelloFrame,
  type JsonObject,
  type VerifiedFrame,
} from '@z4j/protocol';
import { createRedactor, type Redactor } from '@z4j/redaction';
import { collectAdapterHealth } from './adapter-health.js';
import { AgentConfigError } from './agent-config-error.js';
import { consoleLogger, type AgentLogger } from './agent-logger.js';
import { resolveAgentConfig, type AgentConfig, type AgentOptions, type AgentSettings, type WorkerRole } from './agent-options.js';
import { AGENT_VERSION } from './agent-version.js';
import { BrainSession, type SessionEnd } from './brain-session.js';
import { CommandDispatcher } from './command-dispatcher.js';
import type { EngineAdapter } from './engine-adapter.js';
import { EventBuffer } from './event-buffer.js';
import { createEventSink, type EventSink } from './event-sink.js';
import { backoffPolicies, ReconnectBackoff, type FailureKind } from './reconnect-backoff.js';
import { takeSpillFile, writeSpillFile } from './spill-file.js';

/**
 * What {@link createAgent} takes: the settings ({@link AgentOptions}, explicit, highest precedence), the engine
 * adapters, and optionally the lower layers and injected dependencies.
 *
 * @example
 * createAgent({ adapters: [adapter], env: agentOptionsFromEnv(process.env), agentName: 'billing-worker' })
 */
export interface CreateAgentOptions extends AgentOptions {
  /** Engine adapters (one per engine, unique `engine` names). Default: none (the agent then only heartbeats). */
  readonly adapters?: readonly EngineAdapter[];
  /** Settings read from the environment by {@link agentOptionsFromEnv}; explicit options win over them. */
  readonly env?: AgentOptions;
  /** File settings (snake_case or `Z4J_*` keys); the lowest layer. */
  readonly settings?: AgentSettings;
  /** Where the agent logs. Default: warnings and errors to the console. */
  readonly logger?: AgentLogger;
  /** Clock for frame and event timestamps. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** Jitter source for reconnect backoff, [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * How the agent is being run, for `hello`: the web framework (`express`, `fastify`, `hono`; default `bare`) and this
 * process's role (default: the `workerRole` setting).
 *
 * @example
 * await agent.start({ framework: 'express', workerRole: 'web' });
 */
export interface AgentStartOptions {
  readonly framework?: string;
  readonly workerRole?: WorkerRole | null;
}

/**
 * Lifecycle: `idle` → (`start`) → `running` → (`stop`) → `stopping` → `stopped`. A stopped agent cannot be started
 * again; create a new one.
 *
 * @example
 * if (agent.state === 'running') await agent.stop();
 */
export type AgentState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Counters for monitoring and tests.
 *
 * @example
 * const { connected, bufferDepth, droppedEvents } = agent.stats();
 */
export interface AgentStats {
  readonly state: AgentState;
  /** A session is active (hello_ack received, socket open). */
  readonly connected: boolean;
  /** Events held: not yet acked by the brain. */
  readonly bufferDepth: number;
  /** event_batch frames written and not yet acked. */
  readonly inFlightBatches: number;
  /** Events dropped (buffer full, or too large for a frame). */
  readonly droppedEvents: number;
  /** Events taken into the buffer. */
  readonly acceptedEvents: number;
  /** event_batch frames written, re-sends included. */
  readonly batchesSent: number;
  readonly batchesAcked: number;
  /** Sessions that reached hello_ack. */
  readonly sessions: number;
  /** Command frames waiting for a session (acks and results produced while disconnected). */
  readonly queuedCommandFrames: number;
  readonly failureStreaks: Readonly<Record<FailureKind, number>>;
}

/**
 * A running z4j agent. Created by {@link createAgent}.
 *
 * @example
 * const agent = createAgent({ ...options, adapters: [adapter] });
 * await agent.start();
 * // …
 * await agent.stop();
 */
export interface Agent {
  readonly state: AgentState;
  /**
   * Starts the adapters (rejects if one fails to start, after stopping the others) and connects to the brain in the
   * background: it resolves without waiting for the brain, and an unreachable brain is retried with backoff while
   * events are buffered.
   */
  start(options?: AgentStartOptions): Promise<void>;
  /**
   * Stops the adapters, gives running commands and buffered events up to `graceMs` (default 5000) to reach the brain,
   * then closes the connection. Never rejects.
   */
  stop(options?: { readonly graceMs?: number }): Promise<void>;
  stats(): AgentStats;
}

/** Room left in a frame for the envelope around the events (ids, nonce, hmac, …). */
const FRAME_OVERHEAD_BYTES = 4096;
/** Until a hello_ack says otherwise: the brain's default frame limit (1 MiB). */
const DEFAULT_MAX_FRAME_BYTES = 1_048_576;
/** Largest frame we accept from the brain. */
const MAX_INBOUND_BYTES = 8 * 1024 * 1024;
const HELLO_TIMEOUT_MS = 10_000;
/** A session that lived this long counts as healthy even if the brain never sent it a signed frame. */
const STABLE_SESSION_MS = 30_000;
/** Command acks/results kept while disconnected; the brain times commands out after 60 s anyway. */
const MAX_QUEUED_COMMAND_FRAMES = 1000;

let lastWorkerMs = 0;

/** `<framework>-<pid>-<unix ms>` like the Python agent, unique within this process even for agents started together. */
function makeWorkerId(framework: string, startedAt: Date): string {
  lastWorkerMs = Math.max(startedAt.getTime(), lastWorkerMs + 1);
  return `${framework}-${process.pid}-${lastWorkerMs}`.slice(0, 128);
}

const frameId = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

/**
 * Creates an agent. Settings are merged and validated now (explicit options > `env` > `settings`), so a bad
 * setting fails here with an {@link AgentConfigError} naming it; nothing connects until {@link Agent.start}.
 * The agent never reads the environment itself, installs no signal handlers and never exits the process.
 *
 * @throws {AgentConfigError} for a missing or invalid setting, bad redaction pattern, or invalid adapter list.
 * @example
 * const agent = createAgent({
 *   brainUrl: 'https://z4j.example.com', token: process.env.Z4J_TOKEN, hmacSecret: process.env.Z4J_HMAC_SECRET,
 *   adapters: [bullmqAdapter],
 * });
 * await agent.start();
 */
export function createAgent(options: CreateAgentOptions): Agent {
  const config = resolveAgentConfig({ options, env: options.env, settings: options.settings });
  const adapters = options.adapters ?? [];
  const engines = new Set<string>();
  const schedulers = new Set<string>();
  for (const adapter of adapters) {
    if (typeof adapter.engine !== 'string' || adapter.engine === '' || adapter.engine.length > 40) {
      throw new AgentConfigError('adapters', 'options', 'adapters: every adapter needs an engine name of 1 to 40 characters');
    }
    if (engines.has(adapter.engine))
      throw new AgentConfigError('adapters', 'options', `adapters: engine "${adapter.engine}" is registered twice`);
    if (!(adapter.capabilities instanceof Set)) {
      throw new AgentConfigError('adapters', 'options', `adapters: capabilities of "${adapter.engine}" must be a Set of actions`);
    }
    engines.add(adapter.engine);
    const scheduler = adapter.scheduler?.scheduler;
    if (scheduler !== undefined) {
      if (typeof scheduler !== 'string' || scheduler === '' || scheduler.length > 40 || schedulers.has(scheduler)) {
        throw new AgentConfigError(
          'adapters',
          'options',
          `adapters: scheduler names must be unique, 1 to 40 characters (engine "${adapter.engine}")`,
        );
      }
      schedulers.add(scheduler);
    }
  }
  let redactor: Redactor;
  try {
    redactor = createRedactor({
      extraKeyPatterns: config.redactionExtraKeyPatterns,
      extraValuePatterns: config.redactionExtraValuePatterns,
    });
  } catch (error) {
    const field = /extraKey/.test((error as Error).message) ? 'redactionExtraKeyPatterns' : 'redactionExtraValuePatterns';
    throw new AgentConfigError(field, 'options', `${field}: ${(error as Error).message}`, { cause: error });
  }
  return new AgentRuntime(
    config,
    adapters,
    redactor,
    options.logger ?? consoleLogger(),
    options.now ?? (() => new Date()),
    options.random ?? Math.random,
  );
}

/**
 * The agent's state machine (see {@link AgentState}) and, while running, its connection loop:
 *
 *   connecting → (hello_ack) active → (close/error) backoff → connecting …
 *
 * Events flow emit → redact → {@link EventBuffer} → `event_batch` frames, at most `maxInFlightBatches` unacked at a
 * time; each batch stays buffered until its `event_batch_ack`. A batch is written again only on a new session or
 * after `ackTimeoutMs` without an ack — never in a loop, so the socket is never flooded (the Python agent's resend
 * storm, reference §1.15). Heartbeats and agent_status go out every `heartbeat_interval_seconds` of the current
 * session's hello_ack.
 */
class AgentRuntime implements Agent {
  #state: AgentState = 'idle';
  readonly #buffer: EventBuffer;
  readonly #dispatcher: CommandDispatcher;
  readonly #backoff: ReconnectBackoff;
  #session: BrainSession | undefined;
  #sessionEnded: Promise<void> = Promise.resolve();
  #framework = 'bare';
  #workerRole: WorkerRole | null;
  #workerId = '';
  #startedAt: Date;
  #heartbeatMs: number;
  #maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  #activeAtMs: number | undefined;
  #lastConnectAt: Date | null = null;
  #lastFlushAt: Date | null = null;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #pumpTimer: NodeJS.Timeout | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #heartbeatRunning = false;
  readonly #commandOutbox: { type: 'command_ack' | 'command_result'; id: string; payload: JsonObject }[] = [];
  #flushWaiters: (() => void)[] = [];
  #stopping: Promise<void> | undefined;
  #accepted = 0;
  #batchesSent = 0;
  #batchesAcked = 0;
  #sessions = 0;

  constructor(
    private readonly config: AgentConfig,
    private readonly adapters: readonly EngineAdapter[],
    private readonly redactor: Redactor,
    private readonly log: AgentLogger,
    private readonly now: () => Date,
    random: () => number,
  ) {
    this.#buffer = new EventBuffer(config.bufferSize, config.bufferMaxBytes);
    this.#backoff = new ReconnectBackoff(backoffPolicies(config.reconnectBackoffMax), random);
    this.#workerRole = config.workerRole;
    this.#startedAt = now();
    this.#heartbeatMs = config.heartbeatInterval * 1000;
    this.#dispatcher = new CommandDispatcher({
      adapters,
      send: (type, id, payload) => this.#sendCommandFrame(type, id, payload),
      redact: (value) => redactor.redact(value).value as JsonObject,
      logger: log,
      now: () => now().getTime(),
    });
  }

  get state(): AgentState {
    return this.#state;
  }

  stats(): AgentStats {
    return {
      state: this.#state,
      connected: this.#session?.active ?? false,
      bufferDepth: this.#buffer.depth,
      inFlightBatches: this.#buffer.inFlight,
      droppedEvents: this.#buffer.dropped,
      acceptedEvents: this.#accepted,
      batchesSent: this.#batchesSent,
      batchesAcked: this.#batchesAcked,
      sessions: this.#sessions,
      queuedCommandFrames: this.#commandOutbox.length,
      failureStreaks: this.#backoff.streaks,
    };
  }

  async start(options: AgentStartOptions = {}): Promise<void> {
    if (this.#state !== 'idle') throw new Error(`the agent is ${this.#state}; an agent starts once (create a new one to start again)`);
    this.#state = 'running';
    this.#framework = options.framework ?? 'bare';
    if (options.workerRole !== undefined) this.#workerRole = options.workerRole;
    this.#startedAt = this.now();
    this.#workerId = makeWorkerId(this.#framework, this.#startedAt);
    await this.#restoreSpill();
    const started: EngineAdapter[] = [];
    try {
      for (const adapter of this.adapters) {
        await adapter.start(this.#sinkFor(adapter));
        started.push(adapter);
      }
    } catch (error) {
      this.log.error({ err: error }, 'agent:adapter:start_failed');
      this.#state = 'stopped';
      await this.#stopAdapters(started);
      // Restored (or just emitted) events go back to the spill file for the next attempt.
      await this.#spill();
      throw error;
    }
    this.log.info({ worker: this.#workerId, engines: this.adapters.map((a) => a.engine), url: this.config.socketUrl }, 'agent:started');
    this.#connect();
  }

  stop(options: { readonly graceMs?: number } = {}): Promise<void> {
    if (this.#state === 'idle' || this.#state === 'stopped') {
      this.#state = 'stopped';
      return Promise.resolve();
    }
    this.#stopping ??= this.#stop(options.graceMs ?? 5_000).catch((error: unknown) => {
      this.log.error({ err: error }, 'agent:stop_failed');
    });
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#state = 'stopping';
    const deadline = Date.now() + graceMs;
    // Adapters first: they may report last events (worker.offline) that should still go out. An adapter that never
    // finishes stopping must not hold the host's shutdown beyond the grace.
    let adapterTimer: NodeJS.Timeout | undefined;
    await Promise.race([this.#stopAdapters(this.adapters), new Promise((resolve) => (adapterTimer = setTimeout(resolve, graceMs)))]);
    clearTimeout(adapterTimer);
    await this.#dispatcher.abortAll(Math.max(0, deadline - Date.now()));
    this.#schedulePump(0);
    await this.#waitForFlush(deadline);
    const lost = await this.#spill();
    this.#state = 'stopped';
    for (const timer of [this.#reconnectTimer, this.#heartbeatTimer, this.#pumpTimer, this.#ackTimer]) clearTimeout(timer);
    const session = this.#session;
    if (session) {
      session.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#sessionEnded, new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
      clearTimeout(timer);
    }
    this.#resolveFlushWaiters();
    if (lost > 0) this.log.warn({ events: lost }, 'agent:stopped_with_unacked_events');
    this.log.info({ dropped: this.#buffer.dropped }, 'agent:stopped');
  }

  /** Events a previous agent left in the spill file go first (they are older than anything emitted now). */
  async #restoreSpill(): Promise<void> {
    const path = this.config.spillPath;
    if (path === undefined) return;
    try {
      const { events, unreadable } = await takeSpillFile(path);
      for (const event of events) {
        this.#buffer.push({ event, bytes: Buffer.byteLength(canonicalJson(event), 'utf8'), enqueuedAt: Date.now() });
      }
      if (events.length > 0 || unreadable > 0) this.log.info({ path, events: events.length, unreadable }, 'agent:spill:restored');
      this.#buffer.countDropped(unreadable);
    } catch (error) {
      this.log.warn({ err: error, path }, 'agent:spill:read_failed');
    }
  }

  /** Keeps what the brain has not acked in the spill file, if there is one; returns how many events are lost. */
  async #spill(): Promise<number> {
    const path = this.config.spillPath;
    const held = this.#buffer.depth;
    if (path === undefined) return held;
    try {
      await writeSpillFile(path, this.#buffer.heldEvents());
      if (held > 0) this.log.info({ path, events: held }, 'agent:spill:written');
      return 0;
    } catch (error) {
      this.log.warn({ err: error, path }, 'agent:spill:write_failed');
      return held;
    }
  }

  async #stopAdapters(adapters: readonly EngineAdapter[]): Promise<void> {
    for (const adapter of adapters) {
      try {
        await adapter.stop();
      } catch (error) {
        this.log.warn({ err: error, engine: adapter.engine }, 'agent:adapter:stop_failed');
      }
    }
  }

  #sinkFor(adapter: EngineAdapter): EventSink {
    return createEventSink(adapter.engine, {
      now: this.now,
      accept: (event) => this.#accept(event),
      onRefused: (reason, kind) => this.log.warn({ engine: adapter.engine, kind, reason }, 'agent:event:refused'),
    });
  }

  #accept(event: JsonObject): boolean {
    if (this.#state !== 'running' && this.#state !== 'stopping') return false;
    const redacted = this.redactor.redact(event).value as JsonObject;
    const bytes = Buffer.byteLength(canonicalJson(redacted), 'utf8');
    if (bytes + 1 > this.#maxFrameBytes - FRAME_OVERHEAD_BYTES) {
      this.#buffer.countDropped(1);
      this.log.warn({ kind: event.kind, bytes }, 'agent:event:too_large');
      return false;
    }
    this.#buffer.push({ event: redacted, bytes, enqueuedAt: Date.now() });
    this.#accepted += 1;
    this.#schedulePump(this.config.batchLingerMs);
    return true;
  }

  // ── connection loop ────────────────────────────────────────────────────────

  #connect(): void {
    this.#reconnectTimer = undefined;
    if (this.#state !== 'running' && this.#state !== 'stopping') return;
    try {
      this.#openSession();
    } catch (error) {
      // Runs from a timer: nothing may escape into the host. Treated as a protocol failure (retrying fast cannot help).
      this.#session = undefined;
      const delayMs = this.#backoff.failed('protocol');
      this.log.error({ err: error, delayMs }, 'agent:session:open_failed');
      this.#reconnectTimer = setTimeout(() => this.#connect(), delayMs);
      this.#reconnectTimer.unref();
    }
  }

  #openSession(): void {
    let ended!: () => void;
    this.#sessionEnded = new Promise((resolve) => (ended = resolve));
    this.#session = new BrainSession({
      url: this.config.socketUrl,
      token: this.config.token,
      secret: this.config.secret,
      hello: this.#helloFrame(),
      now: this.now,
      logger: this.log,
      helloTimeoutMs: HELLO_TIMEOUT_MS,
      maxInboundBytes: MAX_INBOUND_BYTES,
      onActive: (ack) => this.#onActive(ack),
      onFrame: (frame) => this.#onFrame(frame),
      onEnd: (end) => {
        this.#onEnd(end);
        ended();
      },
    });
  }

  #helloFrame(): HelloFrame {
    const capabilities: Record<string, string[]> = {};
    for (const adapter of this.adapters) capabilities[adapter.engine] = [...adapter.capabilities].sort();
    return {
      v: 2,
      type: 'hello',
      id: `hello_${randomBytes(8).toString('hex')}`,
      ts: isoTimestamp(this.now()),
      payload: {
        protocol_version: PROTOCOL_VERSION,
        agent_version: AGENT_VERSION,
        framework: this.#framework,
        engines: this.adapters.map((adapter) => adapter.engine),
        schedulers: this.#schedulers(),
        capabilities,
        host: { name: this.config.agentName },
        worker_id: this.#workerId,
        worker_role: this.#workerRole,
        worker_pid: process.pid,
        worker_started_at: isoTimestamp(this.#startedAt),
      },
    };
  }

  #onActive(ack: HelloAckPayload): void {
    this.#sessions += 1;
    this.#activeAtMs = Date.now();
    this.#lastConnectAt = this.now();
    this.#heartbeatMs = ack.heartbeat_interval_seconds * 1000;
    this.#maxFrameBytes = ack.max_frame_size_bytes;
    this.log.info(
      { session: ack.session_id, agent: ack.agent_id, heartbeatSeconds: ack.heartbeat_interval_seconds },
      'agent:session:active',
    );
    const queued = this.#commandOutbox.splice(0);
    for (const frame of queued) this.#sendCommandFrame(frame.type, frame.id, frame.payload);
    this.#buffer.unsendAll();
    this.#pump();
    void this.#heartbeat();
  }

  #onFrame(frame: VerifiedFrame): void {
    try {
      switch (frame.type) {
        case 'event_batch_ack':
          this.#onBatchAck(parsePayload('event_batch_ack', frame.payload).acked_id);
          return;
        case 'command':
          this.#dispatcher.handle(frame.id, frame.payload);
          return;
        case 'error':
          this.log.warn({ payload: frame.payload }, 'agent:frame:brain_error');
          return;
        default:
          this.log.debug({ frameType: frame.type }, 'agent:frame:ignored');
      }
    } catch (error) {
      this.log.warn({ err: error, frameType: frame.type }, 'agent:frame:invalid_payload');
    }
  }

  #onEnd(end: SessionEnd): void {
    this.#session = undefined;
    clearTimeout(this.#heartbeatTimer);
    clearTimeout(this.#ackTimer);
    this.#buffer.unsendAll();
    if (this.#state === 'stopped') return;
    const lived = this.#activeAtMs !== undefined && end.wasActive ? Date.now() - this.#activeAtMs : 0;
    if (end.wasActive && (end.verifiedInbound || lived >= STABLE_SESSION_MS)) this.#backoff.succeeded();
    const kind = end.failure ?? 'connection';
    const delayMs = this.#backoff.failed(kind);
    const fields = { code: end.code, reason: end.reason, kind, delayMs, wasActive: end.wasActive };
    if (kind === 'connection') this.log.info(fields, 'agent:session:closed');
    else this.log.error(fields, 'agent:session:rejected');
    this.#reconnectTimer = setTimeout(() => this.#connect(), delayMs);
    this.#reconnectTimer.unref();
  }

  // ── events ─────────────────────────────────────────────────────────────────

  #schedulePump(delayMs: number): void {
    if (this.#pumpTimer !== undefined) return;
    this.#pumpTimer = setTimeout(() => {
      this.#pumpTimer = undefined;
      this.#pump();
    }, delayMs);
    this.#pumpTimer.unref();
  }

  /** Writes batches while fewer than `maxInFlightBatches` are unacked. */
  #pump(): void {
    const session = this.#session;
    if (session?.active) {
      while (this.#buffer.inFlight < this.config.maxInFlightBatches) {
        const batch = this.#buffer.nextBatch({
          maxEvents: this.config.maxBatchEvents,
          maxBytes: this.#maxFrameBytes - FRAME_OVERHEAD_BYTES,
          newId: () => frameId('ev'),
        });
        if (!batch) break;
        if (!session.send('event_batch', batch.id, { events: batch.events })) break;
        this.#buffer.markSent(batch.id, Date.now());
        this.#batchesSent += 1;
      }
      this.#armAckTimer();
    }
    this.#resolveFlushWaitersIfIdle();
  }

  #onBatchAck(ackedId: string): void {
    if (!this.#buffer.ack(ackedId)) return;
    this.#batchesAcked += 1;
    this.#lastFlushAt = this.now();
    this.#pump();
  }

  #armAckTimer(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const earliest = this.#buffer.earliestSentAt;
    if (earliest === undefined) return;
    this.#ackTimer = setTimeout(
      () => {
        const overdue = this.#buffer.requeueOverdue(Date.now(), this.config.ackTimeoutMs);
        if (overdue > 0) this.log.warn({ batches: overdue, timeoutMs: this.config.ackTimeoutMs }, 'agent:batch:ack_timeout');
        this.#pump();
      },
      Math.max(0, earliest + this.config.ackTimeoutMs - Date.now()),
    );
    this.#ackTimer.unref();
  }

  #waitForFlush(deadlineMs: number): Promise<void> {
    if (this.#isFlushed()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()));
      this.#flushWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #isFlushed(): boolean {
    return this.#buffer.depth === 0 && this.#commandOutbox.length === 0 && this.#dispatcher.running === 0;
  }

  #resolveFlushWaitersIfIdle(): void {
    if (this.#flushWaiters.length > 0 && this.#isFlushed()) this.#resolveFlushWaiters();
  }

  #resolveFlushWaiters(): void {
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // ── commands, heartbeats ───────────────────────────────────────────────────

  #sendCommandFrame(type: 'command_ack' | 'command_result', id: string, payload: JsonObject): void {
    if (this.#session?.send(type, id, payload)) {
      this.#resolveFlushWaitersIfIdle();
      return;
    }
    // Disconnected: keep it for the next session (the brain accepts results from any session of this agent).
    this.#commandOutbox.push({ type, id, payload });
    if (this.#commandOutbox.length > MAX_QUEUED_COMMAND_FRAMES) {
      const dropped = this.#commandOutbox.shift()!;
      this.log.warn({ command: dropped.id, type: dropped.type }, 'agent:command:frame_dropped');
    }
  }

  /** One heartbeat (+ agent_status), then the next one is scheduled; ticks never overlap. */
  async #heartbeat(): Promise<void> {
    clearTimeout(this.#heartbeatTimer);
    const session = this.#session;
    if (!session?.active || this.#heartbeatRunning) return;
    this.#heartbeatRunning = true;
    try {
      session.checkLiveness(Math.max(3 * this.#heartbeatMs, 30_000));
      const health = await collectAdapterHealth(this.adapters, (engine, what, error) =>
        this.log.warn({ err: error, engine, what }, 'agent:health:failed'),
      );
      if (session !== this.#session || !session.active) return;
      session.send('heartbeat', frameId('hb'), {
        buffer_size: this.#buffer.depth,
        last_flush_at: this.#lastFlushAt ? isoTimestamp(this.#lastFlushAt) : null,
        dropped_events: this.#buffer.dropped,
        adapter_health: health,
      });
      if (this.config.agentStatus) session.send('agent_status', frameId('as'), this.#agentStatus());
    } catch (error) {
      this.log.warn({ err: error }, 'agent:heartbeat:failed');
    } finally {
      this.#heartbeatRunning = false;
      if (session === this.#session && session.active) {
        this.#heartbeatTimer = setTimeout(() => void this.#heartbeat(), this.#heartbeatMs);
        this.#heartbeatTimer.unref();
      }
    }
  }

  /** Scheduler names for hello/agent_status: the brain sends a schedule's commands only to agents advertising it. */
  #schedulers(): string[] {
    return this.adapters.flatMap((adapter) => (adapter.scheduler ? [adapter.scheduler.scheduler] : []));
  }

  #agentStatus(): JsonObject {
    const streaks = this.#backoff.streaks;
    const oldest = this.#buffer.oldestEnqueuedAt;
    return {
      auth_failure_streak: streaks.auth,
      protocol_failure_streak: streaks.protocol,
      connection_failure_streak: streaks.connection,
      last_successful_connect_at: this.#lastConnectAt ? isoTimestamp(this.#lastConnectAt) : null,
      current_session_age_seconds: this.#activeAtMs === undefined ? null : (Date.now() - this.#activeAtMs) / 1000,
      buffer_depth: this.#buffer.depth,
      buffer_oldest_age_seconds: oldest === undefined ? null : (Date.now() - oldest) / 1000,
      agent_version: AGENT_VERSION,
      protocol_version: PROTOCOL_VERSION,
      engines: this.adapters.map((adapter) => adapter.engine),
      schedulers: this.#schedulers(),
      dropped_events: this.#buffer.dropped,
    };
  }
}
