import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import * as v from 'valibot';
import type { IngestBatchResult, IngestSink } from '@z4j/ingest-contract';
import { MAX_EVENTS_PER_BATCH } from '@z4j/ingest-contract';
import type { Logger } from '@z4j/logger';
import {
  CloseCode,
  canonicalBytes,
  FrameSigner,
  FrameVerifier,
  HelloFrameSchema,
  PROTOCOL_VERSION,
  deriveProjectSecret,
  describeIssues,
  isoTimestamp,
  parseFrame,
  parseFrameWithEventTexts,
  parseIsoWithTimezone,
  type JsonObject,
  type JsonValue,
  type SignedFrameType,
} from '@z4j/protocol';
import { readAdapterHealth } from './adapter-health.js';
import type { AgentConnectionRegistry } from './agent-registry.js';
import { BoundedLru } from './bounded-lru.js';
import type { AgentIdentity, GatewayStore, HelloFacts, PendingCommand } from './gateway-store.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/** What every session of one gateway shares. */
export interface SessionDeps {
  readonly store: GatewayStore;
  readonly registry: AgentConnectionRegistry<AgentSession>;
  readonly ingest: () => IngestSink;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly now: () => Date;
  readonly masterSecret: string;
  readonly brainVersion: string;
  readonly idleTimeoutMs: number;
  readonly maxFrameBytes: number;
  /** Frames accepted but not finished before the socket is paused (`Z4J_WS_INGEST_QUEUE_MAXSIZE`). */
  readonly queueMax: number;
  readonly heartbeatIntervalSeconds: number;
  readonly commandTimeoutSeconds: number;
  /** Reports a refused bearer token (the gateway audits it, throttled per address). */
  readonly onBearerFailure: (ip: string, reason: 'unknown_token' | 'missing_bearer') => void;
  /** An agent of this project connected or disconnected (open dashboards refetch). */
  readonly onAgentChanged: (projectId: string) => void;
  /** Announces status changes this session committed (NOTIFY `z4j_command_updates`); never throws. */
  readonly commandsChanged: (commandIds: readonly string[]) => void;
}

/** At most 500 pending commands are pushed on connect, like the original. */
const DRAIN_LIMIT = 500;
/** agent_status snapshots stored per connection per minute. */
const AGENT_STATUS_PER_MINUTE = 12;
/** Bytes of event_batch frames in flight per session before its socket is paused (frames are up to 32 MiB each). */
const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
/** Frame ids are 1–64 characters (§1.4); longer ones would also bloat the re-ack memory. */
const MAX_FRAME_ID_LENGTH = 64;
/** How many committed event_batch frame ids a session remembers for instant re-acks. */
const COMMITTED_IDS = 4096;
/**
 * How many pushed-but-unanswered command ids a session remembers to skip their ack write; one that falls out
 * (a flood of unanswered commands) only costs its ack a no-op UPDATE.
 */
const PUSHED_COMMAND_IDS = 1024;
/** First and longest socket pause when an agent keeps repeating frames it has already sent. */
const STORM_PAUSE_MS = { initial: 50, max: 2_000 } as const;
/**
 * One re-ack per frame id per this interval. Repeats already queued in the
 * pipe when the agent finally read its ack are backlog: drop them for free
 * instead of answering (and pausing for) each one.
 */
const REACK_INTERVAL_MS = 250;

const EventBatchPayload = v.looseObject({ events: v.array(v.unknown()) });
const HeartbeatPayload = v.looseObject({
  last_flush_at: v.optional(v.nullable(v.string())),
  adapter_health: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
});
const CommandResultPayload = v.looseObject({
  status: v.string(),
  result: v.optional(v.unknown()),
  error: v.optional(v.nullable(v.string())),
});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type PauseReason = 'queue_full' | 'storm' | 'awaiting_ack' | 'draining';

/**
 * One agent WebSocket, from upgrade to close.
 *
 * States:
 *   authenticating — bearer token being looked up (→ closed 4401 on failure)
 *   awaiting_hello — the first message must be a valid unsigned `hello`
 *                    (→ 4400 malformed, 4426 wrong protocol, 4429 worker cap)
 *   active         — signed frames in both directions (→ 4403 bad HMAC/replay,
 *                    4408 idle, 4002 displaced, 1000 normal, 1011 internal)
 *   closed
 *
 * Backpressure: event batches go to ingest concurrently (its group commit
 * merges them), but at most `queueMax` frames may be unfinished; past that the
 * socket is paused, so the agent's own writes block in TCP. Repeated frame ids
 * (the Python agent re-sends unacked batches in a tight loop) are answered
 * from memory — an instant re-ack when committed, nothing at all while in
 * flight — and pause the socket, so the agent's send loop blocks and its
 * receive loop finally reads the acks.
 */
export class AgentSession {
  #state: 'authenticating' | 'awaiting_hello' | 'active' | 'closed' = 'authenticating';
  #agent: AgentIdentity | undefined;
  #workerId = '';
  #registered = false;
  #signer: FrameSigner | undefined;
  #verifier: FrameVerifier | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /**
   * When the last frame arrived (ms). Frames only stamp this; the idle timer
   * re-arms itself from it when it fires, so a busy session does not clear
   * and create a timer per frame.
   */
  #lastFrameAt = Date.now();
  /** Outbound frames written in the current tick go out in one write (see #write). */
  #corked = false;
  readonly #pauseReasons = new Set<PauseReason>();
  #stormTimer: NodeJS.Timeout | undefined;
  #stormPauseMs: number = STORM_PAUSE_MS.initial;
  #unfinished = 0;
  #inFlightBytes = 0;
  /** Settles when the hello's database write is done; the close path waits for it (no stale "online"). */
  #connecting: Promise<void> = Promise.resolve();
  #closedResolve!: () => void;
  /** Resolves once the session is closed and its agent/worker rows are updated. */
  readonly closed = new Promise<void>((resolve) => (this.#closedResolve = resolve));
  readonly #inFlight = new Set<string>();
  readonly #committed = new BoundedLru<string, { readonly result: IngestBatchResult; reackedAt: number }>(COMMITTED_IDS);
  #writes: Promise<void> = Promise.resolve();
  /** Commands this session pushed: each was claimed (dispatched) first, so their `command_ack` needs no write. */
  readonly #pushed = new BoundedLru<string, true>(PUSHED_COMMAND_IDS);
  #statusTimes: number[] = [];
  readonly connectedAt: Date;
  readonly sessionId = randomUUID();
  #log: Logger;

  constructor(
    private readonly deps: SessionDeps,
    private readonly ws: WebSocket,
    private readonly ip: string,
    /** The upgraded TCP socket under `ws`, corked while a tick's acks are written. */
    private readonly socket: Pick<Duplex, 'cork' | 'uncork'>,
  ) {
    this.connectedAt = deps.now();
    this.#log = deps.logger.child({ session: this.sessionId, ip });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => this.#onMessage(toBuffer(data)));
    ws.on('close', () => void this.#onClose());
    ws.on('error', (error) => this.#log.debug({ err: error }, 'gateway:socket:error'));
    this.#armIdleTimer();
  }

  get agent(): AgentIdentity | undefined {
    return this.#agent;
  }

  /** Authenticates the bearer token; on success the session waits for `hello`. */
  async authenticate(authorization: string | undefined): Promise<void> {
    const match = /^bearer (\S+)$/i.exec(authorization?.trim() ?? '');
    const agent = match?.[1] ? await this.deps.store.findAgentByToken(match[1]) : undefined;
    if (this.#state === 'closed') return;
    if (!agent) {
      this.deps.metrics.authFailures.inc();
      const reason = match ? 'unknown_token' : 'missing_bearer';
      this.#log.warn({ reason }, 'gateway:auth:bearer_failed');
      this.deps.onBearerFailure(this.ip, reason);
      this.close(CloseCode.BadToken, 'authentication failed');
      return;
    }
    this.#agent = agent;
    this.#log = this.#log.child({ agent: agent.id, project: agent.projectId });
    this.#state = 'awaiting_hello';
    // Frames that arrived while the token was being checked were held by the paused socket.
    this.ws.resume();
  }

  /** Pauses reading until authentication finishes, so no frame is handled unauthenticated. */
  holdUntilAuthenticated(): void {
    this.ws.pause();
  }

  close(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearTimers();
    // A paused socket would never read the agent's closing handshake; incoming frames are ignored from here on.
    this.ws.resume();
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  /**
   * Graceful end: stop reading new frames, let in-flight batches commit and
   * their acks go out (bounded by `graceMs`), then close 1000.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.#state !== 'closed') {
      this.#pause('draining');
      const deadline = Date.now() + graceMs;
      while (this.#unfinished > 0 && Date.now() < deadline && !this.#isClosed()) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      this.close(CloseCode.Normal, 'brain shutting down');
    }
    // Bounded: a peer that never answers the close handshake is dropped by ws after its close timeout.
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #isActive(): boolean {
    return this.#state === 'active' && this.ws.readyState === this.ws.OPEN;
  }

  /** Whether a command frame pushed now would be signed and written (hello done, socket open). */
  get canReceiveCommands(): boolean {
    return this.#isActive();
  }

  /** Pushes a command frame (claim already done by the caller). */
  pushCommand(command: PendingCommand): boolean {
    const payload =
      command.payload && typeof command.payload === 'object' && !Array.isArray(command.payload) ? (command.payload as JsonObject) : {};
    const target: JsonObject = { type: command.targetType, id: command.targetId };
    // Ours also names the engine/scheduler so multi-engine agents can route (the original never did).
    if (typeof payload.engine === 'string') target.engine = payload.engine;
    if (typeof payload.scheduler === 'string') target.scheduler = payload.scheduler;
    const sent = this.#send('command', command.id, {
      action: command.action,
      target,
      parameters: payload,
      timeout_seconds: this.deps.commandTimeoutSeconds,
      issued_by: command.issuedBy,
    });
    if (sent) {
      this.deps.metrics.commandsPushed.inc();
      this.#pushed.set(command.id, true);
    }
    return sent;
  }

  #onMessage(data: Buffer): void {
    if (this.#state === 'closed') return;
    this.#lastFrameAt = Date.now();
    if (this.#idleTimer === undefined) this.#armIdleTimer();
    this.deps.metrics.framesReceived.inc();
    if (this.#state === 'awaiting_hello') {
      void this.#onHello(data);
      return;
    }
    if (this.#state !== 'active') return;
    let frame: JsonObject;
    let eventTexts: string[] | undefined;
    try {
      ({ frame, eventTexts } = parseFrameWithEventTexts(data));
    } catch (error) {
      this.#log.warn({ err: error }, 'gateway:frame:malformed');
      this.close(CloseCode.Malformed, 'malformed frame');
      return;
    }
    const type = frame.type;
    const id = frame.id;
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_FRAME_ID_LENGTH) {
      this.close(CloseCode.Malformed, 'frame id must be a string of 1-64 characters');
      return;
    }
    if (type === 'event_batch') {
      const committed = this.#committed.get(id);
      if (committed) {
        // Already stored: answer from memory, no verification, no database.
        this.deps.metrics.repeatedFrames.inc({ state: 'committed' });
        const nowMs = Date.now();
        if (nowMs - committed.reackedAt >= REACK_INTERVAL_MS) {
          committed.reackedAt = nowMs;
          this.#sendAck(id, { received: committed.result.received, accepted: 0, rejected: committed.result.rejected });
          this.#pauseForStorm();
        }
        return;
      }
      if (this.#inFlight.has(id)) {
        // Still being stored: its ack is coming; the repeat costs nothing but a pause.
        this.deps.metrics.repeatedFrames.inc({ state: 'in_flight' });
        this.#pause('awaiting_ack');
        return;
      }
    }
    try {
      this.#verifier?.verify(frame, data);
    } catch (error) {
      this.deps.metrics.verificationFailures.inc();
      this.#log.warn({ reason: (error as { reason?: string }).reason, frameType: type }, 'gateway:frame:rejected');
      this.close(CloseCode.SignatureOrReplay, 'signature or replay check failed');
      return;
    }
    this.#stormPauseMs = STORM_PAUSE_MS.initial;
    switch (type) {
      case 'event_batch':
        this.#onEventBatch(id, frame.payload, eventTexts, data.length);
        return;
      case 'heartbeat':
        this.#onHeartbeat(frame);
        return;
      case 'agent_status':
        this.#onAgentStatus(frame);
        return;
      case 'command_ack':
        // A command this session pushed is already dispatched (claimed before the push): nothing to write, and
        // skipping the round trip keeps it off the command's latency (the result waits behind it in #writes).
        if (this.#pushed.has(id)) return;
        this.#serialWrite('command_ack', async () => {
          if (!UUID.test(id) || !this.#agent) return;
          if (await this.deps.store.commandAcknowledged(this.#agent, id, this.deps.now())) this.deps.commandsChanged([id]);
        });
        return;
      case 'command_result':
        this.#onCommandResult(id, frame.payload);
        return;
      case 'registry_delta':
        this.#log.debug('gateway:frame:registry_delta');
        return;
      case 'error':
        this.#log.warn({ payload: frame.payload }, 'gateway:frame:agent_error');
        return;
      default:
        this.#log.warn({ frameType: type }, 'gateway:frame:unhandled_type');
    }
  }

  async #onHello(data: Buffer): Promise<void> {
    const agent = this.#agent;
    if (!agent) return;
    this.#state = 'authenticating'; // no second hello while this one is handled
    let frame: JsonObject;
    try {
      frame = parseFrame(data);
    } catch {
      this.close(CloseCode.Malformed, 'first frame must be a JSON hello');
      return;
    }
    const payload = frame.payload as JsonObject | undefined;
    if (
      frame.type === 'hello' &&
      payload &&
      typeof payload === 'object' &&
      typeof payload.protocol_version === 'string' &&
      payload.protocol_version !== PROTOCOL_VERSION
    ) {
      this.close(CloseCode.UnsupportedProtocol, `unsupported protocol version ${payload.protocol_version.slice(0, 40)}`);
      return;
    }
    const parsed = v.safeParse(HelloFrameSchema, frame);
    if (!parsed.success) {
      this.#log.warn({ issues: describeIssues(parsed.issues) }, 'gateway:hello:invalid');
      this.close(
        CloseCode.Malformed,
        frame.type === 'hello' ? `invalid hello: ${describeIssues(parsed.issues)}`.slice(0, 120) : 'first frame must be hello',
      );
      return;
    }
    const hello = parsed.output.payload;
    const facts: HelloFacts = {
      protocolVersion: hello.protocol_version,
      agentVersion: hello.agent_version,
      framework: hello.framework,
      engines: hello.engines,
      schedulers: hello.schedulers,
      capabilities: hello.capabilities,
      host: hello.host,
      workerId: hello.worker_id ?? '',
      workerRole: hello.worker_role ?? null,
      workerPid: typeof hello.worker_pid === 'number' ? hello.worker_pid : null,
      workerStartedAt: typeof hello.worker_started_at === 'string' ? parseIsoWithTimezone(hello.worker_started_at) : null,
    };
    this.#workerId = facts.workerId;
    const registered = this.deps.registry.register(agent.id, this.#workerId, this);
    if (!registered.ok) {
      this.#log.warn({ worker: this.#workerId }, 'gateway:registry:worker_cap');
      this.close(CloseCode.RateLimited, 'too many worker connections for this agent');
      return;
    }
    this.#registered = true;
    if (registered.displaced) registered.displaced.close(CloseCode.Displaced, 'displaced by a newer connection');
    this.deps.metrics.connections.inc();
    try {
      this.#connecting = this.deps.store.markConnected(agent, facts, this.connectedAt);
      await this.#connecting;
      this.deps.onAgentChanged(agent.projectId);
    } catch (error) {
      this.#log.error({ err: error }, 'gateway:hello:store_failed');
      this.close(CloseCode.InternalError, 'internal error');
      return;
    }
    if (this.ws.readyState !== this.ws.OPEN) return;
    const secret = deriveProjectSecret(this.deps.masterSecret, agent.projectId);
    const binding = { agentId: agent.id, projectId: agent.projectId, sessionId: this.sessionId };
    this.#signer = new FrameSigner({ secret, binding, now: this.deps.now });
    this.#verifier = new FrameVerifier({ secret, binding, now: this.deps.now });
    this.#sendRaw({
      v: 2,
      type: 'hello_ack',
      id: `hack_${this.sessionId.replaceAll('-', '').slice(0, 12)}`,
      ts: isoTimestamp(this.deps.now()),
      payload: {
        protocol_version: hello.protocol_version,
        brain_version: this.deps.brainVersion,
        agent_id: agent.id,
        project_id: agent.projectId,
        session_id: this.sessionId,
        heartbeat_interval_seconds: this.deps.heartbeatIntervalSeconds,
        max_frame_size_bytes: this.deps.maxFrameBytes,
      },
    });
    this.#state = 'active';
    let drained = 0;
    try {
      const claimed = await this.deps.store.claimPendingCommands(agent.id, DRAIN_LIMIT, this.deps.now());
      const sent: string[] = [];
      const unsent: string[] = [];
      for (const command of claimed) (this.#isActive() && this.pushCommand(command) ? sent : unsent).push(command.id);
      drained = sent.length;
      if (sent.length > 0) this.deps.commandsChanged(sent);
      // Claimed but never written (the socket closed meanwhile): hand them back for the next connection.
      if (unsent.length > 0) await this.deps.store.releaseClaims(agent.id, unsent);
    } catch (error) {
      // Not fatal: they stay pending (or dispatched until their timeout) and are drained on the next connect.
      this.#log.error({ err: error }, 'gateway:commands:drain_failed');
    }
    // Logged once the connect-time drain is done: from here on, only NOTIFYs and the reconcile loop deliver.
    this.#log.info(
      { worker: this.#workerId, framework: facts.framework, engines: facts.engines, commandsDrained: drained },
      'gateway:session:active',
    );
  }

  #onEventBatch(frameId: string, payload: JsonValue | undefined, texts: readonly string[] | undefined, bytes: number): void {
    const agent = this.#agent;
    const parsed = v.safeParse(EventBatchPayload, payload);
    if (!agent || !parsed.success) {
      this.close(CloseCode.Malformed, 'event_batch payload must carry an events list');
      return;
    }
    const events = (parsed.output.events as JsonValue[]).slice(0, MAX_EVENTS_PER_BATCH);
    const eventTexts = texts?.length === parsed.output.events.length ? texts.slice(0, MAX_EVENTS_PER_BATCH) : undefined;
    this.#inFlight.add(frameId);
    this.#inFlightBytes += bytes;
    if (this.#inFlightBytes >= MAX_IN_FLIGHT_BYTES) this.#pause('queue_full');
    this.#begin();
    this.#submit(agent, frameId, events, eventTexts)
      .then(
        (result) => {
          this.#committed.set(frameId, { result, reackedAt: Date.now() });
          this.#sendAck(frameId, result);
        },
        (error: unknown) => {
          // No ack: the agent keeps the batch and sends it again; ingest dedupes.
          this.#log.warn({ err: error, frameId }, 'gateway:ingest:failed');
          this.deps.metrics.ingestFailures.inc();
        },
      )
      .finally(() => {
        this.#inFlight.delete(frameId);
        this.#inFlightBytes -= bytes;
        if (this.#inFlight.size === 0) this.#resume('awaiting_ack');
        this.#end();
      });
  }

  /**
   * Hands the events to ingest. Its own method so that the closures waiting for the commit (ack, release)
   * do not share a scope with the raw events: they would keep every parsed event of every frame in flight
   * alive until its ack, for the young-generation GC to copy meanwhile, when ingest keeps only what it stores.
   */
  #submit(agent: AgentIdentity, frameId: string, events: JsonValue[], eventTexts: string[] | undefined): Promise<IngestBatchResult> {
    // A sink that throws synchronously must become a rejection, never an exception in the socket's handler.
    return Promise.resolve().then(() =>
      this.deps.ingest().submit({
        projectId: agent.projectId,
        agentId: agent.id,
        frameId,
        events,
        ...(eventTexts ? { eventTexts } : {}),
        receivedAt: this.deps.now(),
      }),
    );
  }

  #onHeartbeat(frame: JsonObject): void {
    const agent = this.#agent;
    const parsed = v.safeParse(HeartbeatPayload, frame.payload);
    if (!agent || !parsed.success) {
      this.#log.warn('gateway:heartbeat:invalid_payload');
      return;
    }
    const health = readAdapterHealth(parsed.output.adapter_health ?? {});
    const flushed = parsed.output.last_flush_at ? parseIsoWithTimezone(parsed.output.last_flush_at) : null;
    const seenAt = this.deps.now();
    for (const depth of health.queueDepths)
      this.deps.metrics.queueDepth.set({ project: agent.projectId, queue: depth.queue, engine: depth.engine }, depth.depth);
    this.#serialWrite('heartbeat', () =>
      this.deps.store.recordHeartbeat(agent, this.#workerId, { seenAt, workersReportedAt: flushed ?? seenAt }, health),
    );
  }

  #onAgentStatus(frame: JsonObject): void {
    const agent = this.#agent;
    if (!agent) return;
    const nowMs = this.deps.now().getTime();
    this.#statusTimes = this.#statusTimes.filter((at) => nowMs - at < 60_000);
    if (this.#statusTimes.length >= AGENT_STATUS_PER_MINUTE) return;
    this.#statusTimes.push(nowMs);
    const capturedAt = (typeof frame.ts === 'string' ? parseIsoWithTimezone(frame.ts) : null) ?? this.deps.now();
    this.#serialWrite('agent_status', () => this.deps.store.recordAgentStatus(agent, capturedAt, frame.payload ?? {}));
  }

  #onCommandResult(commandId: string, payload: JsonValue | undefined): void {
    const agent = this.#agent;
    const parsed = v.safeParse(CommandResultPayload, payload);
    if (!agent || !UUID.test(commandId)) return;
    const success = parsed.success && parsed.output.status === 'success';
    const result = parsed.success ? ((parsed.output.result as JsonValue | undefined) ?? null) : null;
    const error = parsed.success ? (parsed.output.error ?? null) : 'malformed command_result payload';
    this.#pushed.delete(commandId);
    this.#serialWrite('command_result', async () => {
      const outcome = await this.deps.store.commandFinished(agent, commandId, { success, result, error }, this.deps.now());
      if (outcome === 'updated') this.deps.commandsChanged([commandId]);
      if (outcome === 'late') {
        this.deps.metrics.lateResults.inc({ status: success ? 'success' : 'failed' });
        this.#log.info({ command: commandId, status: success ? 'success' : 'failed' }, 'gateway:commands:late_result');
      }
    });
  }

  /** Non-event writes run one at a time per session, in arrival order, and count toward the queue bound. */
  #serialWrite(kind: string, work: () => Promise<unknown>): void {
    this.#begin();
    this.#writes = this.#writes
      .then(work)
      .then(
        () => undefined,
        (error: unknown) => this.#log.error({ err: error, kind }, 'gateway:write:failed'),
      )
      .finally(() => this.#end());
  }

  #begin(): void {
    this.#unfinished += 1;
    if (this.#unfinished >= this.deps.queueMax) this.#pause('queue_full');
  }

  #end(): void {
    this.#unfinished -= 1;
    if (this.#unfinished <= this.deps.queueMax / 2 && this.#inFlightBytes < MAX_IN_FLIGHT_BYTES / 2) this.#resume('queue_full');
  }

  #pause(reason: PauseReason): void {
    if (this.#state === 'closed') return;
    if (this.#pauseReasons.size === 0) {
      this.ws.pause();
      // A session we paused ourselves is not idle.
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      this.deps.metrics.pauses.inc({ reason });
    }
    this.#pauseReasons.add(reason);
  }

  #resume(reason: PauseReason): void {
    if (!this.#pauseReasons.delete(reason) || this.#pauseReasons.size > 0 || this.#state === 'closed') return;
    this.ws.resume();
    // The agent could not send while paused: the idle window starts again now.
    this.#lastFrameAt = Date.now();
    this.#armIdleTimer();
  }

  #pauseForStorm(): void {
    if (this.#pauseReasons.has('storm')) return;
    this.#pause('storm');
    this.#stormTimer = setTimeout(() => this.#resume('storm'), this.#stormPauseMs);
    this.#stormPauseMs = Math.min(STORM_PAUSE_MS.max, this.#stormPauseMs * 2);
  }

  #sendAck(frameId: string, result: IngestBatchResult): void {
    this.#send('event_batch_ack', `eba_${frameId}`.slice(0, 64), {
      acked_id: frameId,
      received: result.received,
      accepted: result.accepted,
      rejected: result.rejected,
    });
  }

  /** Signs and sends in one synchronous step: the outbound seq order is the send order. */
  #send(type: SignedFrameType, id: string, payload: JsonObject): boolean {
    if (!this.#signer || this.ws.readyState !== this.ws.OPEN) return false;
    this.#write(this.#signer.signEncoded({ type, id, payload }));
    return true;
  }

  #sendRaw(frame: JsonObject): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.#write(canonicalBytes(frame));
  }

  /**
   * One group commit acks many frames of a session in the same tick (one
   * event per frame is the Python agent's pattern): corking the socket until
   * the next tick sends them in one TCP write instead of a syscall per ack.
   */
  #write(bytes: Buffer): void {
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(this.#uncork);
    }
    this.ws.send(bytes, { binary: true });
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.socket.uncork();
  };

  #armIdleTimer(delayMs: number = this.deps.idleTimeoutMs): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.#state === 'closed' || this.#pauseReasons.size > 0) return;
    this.#idleTimer = setTimeout(this.#onIdleTimer, delayMs);
    this.#idleTimer.unref();
  }

  readonly #onIdleTimer = (): void => {
    this.#idleTimer = undefined;
    if (this.#state === 'closed' || this.#pauseReasons.size > 0) return;
    const remainingMs = this.#lastFrameAt + this.deps.idleTimeoutMs - Date.now();
    if (remainingMs > 0) {
      this.#armIdleTimer(remainingMs);
      return;
    }
    this.#log.info('gateway:session:idle');
    this.close(CloseCode.Idle, 'idle timeout');
  };

  #clearTimers(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    clearTimeout(this.#stormTimer);
  }

  async #onClose(): Promise<void> {
    this.#state = 'closed';
    this.#clearTimers();
    try {
      await this.#recordDisconnect();
    } finally {
      this.#closedResolve();
    }
  }

  async #recordDisconnect(): Promise<void> {
    const agent = this.#agent;
    if (!agent || !this.#registered) return;
    this.#registered = false;
    const { removed, wasLast } = this.deps.registry.unregister(agent.id, this.#workerId, this);
    if (!removed) return;
    this.deps.metrics.connections.dec();
    // The hello's "online" write and queued heartbeats must land before "offline", or they would undo it.
    await this.#connecting.catch(() => undefined);
    await this.#writes;
    try {
      await this.deps.store.markDisconnected(agent, this.#workerId, this.connectedAt, wasLast, this.deps.now());
      this.deps.onAgentChanged(agent.projectId);
    } catch (error) {
      this.#log.error({ err: error }, 'gateway:session:offline_update_failed');
    }
    this.#log.info({ worker: this.#workerId, wasLast }, 'gateway:session:closed');
  }
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
