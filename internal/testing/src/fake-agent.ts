import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  FrameSigner,
  FrameVerifier,
  canonicalBytes,
  decodeHmacSecret,
  isoTimestamp,
  parseFrame,
  type JsonObject,
  type JsonValue,
  type SignedFrameType,
} from '@z4j/protocol';

/**
 * A test agent that speaks real protocol 2: real bearer auth, an unsigned
 * hello, signed frames with seq/nonce/ts and HMAC, verified inbound frames.
 * It is not a mock of anything: the gateway cannot tell it from an agent.
 * It can also misbehave on purpose (bad HMAC, replayed seq, resend storms).
 */
export interface FakeAgentOptions {
  /** `ws://127.0.0.1:port/ws/agent` */
  readonly url: string;
  readonly token: string;
  /** `hmac_secret` as minted (URL-safe base64). */
  readonly hmacSecret: string;
  readonly workerId?: string | null;
  readonly protocolVersion?: string;
  readonly engines?: string[];
  readonly capabilities?: Record<string, string[]>;
  readonly now?: () => Date;
  /**
   * Answers `command` frames like the Python agent's dispatcher (§3.2): a
   * command id seen in the last 300 s is only acked again; otherwise
   * `command_ack`, then this handler runs, then `command_result`. A handler
   * that throws answers `failed` with `internal error: …`. Unset: commands
   * are only recorded in `inbound`.
   */
  readonly onCommand?: (command: FakeAgentCommand) => CommandOutcome | Promise<CommandOutcome>;
}

/** A `command` frame as the agent's dispatcher sees it. */
export interface FakeAgentCommand {
  readonly id: string;
  readonly action: string;
  readonly target: JsonObject;
  readonly parameters: JsonObject;
  readonly timeoutSeconds: number;
  readonly issuedBy: string | null;
}

export interface CommandOutcome {
  readonly status: 'success' | 'failed';
  readonly result?: JsonObject | null;
  readonly error?: string | null;
}

/** The Python dispatcher remembers command ids this long, and at most this many (bare: `dispatcher.py`). */
const COMMAND_DEDUPE = { windowMs: 300_000, max: 10_000 } as const;

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

export class FakeAgent {
  readonly socket: WebSocket;
  readonly inbound: JsonObject[] = [];
  readonly closed: Promise<Closed>;
  helloAck: JsonObject | undefined;
  signer: FrameSigner | undefined;
  #verifier: FrameVerifier | undefined;
  #waiters: { match: (frame: JsonObject) => boolean; resolve: (frame: JsonObject) => void }[] = [];
  /** waitForAck() waiters by acked frame id: a load generator keeps hundreds in flight, so no linear scans. */
  readonly #ackWaiters = new Map<string, { resolve: (frame: JsonObject) => void; reject: (error: Error) => void }[]>();
  /** Set once the socket closed: ack waiters still waiting then are rejected all at once. */
  #closedWith: Closed | undefined;
  /** event_batch_ack frames received, by acked id (what waitForAck() finds when the ack came first). */
  readonly #acks = new Map<string, JsonObject>();
  #secret: Buffer;
  /** Times each command id was executed (a re-delivered id is not executed again). */
  readonly executions = new Map<string, number>();
  /** Command ids that arrived again within the dedupe window and were only re-acked, in arrival order. */
  readonly reacked: string[] = [];
  /** Command ids seen, with when (ms), oldest first: the dispatcher's dedupe memory. */
  readonly #seenCommands = new Map<string, number>();

  private constructor(
    readonly options: FakeAgentOptions,
    headers: Record<string, string>,
  ) {
    this.#secret = decodeHmacSecret(options.hmacSecret);
    this.socket = new WebSocket(options.url, { headers, perMessageDeflate: false });
    this.closed = new Promise((resolve) => this.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
    // One close reaction for every ack waiter (a load generator waits for thousands of acks).
    void this.closed.then((closed) => {
      this.#closedWith = closed;
      for (const waiters of this.#ackWaiters.values()) for (const waiter of waiters) waiter.reject(closedError(closed));
      this.#ackWaiters.clear();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data: Buffer) => this.#onMessage(data));
  }

  /** Opens the socket with the bearer token (or raw headers, to test auth failures). */
  static async connect(options: FakeAgentOptions, headers?: Record<string, string>): Promise<FakeAgent> {
    const agent = new FakeAgent(options, headers ?? { authorization: `Bearer ${options.token}` });
    await new Promise<void>((resolve, reject) => {
      agent.socket.once('open', () => resolve());
      agent.socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)));
      agent.socket.once('error', reject);
    });
    return agent;
  }

  /** Connects, says hello, waits for hello_ack and sets up signing. */
  static async handshake(options: FakeAgentOptions): Promise<FakeAgent> {
    const agent = await FakeAgent.connect(options);
    await agent.hello();
    return agent;
  }

  helloFrame(overrides: Record<string, JsonValue> = {}): JsonObject {
    const workerId = this.options.workerId === undefined ? `bare-${process.pid}-${Date.now()}` : this.options.workerId;
    const payload: JsonObject = {
      protocol_version: this.options.protocolVersion ?? '2',
      agent_version: '0.0.0',
      framework: 'bare',
      engines: this.options.engines ?? ['dummy'],
      schedulers: [],
      capabilities: this.options.capabilities ?? { dummy: ['submit_task'] },
      host: { name: 'fake-agent' },
      worker_role: null,
      worker_pid: process.pid,
      worker_started_at: isoTimestamp(new Date()),
      ...(workerId === null ? {} : { worker_id: workerId }),
    };
    return { v: 2, type: 'hello', id: `hello_${randomBytes(8).toString('hex')}`, ts: null, payload: { ...payload, ...overrides } };
  }

  async hello(frame: JsonObject = this.helloFrame()): Promise<JsonObject> {
    this.sendRaw(canonicalBytes(frame));
    const ack = await this.waitFor((f) => f.type === 'hello_ack');
    this.helloAck = ack;
    const payload = ack.payload as JsonObject;
    const binding = {
      agentId: payload.agent_id as string,
      projectId: payload.project_id as string,
      sessionId: payload.session_id as string,
    };
    const now = this.options.now;
    this.signer = new FrameSigner({ secret: this.#secret, binding, ...(now ? { now } : {}) });
    this.#verifier = new FrameVerifier({ secret: this.#secret, binding, ...(now ? { now } : {}) });
    return ack;
  }

  /** Signs a frame (advancing seq) and returns its bytes without sending. */
  sign(type: SignedFrameType, id: string, payload: JsonObject): Buffer {
    if (!this.signer) throw new Error('hello first');
    return this.signer.signEncoded({ type, id, payload });
  }

  send(type: SignedFrameType, id: string, payload: JsonObject): void {
    this.sendRaw(this.sign(type, id, payload));
  }

  sendRaw(bytes: Buffer | string): void {
    this.socket.send(bytes, { binary: true });
  }

  heartbeat(adapterHealth: Record<string, string> = {}): string {
    const id = `hb_${randomBytes(6).toString('hex')}`;
    this.send('heartbeat', id, { buffer_size: 0, last_flush_at: null, dropped_events: 0, adapter_health: adapterHealth });
    return id;
  }

  eventBatch(events: JsonValue[], id = `ev_${randomBytes(6).toString('hex')}`): string {
    this.send('event_batch', id, { events });
    return id;
  }

  /** An event_batch whose payload (`{"events":[…]}`) is canonical JSON already: load generators build it ahead. */
  eventBatchCanonical(payload: string, id: string): void {
    if (!this.signer) throw new Error('hello first');
    this.sendRaw(this.signer.signCanonicalPayload('event_batch', id, payload));
  }

  /**
   * Runs `send` with the TCP socket corked, so the frames it sends leave in one write: a load generator
   * bursting hundreds of frames then costs one syscall instead of one per frame (the brain reads whatever
   * has arrived either way).
   */
  corked(send: () => void): void {
    const socket = (this.socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    socket?.cork();
    try {
      send();
    } finally {
      socket?.uncork();
    }
  }

  waitForAck(frameId: string): Promise<JsonObject> {
    // Like waitFor(): the first such ack still in `inbound` (callers may empty it), else a future one.
    const seen = this.#acks.get(frameId);
    if (seen) {
      if (this.inbound.includes(seen)) return Promise.resolve(seen);
      this.#acks.delete(frameId);
    }
    return new Promise((resolve, reject) => {
      if (this.#closedWith) {
        reject(closedError(this.#closedWith));
        return;
      }
      let list = this.#ackWaiters.get(frameId);
      if (!list) this.#ackWaiters.set(frameId, (list = []));
      list.push({ resolve, reject });
    });
  }

  /** Resolves with the first inbound frame (already received or future) that matches. */
  waitFor(match: (frame: JsonObject) => boolean): Promise<JsonObject> {
    const seen = this.inbound.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ match, resolve });
      void this.closed.then((closed) => reject(new Error(`socket closed (${closed.code} ${closed.reason}) before the awaited frame`)));
    });
  }

  close(code = 1000): Promise<Closed> {
    this.socket.close(code);
    return this.closed;
  }

  /** §3.2: 1. seen in the last 300 s → ack again, stop; 2. ack; 3. run; 4. result. */
  #dispatchCommand(frame: JsonObject, handler: NonNullable<FakeAgentOptions['onCommand']>): void {
    const id = frame.id as string;
    const nowMs = (this.options.now?.() ?? new Date()).getTime();
    for (const [seenId, seenAt] of this.#seenCommands) {
      if (nowMs - seenAt < COMMAND_DEDUPE.windowMs && this.#seenCommands.size < COMMAND_DEDUPE.max) break;
      this.#seenCommands.delete(seenId);
    }
    if (this.#seenCommands.has(id)) {
      this.reacked.push(id);
      this.send('command_ack', id, {});
      return;
    }
    this.#seenCommands.set(id, nowMs);
    this.send('command_ack', id, {});
    this.executions.set(id, (this.executions.get(id) ?? 0) + 1);
    const payload = (frame.payload ?? {}) as JsonObject;
    const command: FakeAgentCommand = {
      id,
      action: typeof payload.action === 'string' ? payload.action : '',
      target: (payload.target ?? {}) as JsonObject,
      parameters: (payload.parameters ?? {}) as JsonObject,
      timeoutSeconds: Number(payload.timeout_seconds),
      issuedBy: typeof payload.issued_by === 'string' ? payload.issued_by : null,
    };
    void Promise.resolve()
      .then(() => handler(command))
      .catch((error: unknown): CommandOutcome => ({
        status: 'failed',
        error: `internal error: ${error instanceof Error ? error.message : String(error)}`,
      }))
      .then((outcome) => {
        if (this.socket.readyState !== WebSocket.OPEN) return;
        this.send('command_result', id, { status: outcome.status, result: outcome.result ?? null, error: outcome.error ?? null });
      })
      // The socket may close between the check and the write; a test sees that through `closed`.
      .catch(() => undefined);
  }

  /** Forgets acks no longer in `inbound` (callers may empty it), keeping the first per id. */
  #reindexAcks(): void {
    this.#acks.clear();
    for (const frame of this.inbound) {
      const ackedId = frame.type === 'event_batch_ack' ? (frame.payload as JsonObject | undefined)?.acked_id : undefined;
      if (typeof ackedId === 'string' && !this.#acks.has(ackedId)) this.#acks.set(ackedId, frame);
    }
  }

  #onMessage(data: Buffer): void {
    const frame = parseFrame(data);
    // Inbound signed frames are verified like a real agent verifies them.
    if (frame.type !== 'hello_ack') this.#verifier?.verify(frame, data);
    this.inbound.push(frame);
    if (frame.type === 'command' && this.options.onCommand) this.#dispatchCommand(frame, this.options.onCommand);
    if (frame.type === 'event_batch_ack') {
      const ackedId = (frame.payload as JsonObject | undefined)?.acked_id;
      if (typeof ackedId === 'string') {
        if (!this.#acks.has(ackedId)) this.#acks.set(ackedId, frame);
        if (this.#acks.size > 2 * this.inbound.length + 1024) this.#reindexAcks();
        const waiting = this.#ackWaiters.get(ackedId);
        if (waiting) {
          this.#ackWaiters.delete(ackedId);
          for (const waiter of waiting) waiter.resolve(frame);
        }
      }
    }
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.match(frame)) return true;
      waiter.resolve(frame);
      return false;
    });
  }
}

function closedError(closed: Closed): Error {
  return new Error(`socket closed (${closed.code} ${closed.reason}) before the awaited frame`);
}

/** An event as the real agent sends it (§2.2). */
export function taskEvent(kind: string, taskId: string, occurredAt: Date, data: JsonObject = {}): JsonObject {
  return {
    id: crypto.randomUUID(),
    kind,
    engine: 'celery',
    task_id: taskId,
    occurred_at: occurredAt.toISOString().replace('Z', '+00:00'),
    data: { task_name: 'app.tasks.add', queue: 'default', worker: 'celery@worker-1', ...data },
  };
}
