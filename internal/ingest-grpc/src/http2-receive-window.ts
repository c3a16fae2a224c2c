import type { ServerDuplexStream } from '@grpc/grpc-js';

/**
 * grpc-js's server keeps Node's HTTP/2 receive windows of 64 KiB per
 * connection and per stream and has no option to change them (the client
 * has `grpc-node.flow_control_window`; grpc/grpc-node#3058 proposes the same
 * for the server). For this seam that is the throughput ceiling: a 500-event
 * batch is ~170 kB, so every batch needs several WINDOW_UPDATE round trips,
 * and those are only sent when ingest's event loop gets to them, so the
 * gateway stalls whenever ingest is busy decoding. Measured on loopback
 * between two processes (2 cores, 500-event batches): ~175–200 batches/s
 * with 64 KiB windows, with neither process saturated; ~280–350 with 8 MiB,
 * where the gateway's JSON encoding becomes the limit.
 *
 * Until grpc-js has the option, this reaches the call's HTTP/2 session
 * through grpc-js internals (`call.call[.nextCall…].stream.session`), feature-
 * detected at every step: if a grpc-js release moves them, nothing breaks,
 * the windows just stay at 64 KiB (and `http2-receive-window.test.ts` fails,
 * so the upgrade is noticed). Flow control is unaffected in kind: the window
 * still bounds what a gateway can push ahead of ingest, only at `bytes`
 * rather than 64 KiB per connection. Delete this module when grpc-js reads
 * `grpc-node.flow_control_window` on the server (it is already passed).
 */

/** The part of Node's ServerHttp2Session this touches. */
interface Http2SessionLike {
  setLocalWindowSize(windowSize: number): void;
  settings(settings: { initialWindowSize: number }): void;
  readonly state: { readonly localWindowSize?: number };
}

function isSession(value: unknown): value is Http2SessionLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<Http2SessionLike>).setLocalWindowSize === 'function' &&
    typeof (value as Partial<Http2SessionLike>).settings === 'function'
  );
}

function property(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** The HTTP/2 session under a grpc-js server call, or undefined when grpc-js's internals are not as expected. */
export function http2SessionOf(call: ServerDuplexStream<unknown, unknown>): Http2SessionLike | undefined {
  // ServerDuplexStreamImpl.call → (ServerInterceptingCall.nextCall)* → BaseServerInterceptingCall.stream.session
  let node = property(call, 'call');
  for (let hop = 0; hop < 16 && node !== undefined; hop += 1) {
    const session = property(property(node, 'stream'), 'session');
    if (isSession(session)) return session;
    node = property(node, 'nextCall');
  }
  return undefined;
}

/** Largest HTTP/2 window (2^31 − 1). */
export const MAX_HTTP2_WINDOW = 2 ** 31 - 1;

/**
 * Raises the receive windows of the session carrying `call` to `bytes`
 * (connection window now, stream window via SETTINGS, which per RFC 9113
 * also applies to streams already open), once per session. Returns whether
 * it could.
 */
export function widenReceiveWindow(call: ServerDuplexStream<unknown, unknown>, bytes: number, done: WeakSet<object>): boolean {
  const session = http2SessionOf(call);
  if (session === undefined) return false;
  if (done.has(session)) return true;
  const size = Math.min(bytes, MAX_HTTP2_WINDOW);
  try {
    session.setLocalWindowSize(size);
    session.settings({ initialWindowSize: size });
  } catch {
    return false;
  }
  done.add(session);
  return true;
}
