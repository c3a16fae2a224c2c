import WebSocket from 'ws';
import * as v from 'valibot';
import {
  canonicalBytes,
  describeIssues,
  FrameSigner,
  FrameVerifier,
  HelloAckFrameSchema,
  parseFrame,
  PROTOCOL_VERSION,
  type HelloAckPayload,
  type HelloFrame,
  type JsonObject,
  type SignedFrameType,
  type VerifiedFrame,
} from '@z4j/protocol';
import type { AgentLogger } from './agent-logger.js';
import { classifyClose, type FailureKind } from './reconnect-backoff.js';

/** How a session ended; `failure` is undefined for a close this agent asked for (stop). */
export interface SessionEnd {
  readonly code: number;
  readonly reason: string;
  readonly failure: FailureKind | undefined;
  /** Whether hello_ack was received (signed frames flowed). */
  readonly wasActive: boolean;
  /** Whether at least one signed frame from the brain verified: the secret is right. */
  readonly verifiedInbound: boolean;
}

/** What a session needs; the agent builds one per connection attempt. */
export interface BrainSessionDeps {
  readonly url: string;
  readonly token: string;
  readonly secret: Buffer;
  readonly hello: HelloFrame;
  readonly now: () => Date;
  readonly logger: AgentLogger;
  /** The Python agent waits 10 s for hello_ack. */
  readonly helloTimeoutMs: number;
  /** Largest inbound frame accepted. */
  readonly maxInboundBytes: number;
  readonly onActive: (ack: HelloAckPayload) => void;
  readonly onFrame: (frame: VerifiedFrame) => void;
  readonly onEnd: (end: SessionEnd) => void;
}

/**
 * One WebSocket to the brain, from upgrade to close.
 *
 * States:
 *   connecting  — TCP + HTTP upgrade with `Authorization: Bearer` (HTTP 401/403 → auth failure)
 *   handshaking — unsigned `hello` sent; the first frame back must be a valid `hello_ack` with protocol "2" within
 *                 `helloTimeoutMs` (else protocol failure, closed 4400)
 *   active      — signed frames both ways with a signer/verifier bound to (agent_id, project_id, session_id) from
 *                 hello_ack, seq from 1; an inbound frame failing HMAC or replay checks closes 4403 (auth failure)
 *   closed      — `onEnd` has been called exactly once
 *
 * The brain's close code decides the failure kind ({@link classifyClose}) unless this side closed for a reason of
 * its own. The socket is unref'd: an open agent connection never keeps the host process alive.
 */
export class BrainSession {
  #state: 'connecting' | 'handshaking' | 'active' | 'closed' = 'connecting';
  readonly #ws: WebSocket;
  readonly #deps: BrainSessionDeps;
  #signer: FrameSigner | undefined;
  #verifier: FrameVerifier | undefined;
  #helloTimer: NodeJS.Timeout | undefined;
  /** Set when this side decides why the session ends; otherwise the close code does. */
  #ownFailure: { kind: FailureKind | undefined } | undefined;
  #httpStatus: number | undefined;
  #verifiedInbound = false;
  #lastInboundAt = Date.now();

  constructor(deps: BrainSessionDeps) {
    this.#deps = deps;
    this.#ws = new WebSocket(deps.url, {
      headers: { authorization: `Bearer ${deps.token}` },
      perMessageDeflate: false,
      maxPayload: deps.maxInboundBytes,
      handshakeTimeout: deps.helloTimeoutMs,
    });
    this.#ws.on('upgrade', (response) => response.socket.unref());
    this.#ws.on('unexpected-response', (_request, response) => {
      this.#httpStatus = response.statusCode;
      this.#ws.terminate();
    });
    this.#ws.on('open', () => this.#onOpen());
    this.#ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => this.#onMessage(data));
    this.#ws.on('pong', () => (this.#lastInboundAt = Date.now()));
    this.#ws.on('error', (error) => deps.logger.debug({ err: error }, 'agent:socket:error'));
    this.#ws.on('close', (code, reason) => {
      try {
        this.#onClose(code, reason.toString('utf8'));
      } catch (error) {
        deps.logger.error({ err: error }, 'agent:session:handler_failed');
      }
    });
  }

  /** True once hello_ack arrived and until the socket closes. */
  get active(): boolean {
    return this.#state === 'active' && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in the socket but not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Signs and writes one frame; false when the session is not active (nothing is written). */
  send(type: SignedFrameType, id: string, payload: JsonObject): boolean {
    if (!this.active || !this.#signer) return false;
    this.#ws.send(this.#signer.signEncoded({ type, id, payload }), { binary: true });
    return true;
  }

  /**
   * Liveness check, called on every heartbeat tick: pings the brain (its ws server answers pongs by itself) and ends
   * the session as a connection failure when nothing at all came back for `silenceLimitMs` (a half-open TCP
   * connection after a network partition would otherwise look healthy forever).
   */
  checkLiveness(silenceLimitMs: number): void {
    if (this.#state !== 'active') return;
    if (Date.now() - this.#lastInboundAt > silenceLimitMs) {
      this.#deps.logger.warn({ silentMs: Date.now() - this.#lastInboundAt }, 'agent:session:silent');
      this.#fail('connection', 4408, 'no frames or pongs from the brain');
      this.#ws.terminate();
      return;
    }
    this.#ws.ping();
  }

  /** Ends the session on purpose (the agent is stopping): close 1000, or drop a connection still being set up. */
  close(): void {
    this.#ownFailure ??= { kind: undefined };
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(1000, 'agent stopping');
    else this.#ws.terminate();
  }

  #onOpen(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'handshaking';
    this.#ws.send(canonicalBytes(this.#deps.hello), { binary: true });
    this.#helloTimer = setTimeout(() => this.#fail('protocol', 4400, 'no hello_ack in time'), this.#deps.helloTimeoutMs);
    this.#helloTimer.unref();
  }

  #onMessage(data: Buffer | ArrayBuffer | Buffer[]): void {
    try {
      this.#handleMessage(data);
    } catch (error) {
      // A listener that throws would surface as an uncaught exception in the host process.
      this.#deps.logger.error({ err: error }, 'agent:session:handler_failed');
    }
  }

  #handleMessage(data: Buffer | ArrayBuffer | Buffer[]): void {
    this.#lastInboundAt = Date.now();
    if (this.#state === 'handshaking') {
      this.#onHelloAck(toBuffer(data));
      return;
    }
    if (this.#state !== 'active') return;
    let frame: VerifiedFrame;
    try {
      const bytes = toBuffer(data);
      frame = this.#verifier!.verify(parseFrame(bytes), bytes);
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'agent:frame:rejected');
      this.#fail('auth', 4403, 'signature or replay check failed');
      return;
    }
    this.#verifiedInbound = true;
    this.#deps.onFrame(frame);
  }

  #onHelloAck(data: Buffer): void {
    clearTimeout(this.#helloTimer);
    let parsed: v.SafeParseResult<typeof HelloAckFrameSchema>;
    try {
      parsed = v.safeParse(HelloAckFrameSchema, parseFrame(data));
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'agent:hello_ack:malformed');
      this.#fail('protocol', 4400, 'first frame must be hello_ack');
      return;
    }
    if (!parsed.success) {
      this.#deps.logger.warn({ issues: describeIssues(parsed.issues) }, 'agent:hello_ack:invalid');
      this.#fail('protocol', 4400, 'invalid hello_ack');
      return;
    }
    const ack = parsed.output.payload;
    if (ack.protocol_version !== PROTOCOL_VERSION) {
      this.#deps.logger.error({ protocolVersion: ack.protocol_version }, 'agent:hello_ack:unsupported_protocol');
      this.#fail('protocol', 4426, 'unsupported protocol version');
      return;
    }
    const binding = { agentId: ack.agent_id, projectId: ack.project_id, sessionId: ack.session_id };
    this.#signer = new FrameSigner({ secret: this.#deps.secret, binding, now: this.#deps.now });
    this.#verifier = new FrameVerifier({ secret: this.#deps.secret, binding, now: this.#deps.now });
    this.#state = 'active';
    this.#deps.onActive(ack);
  }

  #fail(kind: FailureKind, code: number, reason: string): void {
    this.#ownFailure ??= { kind };
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(code, reason);
    else this.#ws.terminate();
  }

  #onClose(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    const wasActive = this.#state === 'active';
    this.#state = 'closed';
    clearTimeout(this.#helloTimer);
    const failure = this.#ownFailure
      ? this.#ownFailure.kind
      : this.#httpStatus !== undefined
        ? classifyClose(this.#httpStatus)
        : classifyClose(code);
    const closeCode = this.#httpStatus ?? code;
    this.#deps.onEnd({ code: closeCode, reason, failure, wasActive, verifiedInbound: this.#verifiedInbound });
  }
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
