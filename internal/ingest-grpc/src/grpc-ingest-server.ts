import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { IngestSink } from '@z4j/ingest-contract';
import type { Logger } from '@z4j/logger';
import { defer, settlesWithin, type Deferred } from './deferred.js';
import { IngestService, type IngestRequest, type IngestResponse } from './gen/z4j/ingest/v1/ingest_pb.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './grpc-ingest-client.js';
import { grpcServiceDefinition } from './grpc-service-definition.js';
import { widenReceiveWindow } from './http2-receive-window.js';
import { decodeIngestRequest, encodeIngestError, encodeIngestResult, errorCodeOf, errorMessageOf } from './ingest-codec.js';
import { INGEST_ERROR_CODES } from './ingest-grpc-error.js';

export interface GrpcIngestServerOptions {
  /** Where batches go: the ingest pipeline. The server does not close it; the composition root does. */
  readonly sink: IngestSink;
  readonly logger: Logger;
  /**
   * Shared secret every stream must present as `authorization: Bearer <token>` metadata
   * (see {@link ingestStreamToken}). Without it anyone who can reach the port could write
   * events into any project, bypassing the gateway's token and HMAC checks.
   */
  readonly authToken: string;
  /**
   * Most batches one stream may have in the sink at once (default 256). At
   * the cap the server stops reading that stream; HTTP/2 flow control then
   * backs up the gateway's writes, so a slow database slows the gateway
   * instead of growing a queue here.
   */
  readonly maxInFlightPerStream?: number;
  /**
   * Server credentials (default insecure, for a private cluster network).
   * For mTLS: `grpc.ServerCredentials.createSsl(caPem, [{ private_key, cert_chain }], true)`.
   */
  readonly credentials?: grpc.ServerCredentials;
  /** Largest request or response in bytes (default 64 MiB). */
  readonly maxMessageBytes?: number;
  /** HTTP/2 keepalive pings towards gateways, so a vanished one frees its stream (default 30 000 / 10 000 ms). */
  readonly keepalive?: { readonly timeMs: number; readonly timeoutMs: number };
  /**
   * HTTP/2 receive window per gateway connection in bytes (default 8 MiB; 0
   * keeps grpc-js's 64 KiB). Bounds how far a gateway can write ahead of
   * ingest's reads; 64 KiB stalls the stream on every ~170 kB batch. See
   * `http2-receive-window.ts`.
   */
  readonly receiveWindowBytes?: number;
}

export interface GrpcIngestServer {
  /** Binds `host:port` (0 = ephemeral) and starts serving; resolves to the bound port. */
  listen(host: string, port: number): Promise<number>;
  /**
   * Stops accepting streams, stops reading new requests, answers every batch
   * already in the sink, then ends each stream with UNAVAILABLE so gateways
   * reconnect elsewhere. Whatever is still open after `graceMs` is cut off
   * (`forceShutdown`); those gateways reject their in-flight batches and the
   * agents re-send.
   */
  close(graceMs: number): Promise<void>;
}

const DEFAULT_MAX_IN_FLIGHT_PER_STREAM = 256;
const DEFAULT_KEEPALIVE = { timeMs: 30_000, timeoutMs: 10_000 } as const;
const DEFAULT_RECEIVE_WINDOW_BYTES = 8 * 1024 * 1024;

type IngestCall = grpc.ServerDuplexStream<IngestRequest, IngestResponse>;

/**
 * One gateway's stream. Reading is paused while `outstanding` is at the cap
 * or the last response write reported a full buffer, and while the server
 * drains; it resumes when both clear. The call ends once the gateway has
 * half-closed (or the server drains) and `outstanding` is zero.
 */
interface StreamState {
  readonly call: IngestCall;
  readonly peer: string;
  /** Requests read and not yet answered (in the sink, or being decoded). */
  outstanding: number;
  paused: boolean;
  /** call.write() returned false; wait for 'drain' before reading more. */
  needsDrain: boolean;
  /** The gateway half-closed: answer what is outstanding, then end. */
  clientDone: boolean;
  /** Server shutdown: stop reading, answer what is outstanding, then end with UNAVAILABLE. */
  draining: boolean;
  /** Cancelled or ended: responses are dropped. */
  finished: boolean;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** `::1` → `[::1]` so the port separator is unambiguous. */
function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The ingest side of the gRPC seam. Each gateway process holds one
 * `IngestService.Ingest` stream; every request is decoded, handed to the
 * sink, and answered when the sink settles. Answers go out in completion
 * order, correlated by request_id. A request that cannot be read gets an
 * `invalid_request` answer; nothing a client sends crashes the server.
 *
 * @example
 * const server = createGrpcIngestServer({ sink: pipeline, logger });
 * const port = await server.listen(settings.ingestGrpcBindHost, settings.ingestGrpcBindPort);
 * // on SIGTERM:
 * await server.close(5000);
 */
export function createGrpcIngestServer(options: GrpcIngestServerOptions): GrpcIngestServer {
  const logger = options.logger.child({ component: 'ingest-grpc-server' });
  const { sink } = options;
  const maxInFlight = positiveInteger('maxInFlightPerStream', options.maxInFlightPerStream ?? DEFAULT_MAX_IN_FLIGHT_PER_STREAM);
  const maxMessageBytes = positiveInteger('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  const keepalive = options.keepalive ?? DEFAULT_KEEPALIVE;
  const receiveWindow = options.receiveWindowBytes ?? DEFAULT_RECEIVE_WINDOW_BYTES;
  if (!Number.isSafeInteger(receiveWindow) || receiveWindow < 0)
    throw new RangeError(`receiveWindowBytes must be an integer ≥ 0, got ${receiveWindow}`);
  const widenedSessions = new WeakSet<object>();
  let windowWarned = false;
  const server = new grpc.Server({
    // Not read by grpc-js 1.14's server yet (grpc/grpc-node#3058); http2-receive-window.ts does it meanwhile.
    ...(receiveWindow > 0 ? { 'grpc-node.flow_control_window': receiveWindow } : {}),
    'grpc.keepalive_time_ms': positiveInteger('keepalive.timeMs', keepalive.timeMs),
    'grpc.keepalive_timeout_ms': positiveInteger('keepalive.timeoutMs', keepalive.timeoutMs),
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_receive_message_length': maxMessageBytes,
  });
  const streams = new Set<StreamState>();
  /** Requests read and not yet answered, over all streams (including ones whose gateway went away). */
  let activeRequests = 0;
  let allAnswered: Deferred<void> | undefined;
  let closing = false;
  let listening = false;
  let closePromise: Promise<void> | undefined;

  function updateFlow(stream: StreamState): void {
    const shouldPause = stream.draining || stream.needsDrain || stream.outstanding >= maxInFlight;
    if (shouldPause && !stream.paused) {
      stream.paused = true;
      stream.call.pause();
    } else if (!shouldPause && stream.paused) {
      stream.paused = false;
      stream.call.resume();
    }
  }

  function finishIfDone(stream: StreamState): void {
    if (stream.outstanding > 0 || stream.finished) return;
    if (stream.draining) {
      stream.finished = true;
      // Handled by grpc-js's own 'error' listener: it becomes the call's status and ends the call.
      stream.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'ingest is shutting down' });
    } else if (stream.clientDone) {
      stream.finished = true;
      stream.call.end();
    }
  }

  function respond(stream: StreamState, response: IngestResponse): void {
    stream.outstanding -= 1;
    activeRequests -= 1;
    if (activeRequests === 0 && allAnswered !== undefined) {
      allAnswered.resolve();
      allAnswered = undefined;
    }
    if (!stream.finished && !stream.call.cancelled && !stream.call.writableEnded) {
      if (!stream.call.write(response)) stream.needsDrain = true;
    }
    finishIfDone(stream);
    if (!stream.finished) updateFlow(stream);
  }

  async function handle(stream: StreamState, request: IngestRequest): Promise<IngestResponse> {
    const decoded = decodeIngestRequest(request);
    if (!decoded.ok) {
      logger.warn({ peer: stream.peer, requestId: request.requestId.toString(), reason: decoded.message }, 'ingest:grpc:request:invalid');
      return encodeIngestError(request.requestId, INGEST_ERROR_CODES.invalidRequest, decoded.message);
    }
    try {
      return encodeIngestResult(request.requestId, await sink.submit(decoded.batch));
    } catch (error) {
      const code = errorCodeOf(error);
      // Logged here, where the error is mapped; the gateway only sees the code.
      logger.warn(
        { err: error, code, projectId: decoded.batch.projectId, agentId: decoded.batch.agentId, frameId: decoded.batch.frameId },
        'ingest:grpc:submit:failed',
      );
      return encodeIngestError(request.requestId, code, errorMessageOf(error));
    }
  }

  function bearerMatches(values: grpc.MetadataValue[], expected: string): boolean {
    const presented = typeof values[0] === 'string' ? /^Bearer (.+)$/i.exec(values[0])?.[1] : undefined;
    if (!presented) return false;
    const a = createHash('sha256').update(presented).digest();
    const b = createHash('sha256').update(expected).digest();
    return timingSafeEqual(a, b);
  }

  function onCall(call: IngestCall): void {
    const stream: StreamState = {
      call,
      peer: call.getPeer(),
      outstanding: 0,
      paused: false,
      needsDrain: false,
      clientDone: false,
      draining: false,
      finished: false,
    };
    if (closing) {
      stream.finished = true;
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'ingest is shutting down' });
      return;
    }
    if (!bearerMatches(call.metadata.get('authorization'), options.authToken)) {
      stream.finished = true;
      logger.warn({ peer: stream.peer }, 'ingest:grpc:unauthenticated');
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'ingest stream token missing or wrong' });
      return;
    }
    streams.add(stream);
    // Headers right away: the client treats them as "stream established" before it writes anything.
    call.sendMetadata(new grpc.Metadata());
    if (receiveWindow > 0 && !widenReceiveWindow(call, receiveWindow, widenedSessions) && !windowWarned) {
      windowWarned = true;
      logger.warn({ receiveWindow }, 'ingest:grpc:receive_window:unavailable');
    }
    logger.debug({ peer: stream.peer }, 'ingest:grpc:stream:opened');
    call.on('data', (request: IngestRequest) => {
      stream.outstanding += 1;
      activeRequests += 1;
      updateFlow(stream);
      void handle(stream, request)
        .then((response) => respond(stream, response))
        .catch((error: unknown) => logger.error({ err: error, peer: stream.peer }, 'ingest:grpc:respond:failed'));
    });
    call.on('drain', () => {
      stream.needsDrain = false;
      if (!stream.finished) updateFlow(stream);
    });
    call.on('end', () => {
      stream.clientDone = true;
      finishIfDone(stream);
    });
    call.on('cancelled', () => {
      // The gateway went away: it has already rejected what it sent; the sink finishes those batches anyway.
      stream.finished = true;
      if (stream.outstanding > 0) logger.info({ peer: stream.peer, outstanding: stream.outstanding }, 'ingest:grpc:stream:cancelled');
    });
    call.on('error', (error) => logger.debug({ err: error, peer: stream.peer }, 'ingest:grpc:stream:error'));
    call.on('close', () => {
      stream.finished = true;
      streams.delete(stream);
    });
  }

  server.addService(grpcServiceDefinition(IngestService), { ingest: onCall });

  async function listen(host: string, port: number): Promise<number> {
    if (listening) throw new Error('the ingest gRPC server is already listening');
    if (closing) throw new Error('the ingest gRPC server is closed');
    listening = true;
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(bindAddress(host, port), options.credentials ?? grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
        error ? reject(error) : resolve(boundPort),
      );
    }).catch((error: unknown) => {
      listening = false; // e.g. EADDRINUSE: the caller may retry
      throw error;
    });
    logger.info({ host, port: bound }, 'ingest:grpc:listening');
    return bound;
  }

  async function shutdown(graceMs: number): Promise<void> {
    closing = true;
    const deadline = Date.now() + Math.max(0, graceMs);
    logger.info({ streams: streams.size, graceMs }, 'ingest:grpc:draining');
    // Stop accepting connections and calls; existing streams carry on until they end.
    const sessionsClosed = defer();
    server.tryShutdown(() => sessionsClosed.resolve());
    for (const stream of streams) {
      if (stream.finished) continue;
      stream.draining = true;
      updateFlow(stream);
      finishIfDone(stream);
    }
    // Every batch handed to the sink is answered (or, for a gateway that went away, at least settled), so the
    // composition root can close the sink after this without cutting a commit short.
    if (activeRequests > 0) allAnswered ??= defer();
    const answered = allAnswered?.promise ?? Promise.resolve();
    const drained = await settlesWithin(Promise.all([answered, sessionsClosed.promise]), deadline - Date.now());
    if (!drained) {
      logger.warn({ streams: streams.size }, 'ingest:grpc:drain:timeout');
      server.forceShutdown();
    }
    logger.info('ingest:grpc:closed');
  }

  return {
    listen,
    close: (graceMs) => (closePromise ??= shutdown(graceMs)),
  };
}
