import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalBytes, canonicalJson } from './canonical-json.js';
import { FrameVerificationError } from './errors.js';
import { FRAME_VERSION, isJsonObject, isSignedFrameType, type SignedFrame, type SignedFrameType } from './frames.js';
import { isoTimestamp, parseIsoWithTimezone } from './iso-time.js';
import type { JsonObject } from './json-value.js';
import { makeNonce, MIN_SECRET_BYTES } from './secrets.js';

/**
 * The session a signed frame is bound to. These three values go into the
 * signed envelope but never onto the wire.
 * - WebSocket: `sessionId` is the UUID from `hello_ack`.
 * - Long-poll: `sessionId` is the `X-Z4J-Session-Nonce` header ("" without one).
 *
 * @example
 * const binding: SessionBinding = { agentId: agent.id, projectId: project.id, sessionId: randomUUID() };
 */
export interface SessionBinding {
  /** Agent UUID, lowercase with hyphens. */
  readonly agentId: string;
  /** Project UUID, lowercase with hyphens. */
  readonly projectId: string;
  /** Session id (see above). */
  readonly sessionId: string;
}

/**
 * Largest accepted `nonce` length: 32 (z4j-core's cap; real nonces are 22 chars).
 *
 * @example
 * nonce.length <= MAX_NONCE_LENGTH
 */
export const MAX_NONCE_LENGTH = 32;

/**
 * The canonical JSON string z4j protocol 2 signs for a frame: the frame as on
 * the wire minus `hmac`, with `agent_id`, `project_id` and `session_id` set
 * (overwritten if present) from the binding.
 *
 * @example
 * signingInput({ v: 2, type: 'heartbeat', id: 'hb_1', ts, nonce, seq: 1, payload: {} }, binding)
 * // '{"agent_id":"…","id":"hb_1",…,"v":2}'
 */
export function signingInput(frame: JsonObject, binding: SessionBinding): string {
  const envelope: JsonObject = {};
  for (const key of Object.keys(frame)) {
    if (key === 'hmac') continue;
    const value = frame[key]!;
    if (key === '__proto__') {
      Object.defineProperty(envelope, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      envelope[key] = value;
    }
  }
  envelope.agent_id = binding.agentId;
  envelope.project_id = binding.projectId;
  envelope.session_id = binding.sessionId;
  return canonicalJson(envelope);
}

/**
 * The `hmac` of a frame: lowercase hex HMAC-SHA256 under the project secret
 * over {@link signingInput}. Whatever `hmac` the frame carries is ignored.
 *
 * @example
 * computeFrameHmac(secret, wireFrame, binding) === wireFrame.hmac
 */
export function computeFrameHmac(secret: Buffer, frame: JsonObject, binding: SessionBinding): string {
  return createHmac('sha256', secret).update(signingInput(frame, binding), 'utf8').digest('hex');
}

/**
 * The parts of the canonical signing input that only the session binding decides, around the frame's own
 * keys: `{"agent_id":…,` + id, nonce, payload + `,"project_id":…,"seq":` + seq + `,"session_id":…,` + ts,
 * type, v. Fixed for a session, so the signer and the verifier build them once.
 */
interface BindingPieces {
  readonly agentPrefix: Buffer;
  readonly project: string;
  readonly session: string;
}

function bindingPieces(binding: SessionBinding): BindingPieces {
  return {
    agentPrefix: Buffer.from(`{"agent_id":${canonicalJson(binding.agentId)},`, 'utf8'),
    project: `,"project_id":${canonicalJson(binding.projectId)},"seq":`,
    session: `,"session_id":${canonicalJson(binding.sessionId)},`,
  };
}

function assertSecret(secret: Buffer, who: string): void {
  if (!Buffer.isBuffer(secret) || secret.length < MIN_SECRET_BYTES) {
    throw new RangeError(`${who} secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
}

/**
 * Options for {@link FrameSigner}.
 *
 * @example
 * const options: FrameSignerOptions = { secret, binding, now: clock.now }; // nonce and initialSeq default
 */
export interface FrameSignerOptions {
  /** The 32-byte project secret ({@link deriveProjectSecret} / {@link decodeHmacSecret}). */
  secret: Buffer;
  /** The session the frames are bound to. */
  binding: SessionBinding;
  /** Clock for `ts`. Default `() => new Date()`. */
  now?: () => Date;
  /** Nonce source. Default {@link makeNonce} (`token_urlsafe(16)`, 22 chars). */
  nonce?: () => string;
  /** First `seq` to use. Default 1 (every new session starts at 1). */
  initialSeq?: number;
}

/**
 * The unsigned part of a frame handed to {@link FrameSigner.sign}.
 *
 * @example
 * const f: UnsignedFrame<'command'> = { type: 'command', id: commandId, payload };
 */
export type UnsignedFrame<T extends SignedFrameType = SignedFrameType, P extends JsonObject = JsonObject> = {
  type: T;
  id: string;
  payload: P;
};

/**
 * Signs outbound frames for one direction of one session. Owns the `seq`
 * counter (1, 2, 3…), so frames must be sent in the order they were signed —
 * on the brain the one signer serves both `event_batch_ack` and `command`.
 *
 * @example
 * const signer = new FrameSigner({ secret, binding });
 * const frame = signer.sign({ type: 'heartbeat', id: 'hb_0123456789ab', payload });
 * ws.send(signer.encode(frame));
 */
export class FrameSigner {
  readonly #secret: Buffer;
  readonly #binding: SessionBinding;
  readonly #now: () => Date;
  readonly #nonce: () => string;
  #nextSeq: number;
  readonly #pieces: BindingPieces;

  constructor(options: FrameSignerOptions) {
    assertSecret(options.secret, 'FrameSigner');
    this.#secret = options.secret;
    this.#binding = options.binding;
    this.#pieces = bindingPieces(options.binding);
    this.#now = options.now ?? (() => new Date());
    this.#nonce = options.nonce ?? makeNonce;
    this.#nextSeq = options.initialSeq ?? 1;
    if (!Number.isSafeInteger(this.#nextSeq) || this.#nextSeq < 1) throw new RangeError('initialSeq must be an integer >= 1');
  }

  /** The `seq` the next signed frame will carry. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /**
   * Stamps `v: 2`, `ts` (now, ISO with `Z`), a fresh `nonce` and the next
   * `seq`, then adds `hmac`. The input is not modified.
   *
   * @throws {TypeError} for a type off the signed allow-list, an id outside
   *   1–64 chars or a non-object payload.
   * @example
   * signer.sign({ type: 'command_ack', id: commandId, payload: {} }).seq // 1, then 2, …
   */
  sign<T extends SignedFrameType, P extends JsonObject>(frame: UnsignedFrame<T, P>): SignedFrame<T, P> {
    if (!isSignedFrameType(frame.type)) throw new TypeError(`not a signed frame type: ${String(frame.type)}`);
    if (typeof frame.id !== 'string' || frame.id.length < 1 || frame.id.length > 64) {
      throw new TypeError('frame id must be 1 to 64 characters');
    }
    if (!isJsonObject(frame.payload)) throw new TypeError('frame payload must be a JSON object');
    const nonce = this.#nonce();
    const signed: SignedFrame<T, P> = {
      v: FRAME_VERSION,
      type: frame.type,
      id: frame.id,
      ts: isoTimestamp(this.#now()),
      nonce,
      seq: this.#nextSeq,
      payload: frame.payload,
      hmac: '',
    };
    signed.hmac = computeFrameHmac(this.#secret, signed, this.#binding);
    this.#nextSeq++;
    return signed;
  }

  /**
   * sign() + encode() in one pass: the payload (nearly all of a frame's bytes) is canonicalised once and
   * spliced into both the HMAC input and the wire bytes, instead of twice by the generic path. The output
   * is byte-for-byte what `encode(sign(frame))` gives (the envelope's keys are fixed ASCII names, so their
   * canonical order is known).
   *
   * @example
   * ws.send(signer.signEncoded({ type: 'heartbeat', id: 'hb_1', payload: {} }));
   */
  signEncoded(frame: UnsignedFrame): Buffer {
    if (!isJsonObject(frame.payload)) throw new TypeError('frame payload must be a JSON object');
    return this.signCanonicalPayload(frame.type, frame.id, canonicalJson(frame.payload));
  }

  /**
   * {@link signEncoded} for a payload that is already canonical JSON text: a frame sent more than once (a
   * batch re-sent after a reconnect) pays for canonicalising its payload once. The caller guarantees
   * `payload` is `canonicalJson()` output of an object; anything else gives a frame receivers reject.
   *
   * @example
   * const payload = canonicalJson({ events });
   * ws.send(signer.signCanonicalPayload('event_batch', batchId, payload));
   */
  signCanonicalPayload(type: SignedFrameType, id: string, payload: string): Buffer {
    if (!isSignedFrameType(type)) throw new TypeError(`not a signed frame type: ${String(type)}`);
    if (typeof id !== 'string' || id.length < 1 || id.length > 64) throw new TypeError('frame id must be 1 to 64 characters');
    if (typeof payload !== 'string' || !payload.startsWith('{')) throw new TypeError('frame payload must be canonical JSON of an object');
    const seq = this.#nextSeq;
    // Canonical key order: agent_id < hmac < id < nonce < payload < project_id < seq < session_id < ts < type < v.
    // The payload (nearly all of the bytes) is encoded to UTF-8 once and fed to both the HMAC and the wire copy.
    const common = Buffer.from(`"id":${canonicalJson(id)},"nonce":${canonicalJson(this.#nonce())},"payload":${payload}`, 'utf8');
    const tail = `"ts":${canonicalJson(isoTimestamp(this.#now()))},"type":${canonicalJson(type)},"v":${FRAME_VERSION}}`;
    const hmac = createHmac('sha256', this.#secret)
      .update(this.#pieces.agentPrefix)
      .update(common)
      .update(`${this.#pieces.project}${seq}${this.#pieces.session}${tail}`, 'utf8')
      .digest('hex');
    this.#nextSeq++;
    const head = `{"hmac":"${hmac}",`;
    const after = `,"seq":${seq},${tail}`;
    const afterBytes = Buffer.byteLength(after, 'utf8');
    const wire = Buffer.allocUnsafe(head.length + common.length + afterBytes);
    wire.write(head, 0, 'latin1');
    common.copy(wire, head.length);
    wire.write(after, head.length + common.length, 'utf8');
    return wire;
  }

  /**
   * Wire bytes of a frame: canonical JSON (so a Python peer re-canonicalises
   * it to the very bytes that were signed, floats included).
   *
   * @example
   * ws.send(signer.encode(signer.sign(frame)));
   */
  encode(frame: JsonObject): Buffer {
    return canonicalBytes(frame);
  }
}

/**
 * Options for {@link ReplayGuard}. Defaults: 60 s skew, 180 s nonce memory, 4096 nonces.
 *
 * @example
 * new ReplayGuard({ now: clock.now, maxSkewMs: 60_000 })
 */
export interface ReplayGuardOptions {
  /** Clock for the skew window and nonce ages. Default `() => new Date()`. */
  now?: () => Date;
  /** Largest accepted |now − ts|. Default 60 000 ms (`MAX_FRAME_TS_SKEW_SECONDS`). */
  maxSkewMs?: number;
  /** How long a nonce is remembered. Default 180 000 ms (`MAX_NONCE_TRACK_SECONDS`). */
  nonceTtlMs?: number;
  /** Most nonces remembered; the oldest is forgotten first. Default 4096. */
  maxNonces?: number;
}

/**
 * Replay and freshness rules for one direction of one session, applied after
 * the HMAC check:
 * - `seq`: an integer ≥ 1, strictly greater than the last accepted (gaps allowed);
 * - `ts`: ISO-8601 with a timezone, within ±`maxSkewMs` of now;
 * - `nonce`: a string of 1–32 chars not seen in the last `nonceTtlMs`
 *   (at most `maxNonces` remembered).
 * State (last seq, nonce window) changes only when every rule passes.
 *
 * @example
 * const guard = new ReplayGuard({ now: clock.now });
 * guard.check(frame); // throws FrameVerificationError ('seq' | 'ts' | 'nonce')
 */
export class ReplayGuard {
  readonly #now: () => Date;
  readonly #maxSkewMs: number;
  readonly #nonceTtlMs: number;
  readonly #maxNonces: number;
  /** nonce -> time accepted (ms); Map iteration order is insertion order = age order. */
  readonly #nonces = new Map<string, number>();
  /**
   * The same nonces in arrival order (= Map order; a nonce is never re-inserted), from #head on. Eviction
   * walks this instead of iterating the Map: a V8 Map that is appended at one end and deleted at the other
   * keeps the deleted entries as holes until it rehashes, so every iteration from the start would skip
   * thousands of them on each frame.
   */
  #order: string[] = [];
  #head = 0;
  #lastSeq = 0;

  constructor(options: ReplayGuardOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#maxSkewMs = options.maxSkewMs ?? 60_000;
    this.#nonceTtlMs = options.nonceTtlMs ?? 180_000;
    this.#maxNonces = options.maxNonces ?? 4096;
  }

  /** The last accepted `seq` (0 before the first frame). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** How many nonces are currently remembered. */
  get nonceCount(): number {
    return this.#nonces.size;
  }

  /**
   * Applies the rules to a frame's `seq`, `ts` and `nonce`, and on success
   * records them.
   *
   * @throws {FrameVerificationError} with reason `seq`, `ts` or `nonce`.
   * @example
   * guard.check({ seq: 1, ts: '2026-01-01T00:00:00Z', nonce: 'AAAAAAAAAAAAAAAAAAAAAA' })
   */
  check(frame: JsonObject): void {
    const seq = frame.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      throw new FrameVerificationError('seq', 'frame seq must be an integer >= 1');
    }
    if (seq <= this.#lastSeq) {
      throw new FrameVerificationError('seq', `frame seq ${seq} is not greater than the last accepted ${this.#lastSeq}`);
    }
    const ts = frame.ts;
    if (typeof ts !== 'string') throw new FrameVerificationError('ts', 'frame ts must be an ISO-8601 string');
    const at = parseIsoWithTimezone(ts);
    if (at === null) {
      throw new FrameVerificationError('ts', 'frame ts must be ISO-8601 with a timezone (naive timestamps are refused)');
    }
    const nowMs = this.#now().getTime();
    const skew = Math.abs(nowMs - at.getTime());
    if (skew > this.#maxSkewMs) {
      throw new FrameVerificationError('ts', `frame ts is ${Math.round(skew / 1000)} s away from now (limit ${this.#maxSkewMs / 1000} s)`);
    }
    const nonce = frame.nonce;
    if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > MAX_NONCE_LENGTH) {
      throw new FrameVerificationError('nonce', `frame nonce must be a string of 1 to ${MAX_NONCE_LENGTH} characters`);
    }
    this.#evictExpired(nowMs);
    if (this.#nonces.has(nonce)) throw new FrameVerificationError('nonce', 'frame nonce was seen recently (replay)');

    this.#lastSeq = seq;
    this.#nonces.set(nonce, nowMs);
    this.#order.push(nonce);
    while (this.#nonces.size > this.#maxNonces) this.#nonces.delete(this.#order[this.#head++]!);
    if (this.#head >= 1024 && this.#head * 2 >= this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }

  #evictExpired(nowMs: number): void {
    const cutoff = nowMs - this.#nonceTtlMs;
    while (this.#head < this.#order.length) {
      const nonce = this.#order[this.#head]!;
      if (this.#nonces.get(nonce)! >= cutoff) return;
      this.#nonces.delete(nonce);
      this.#head++;
    }
  }
}

/**
 * Options for {@link FrameVerifier}: the secret and binding plus {@link ReplayGuardOptions}
 * (defaults: 60 s skew, 180 s nonce memory, 4096 nonces).
 *
 * @example
 * new FrameVerifier({ secret, binding: { agentId, projectId, sessionId } })
 */
export interface FrameVerifierOptions extends ReplayGuardOptions {
  /** The 32-byte project secret. */
  secret: Buffer;
  /** The session inbound frames must be bound to. */
  binding: SessionBinding;
}

/**
 * A frame that passed {@link FrameVerifier.verify}.
 *
 * @example
 * const f: VerifiedFrame = verifier.verify(parseFrame(bytes)); // f.type is a SignedFrameType
 */
export type VerifiedFrame = JsonObject & {
  v: 2;
  type: SignedFrameType;
  id: string;
  ts: string;
  nonce: string;
  seq: number;
  hmac: string;
  payload?: JsonObject;
};

const HMAC_HEX_LENGTH = 64;

/**
 * Verifies inbound signed frames for one direction of one session, in the
 * order z4j-core uses: `v` is the integer 2, `type` is on the signed
 * allow-list, `payload` is an object or absent; then the HMAC (constant time;
 * a length mismatch is a rejection); then the {@link ReplayGuard}. A frame
 * that fails the HMAC never touches the replay state.
 *
 * @example
 * const verifier = new FrameVerifier({ secret, binding });
 * try { verifier.verify(parseFrame(bytes)) } catch (err) { ws.close(4403) }
 */
export class FrameVerifier {
  readonly #secret: Buffer;
  readonly #binding: SessionBinding;
  /** The replay state of this session direction. */
  readonly replayGuard: ReplayGuard;
  /** The fixed pieces of the signing input around the wire's own bytes (see #wireHmacMatches). */
  readonly #pieces: BindingPieces;

  constructor(options: FrameVerifierOptions) {
    assertSecret(options.secret, 'FrameVerifier');
    this.#secret = options.secret;
    this.#binding = options.binding;
    this.replayGuard = new ReplayGuard(options);
    this.#pieces = bindingPieces(options.binding);
  }

  /**
   * Checks one frame; returns it typed when it passes. Given the `wire` bytes
   * the frame was parsed from, a frame that is already canonical on the wire
   * (what {@link FrameSigner.signEncoded} sends: z4j's own agents and brain)
   * is checked by hashing those bytes instead of re-serialising the frame;
   * any other frame (the Python agent's key order, spaces, extra keys) takes
   * the re-serialising path. The outcome is the same either way.
   *
   * @throws {FrameVerificationError} (close code 4403) naming the failed check.
   * @example
   * const frame = verifier.verify(parseFrame(bytes), bytes);
   * if (frame.type === 'heartbeat') handleHeartbeat(parsePayload('heartbeat', frame.payload));
   */
  verify(frame: JsonObject, wire?: Uint8Array): VerifiedFrame {
    if (frame.v !== FRAME_VERSION) throw new FrameVerificationError('version', 'frame v must be the integer 2');
    if (!isSignedFrameType(frame.type)) {
      throw new FrameVerificationError('type', `frame type ${JSON.stringify(frame.type ?? null)} is not a signed frame type`);
    }
    if (frame.payload !== undefined && !isJsonObject(frame.payload)) {
      throw new FrameVerificationError('payload', 'frame payload must be an object');
    }
    const provided = frame.hmac;
    if (typeof provided !== 'string' || provided.length !== HMAC_HEX_LENGTH) {
      throw new FrameVerificationError('hmac', 'frame hmac is missing or has the wrong length');
    }
    if (!(wire !== undefined && this.#wireHmacMatches(frame, provided, wire))) {
      const expected = computeFrameHmac(this.#secret, frame, this.#binding);
      // utf8, not latin1: latin1 would fold non-ASCII chars onto hex digits.
      const a = Buffer.from(provided, 'utf8');
      const b = Buffer.from(expected, 'utf8');
      if (a.length !== b.length || !timingSafeEqual(a, b)) {
        throw new FrameVerificationError('hmac', 'frame hmac does not match');
      }
    }
    this.replayGuard.check(frame);
    return frame as VerifiedFrame;
  }

  /**
   * The fast path of {@link verify}: whether the HMAC over the signing input
   * spliced together from the wire bytes matches. Applies only when the wire
   * has exactly the layout signEncoded() writes,
   *
   *   {"hmac":"<64 hex>",<id, nonce and payload>,"seq":<seq>,"ts":<ts>,"type":<type>,"v":2}
   *
   * which the parsed frame proves for the keys (exactly these, in this order)
   * and the bytes prove for the head and the tail; the signing input is then
   * {"agent_id":…,<the same middle bytes>,"project_id":…,"seq":<seq>,"session_id":…,"ts":…,"type":…,"v":2}.
   * A match means the signer HMACed exactly these bytes, so the frame parsed
   * from them is the frame it signed. A miss proves nothing (the middle may
   * simply not be canonical): the caller falls back to re-serialising.
   */
  #wireHmacMatches(frame: JsonObject, provided: string, wire: Uint8Array): boolean {
    let keys = 0;
    for (const key in frame) {
      if (key !== CANONICAL_WIRE_KEYS[keys]) return false;
      keys++;
    }
    if (keys !== CANONICAL_WIRE_KEYS.length) return false;
    // Lowercase hex only, like the re-serialising path's string compare (Buffer.from(hex) would accept 'AB').
    if (!LOWER_HEX_64.test(provided)) return false;
    const { seq, ts, type } = frame;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || typeof ts !== 'string' || typeof type !== 'string') return false;
    const bytes = Buffer.isBuffer(wire) ? wire : Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength);
    const head = `{"hmac":"${provided}",`;
    if (bytes.length < head.length || bytes.toString('latin1', 0, head.length) !== head) return false;
    const after = `"ts":${canonicalJson(ts)},"type":${canonicalJson(type)},"v":${FRAME_VERSION}}`;
    const tail = Buffer.from(`,"seq":${seq},${after}`, 'utf8');
    const middleEnd = bytes.length - tail.length;
    if (middleEnd <= head.length || !bytes.subarray(middleEnd).equals(tail)) return false;
    const expected = createHmac('sha256', this.#secret)
      .update(this.#pieces.agentPrefix)
      .update(bytes.subarray(head.length, middleEnd))
      .update(`${this.#pieces.project}${seq}${this.#pieces.session}${after}`, 'utf8')
      .digest();
    const actual = Buffer.from(provided, 'hex');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}

const LOWER_HEX_64 = /^[0-9a-f]{64}$/;

/** Top-level keys of a frame as {@link FrameSigner.signEncoded} writes it, in wire order. */
const CANONICAL_WIRE_KEYS = ['hmac', 'id', 'nonce', 'payload', 'seq', 'ts', 'type', 'v'] as const;
