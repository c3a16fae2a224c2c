import * as grpc from '@grpc/grpc-js';
import type { IngestBatchResult, IngestEventBatch, IngestSink } from '@z4j/ingest-contract';
import type { Logger } from '@z4j/logger';
import { defer, settlesWithin, type Deferred } from './deferred.js';
import { IngestService, type IngestRequest, type IngestResponse } from './gen/z4j/ingest/v1/ingest_pb.js';
import { grpcMethodDefinition } from './grpc-service-definition.js';
import { decodeIngestResult, encodeIngestRequest } from './ingest-codec.js';
import { INGEST_ERROR_CODES, IngestGrpcError } from './ingest-grpc-error.js';

export interface GrpcIngestClientOptions {
  /** `host:port` of the ingest deployment (`[v6]:port` for IPv6), e.g. `ingest:7702` (Z4J_INGEST_GRPC_URL). */
  readonly address: string;
  readonly logger: Logger;
  /** Shared secret sent as `authorization: Bearer <token>` on the stream (see {@link ingestStreamToken}). */
  readonly authToken: string;
  /** How long a written batch may wait for its answer before the submit rejects (default 120 000 ms). */
  readonly responseTimeoutMs?: number;
  /**
   * Most batches submitted and not yet answered (default 256). This is the
   * flow control the gateway feels: the 257th `submit()` does not resolve
   * until a response frees a slot, so ingest's pace reaches the agents.
   */
  readonly maxInFlight?: number;
  /** Delay before re-opening a broken stream: doubles from `initial` up to `max`, with jitter (default 200 ms … 10 s). */
  readonly reconnectBackoffMs?: { readonly initial: number; readonly max: number };
  /**
   * How long a submit waits for a usable stream before it rejects with
   * `ingest_unavailable` (default 30 000 ms; 0 waits as long as it takes,
   * still bounded by `maxInFlight`).
   */
  readonly connectTimeoutMs?: number;
  /** How long `close()` waits for in-flight responses before cancelling the stream (default 10 000 ms). */
  readonly closeTimeoutMs?: number;
  /**
   * HTTP/2 keepalive pings: one after `timeMs` without activity, and the
   * connection is declared dead when no ack comes within `timeoutMs`, which
   * breaks the stream (and rejects its in-flight batches) instead of letting
   * them hang on a vanished peer. Default 10 000 / 5 000 ms.
   */
  readonly keepalive?: { readonly timeMs: number; readonly timeoutMs: number };
  /** Largest request or response in bytes (default 64 MiB; a 32 MiB WebSocket frame must fit). */
  readonly maxMessageBytes?: number;
  /**
   * Channel credentials (default insecure, for a private cluster network).
   * For TLS: `grpc.credentials.createSsl(caPem)`; for mTLS add the gateway's
   * key and certificate: `grpc.credentials.createSsl(caPem, keyPem, certPem)`.
   */
  readonly credentials?: grpc.ChannelCredentials;
  /** Jitter source in [0, 1) (default Math.random); tests pass a fixed one. */
  readonly random?: () => number;
}

/**
 * - `connecting`: a stream is open but ingest has not answered its headers yet.
 * - `ready`: ingest answered; submits are written.
 * - `backoff`: the stream broke; a timer re-opens it.
 * - `closing` / `closed`: after `close()`.
 */
export type GrpcIngestClientState = 'connecting' | 'ready' | 'backoff' | 'closing' | 'closed';

export interface GrpcIngestClientStats {
  readonly state: GrpcIngestClientState;
  /** Submits holding an in-flight slot (waiting for the stream, or written and awaiting a response); at most `maxInFlight`. */
  readonly inFlight: number;
  /** Of those, written on the current stream and awaiting their response. */
  readonly awaitingResponse: number;
  /** Submits waiting for a free slot. */
  readonly waitingForSlot: number;
  /** The stream's write buffer is full (HTTP/2 flow control from ingest); writes wait for 'drain'. */
  readonly writeBlocked: boolean;
  /** Streams opened so far (the first one plus every reconnect attempt). */
  readonly streamsOpened: number;
}

/** An {@link IngestSink} backed by the remote ingest service, with its stats for metrics and readiness. */
export interface GrpcIngestClient extends IngestSink {
  stats(): GrpcIngestClientStats;
}

const DEFAULT_MAX_IN_FLIGHT = 256;
const DEFAULT_BACKOFF = { initial: 200, max: 10_000 } as const;
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
const DEFAULT_KEEPALIVE = { timeMs: 10_000, timeoutMs: 5_000 } as const;
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const INGEST_METHOD = grpcMethodDefinition(IngestService.method.ingest);

/** One attempt at the bidi stream. The client holds at most one at a time. */
interface IngestStream {
  readonly call: grpc.ClientDuplexStream<IngestRequest, IngestResponse>;
  /** Written requests awaiting their response, by request id. */
  readonly pending: Map<bigint, Deferred<IngestBatchResult>>;
  /** Ingest answered the headers (the server sends them as soon as the call starts). */
  ready: boolean;
  ended: boolean;
  readonly endedSignal: Deferred<void>;
  /** Set while the last write() returned false: nothing more is written until 'drain'. */
  drain: Deferred<void> | undefined;
  /** Set while close() waits for `pending` to empty. */
  idle: Deferred<void> | undefined;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  return value;
}

/**
 * The gateway's side of the gRPC seam: one long-lived bidi stream to ingest,
 * carrying every batch of this gateway process.
 *
 * Invariants:
 * - At most `maxInFlight` submits hold a slot; the rest wait for one (FIFO).
 *   A slot is held from before encoding until the submit settles, so memory
 *   for encoded batches is bounded too.
 * - Nothing is written while the stream is not `ready`, or while the last
 *   write reported a full buffer (until 'drain').
 * - When a stream ends, every request written on it and not answered is
 *   rejected with `stream_broken` (the gateway does not ack; the agent
 *   re-sends; ingest dedupes). Submits not yet written wait for the next
 *   stream instead, up to `connectTimeoutMs`.
 * - Request ids are unique for the client's lifetime, so a late response can
 *   never settle the wrong submit.
 *
 * @example
 * const sink = createGrpcIngestClient({ address: settings.ingestGrpcUrl, logger });
 * const result = await sink.submit(batch); // { received, accepted, rejected }
 */
export function createGrpcIngestClient(options: GrpcIngestClientOptions): GrpcIngestClient {
  const logger = options.logger.child({ component: 'ingest-grpc-client', address: options.address });
  const maxInFlight = positiveInteger('maxInFlight', options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  const responseTimeoutMs = positiveInteger('responseTimeoutMs', options.responseTimeoutMs ?? 120_000);
  const backoff = options.reconnectBackoffMs ?? DEFAULT_BACKOFF;
  const initialBackoff = nonNegative('reconnectBackoffMs.initial', backoff.initial);
  const maxBackoff = Math.max(initialBackoff, nonNegative('reconnectBackoffMs.max', backoff.max));
  const connectTimeoutMs = nonNegative('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const closeTimeoutMs = nonNegative('closeTimeoutMs', options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
  const keepalive = options.keepalive ?? DEFAULT_KEEPALIVE;
  const maxMessageBytes = positiveInteger('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  const random = options.random ?? Math.random;

  const client = new grpc.Client(options.address, options.credentials ?? grpc.credentials.createInsecure(), {
    'grpc.keepalive_time_ms': positiveInteger('keepalive.timeMs', keepalive.timeMs),
    'grpc.keepalive_timeout_ms': positiveInteger('keepalive.timeoutMs', keepalive.timeoutMs),
    // The stream may sit idle between bursts; a dead peer must still be noticed.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_receive_message_length': maxMessageBytes,
    // Reconnecting is this module's job (it must reject in-flight batches); grpc-js's retry layer would only buffer.
    'grpc.enable_retries': 0,
    // Keep the channel's own transport backoff in step with ours so neither waits on the other.
    'grpc.initial_reconnect_backoff_ms': Math.max(1, initialBackoff),
    'grpc.max_reconnect_backoff_ms': Math.max(1, maxBackoff),
  });

  let state: GrpcIngestClientState = 'connecting';
  let current: IngestStream | undefined;
  let attempt = 0;
  let streamsOpened = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let nextRequestId = 1n;
  let slotsHeld = 0;
  // Sets iterate in insertion order: FIFO with O(1) removal.
  const slotWaiters = new Set<Deferred<void>>();
  const readyWaiters = new Set<Deferred<void>>();
  let closePromise: Promise<void> | undefined;

  const isClosing = () => state === 'closing' || state === 'closed';
  const closedError = () => new IngestGrpcError(INGEST_ERROR_CODES.clientClosed, 'the ingest client is closed');

  function openStream(): void {
    streamsOpened += 1;
    state = 'connecting';
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${options.authToken}`);
    const call = client.makeBidiStreamRequest(
      INGEST_METHOD.path,
      INGEST_METHOD.requestSerialize,
      INGEST_METHOD.responseDeserialize,
      metadata,
    );
    const stream: IngestStream = {
      call,
      pending: new Map(),
      ready: false,
      ended: false,
      endedSignal: defer(),
      drain: undefined,
      idle: undefined,
    };
    current = stream;
    call.on('metadata', () => {
      if (stream.ended || stream.ready || isClosing()) return;
      stream.ready = true;
      state = 'ready';
      if (attempt > 0) logger.info({ attempts: attempt }, 'ingest:grpc:stream:reconnected');
      attempt = 0;
      for (const waiter of readyWaiters) waiter.resolve();
      readyWaiters.clear();
    });
    call.on('data', (response: IngestResponse) => onResponse(stream, response));
    call.on('drain', () => {
      const drain = stream.drain;
      stream.drain = undefined;
      drain?.resolve();
    });
    // grpc-js emits 'error' for every non-OK status and then 'status'; teardown happens on 'status'. Without
    // this listener the error would be thrown as unhandled.
    call.on('error', (error) => logger.debug({ err: error }, 'ingest:grpc:stream:error'));
    call.on('status', (status: grpc.StatusObject) => {
      // 'status' can overtake responses still buffered in the readable side: settle those first.
      const finish = () => onStreamEnded(stream, status);
      if (call.readableEnded) finish();
      else {
        call.once('end', finish);
        call.once('close', finish);
      }
    });
  }

  function onResponse(stream: IngestStream, response: IngestResponse): void {
    const waiter = stream.pending.get(response.requestId);
    if (waiter === undefined) {
      logger.warn({ requestId: response.requestId.toString(), errorCode: response.errorCode }, 'ingest:grpc:response:unmatched');
      return;
    }
    stream.pending.delete(response.requestId);
    if (response.errorCode === '') waiter.resolve(decodeIngestResult(response));
    else waiter.reject(new IngestGrpcError(response.errorCode, response.errorMessage || response.errorCode));
    if (stream.pending.size === 0 && stream.idle !== undefined) {
      stream.idle.resolve();
      stream.idle = undefined;
    }
  }

  function onStreamEnded(stream: IngestStream, status: grpc.StatusObject): void {
    if (stream.ended) return;
    stream.ended = true;
    if (current === stream) current = undefined;
    const closing = isClosing();
    const error = closing
      ? closedError()
      : new IngestGrpcError(
          INGEST_ERROR_CODES.streamBroken,
          `the ingest stream ended (${grpc.status[status.code] ?? status.code}: ${status.details}) before the batch was answered`,
        );
    const lost = stream.pending.size;
    for (const waiter of stream.pending.values()) waiter.reject(error);
    stream.pending.clear();
    stream.drain?.resolve();
    stream.drain = undefined;
    stream.idle?.resolve();
    stream.idle = undefined;
    stream.endedSignal.resolve();
    if (closing) return;
    const fields = { code: status.code, details: status.details, rejected: lost, attempt };
    if (stream.ready || attempt === 0)
      logger.warn(fields, stream.ready ? 'ingest:grpc:stream:broken' : 'ingest:grpc:stream:connect_failed');
    else logger.debug(fields, 'ingest:grpc:stream:connect_failed');
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    state = 'backoff';
    const ceiling = Math.min(maxBackoff, initialBackoff * 2 ** Math.min(attempt, 30));
    attempt += 1;
    // Half fixed, half random: spreads a fleet of gateways reconnecting to a restarted ingest.
    const delay = ceiling / 2 + (random() * ceiling) / 2;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (!isClosing()) openStream();
    }, delay);
  }

  async function acquireSlot(): Promise<void> {
    if (slotsHeld < maxInFlight) {
      slotsHeld += 1;
      return;
    }
    const waiter = defer();
    slotWaiters.add(waiter);
    // Resolved by releaseSlot(), which hands its slot over without decrementing.
    await waiter.promise;
  }

  function releaseSlot(): void {
    const next = slotWaiters.values().next();
    if (next.done === true) slotsHeld -= 1;
    else {
      slotWaiters.delete(next.value);
      next.value.resolve();
    }
  }

  async function waitForReady(): Promise<void> {
    const waiter = defer();
    readyWaiters.add(waiter);
    let timer: NodeJS.Timeout | undefined;
    if (connectTimeoutMs > 0) {
      timer = setTimeout(() => {
        readyWaiters.delete(waiter);
        waiter.reject(
          new IngestGrpcError(INGEST_ERROR_CODES.unavailable, `no ingest stream to ${options.address} within ${connectTimeoutMs} ms`),
        );
      }, connectTimeoutMs);
    }
    try {
      await waiter.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  async function submit(batch: IngestEventBatch): Promise<IngestBatchResult> {
    if (isClosing()) throw closedError();
    await acquireSlot();
    try {
      // Encoded once, after the slot is held (bounded memory); the id is set when it is written.
      const request = encodeIngestRequest(0n, batch);
      for (;;) {
        if (isClosing()) throw closedError();
        const stream = current;
        if (stream === undefined || !stream.ready || stream.ended) {
          await waitForReady();
          continue;
        }
        if (stream.drain !== undefined) {
          await stream.drain.promise;
          continue;
        }
        const requestId = nextRequestId;
        nextRequestId += 1n;
        request.requestId = requestId;
        const response = defer<IngestBatchResult>();
        stream.pending.set(requestId, response);
        if (!stream.call.write(request)) stream.drain = defer();
        // A hung ingest must not hold this slot (and the gateway session behind it) forever. The batch may
        // still commit later; the gateway then simply does not ack it, and the agent's re-send is deduplicated.
        const timer = setTimeout(() => {
          if (stream.pending.get(requestId) !== response) return;
          stream.pending.delete(requestId);
          response.reject(new IngestGrpcError(INGEST_ERROR_CODES.responseTimeout, `no answer from ingest within ${responseTimeoutMs} ms`));
        }, responseTimeoutMs);
        timer.unref();
        try {
          return await response.promise;
        } finally {
          clearTimeout(timer);
        }
      }
    } finally {
      releaseSlot();
    }
  }

  async function shutdown(): Promise<void> {
    state = 'closing';
    clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    const error = closedError();
    for (const waiter of slotWaiters) waiter.reject(error);
    slotWaiters.clear();
    for (const waiter of readyWaiters) waiter.reject(error);
    readyWaiters.clear();
    const stream = current;
    if (stream !== undefined && !stream.ended) {
      // Submits parked on 'drain' wake up, see `closing` and reject: nothing new is written from here on.
      stream.drain?.resolve();
      stream.drain = undefined;
      const deadline = Date.now() + closeTimeoutMs;
      if (stream.ready) {
        if (stream.pending.size > 0) {
          stream.idle ??= defer();
          if (!(await settlesWithin(stream.idle.promise, deadline - Date.now())))
            logger.warn({ unanswered: stream.pending.size, closeTimeoutMs }, 'ingest:grpc:close:timeout');
        }
        // Half-close: the server answers what it has and ends the call with OK.
        if (!stream.ended) {
          stream.call.end();
          await settlesWithin(stream.endedSignal.promise, deadline - Date.now());
        }
      }
      if (!stream.ended) {
        stream.call.cancel();
        onStreamEnded(stream, { code: grpc.status.CANCELLED, details: 'ingest client closed', metadata: new grpc.Metadata() });
      }
    }
    client.close();
    state = 'closed';
    logger.debug('ingest:grpc:client:closed');
  }

  openStream();

  return {
    submit,
    close: () => (closePromise ??= shutdown()),
    stats: () => ({
      state,
      inFlight: slotsHeld,
      awaitingResponse: current?.pending.size ?? 0,
      waitingForSlot: slotWaiters.size,
      writeBlocked: current?.drain !== undefined,
      streamsOpened,
    }),
  };
}
