/**
 * WebSocket close codes of z4j protocol 2 (brain side; the agents react to
 * them). Values match the Python brain exactly.
 *
 * @example
 * socket.close(CloseCode.SignatureOrReplay, 'bad hmac') // 4403
 */
export const CloseCode = {
  /** Bad or missing bearer token. */
  BadToken: 4401,
  /** Malformed frame, frame too large, or first frame not a valid `hello`. */
  Malformed: 4400,
  /** `hello.payload.protocol_version` is not "2". */
  UnsupportedProtocol: 4426,
  /** HMAC or replay-guard failure on a signed frame. */
  SignatureOrReplay: 4403,
  /** No frame within the idle timeout (90 s by default). */
  Idle: 4408,
  /** Per-IP connect rate, or per-agent worker-slot cap exceeded. */
  RateLimited: 4429,
  /** Displaced by a newer connection for the same worker slot. */
  Displaced: 4002,
  /** Clean close. */
  Normal: 1000,
  /** Internal error. */
  InternalError: 1011,
} as const;

/**
 * One of the {@link CloseCode} values.
 *
 * @example
 * const code: CloseCodeValue = CloseCode.Idle;
 */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * A frame that cannot be accepted. `closeCode` is the WebSocket close code the
 * receiver should use (4400 for malformed frames, 4403 for signature/replay
 * failures); `code` is a stable string for logs and metrics.
 *
 * @example
 * try { parseFrame(bytes) } catch (err) {
 *   if (err instanceof FrameError) ws.close(err.closeCode, err.code)
 * }
 */
export class FrameError extends Error {
  override name = 'FrameError';
  constructor(
    /** Stable machine-readable code, e.g. `FRAME_MALFORMED`. */
    readonly code: string,
    message: string,
    /** WebSocket close code to use. Default {@link CloseCode.Malformed} (4400). */
    readonly closeCode: CloseCodeValue = CloseCode.Malformed,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Why {@link FrameVerifier.verify} refused a frame.
 *
 * @example
 * const r: FrameVerificationReason = 'nonce';
 */
export type FrameVerificationReason = 'hmac' | 'version' | 'type' | 'payload' | 'seq' | 'ts' | 'nonce';

/**
 * A signed frame failed verification (bad HMAC, wrong version/type/payload
 * shape, or a replay-guard rule). Always closes with 4403
 * ({@link CloseCode.SignatureOrReplay}); `code` is `FRAME_VERIFICATION_FAILED`.
 *
 * @example
 * try { verifier.verify(frame) } catch (err) {
 *   if (err instanceof FrameVerificationError) metrics.rejected.inc({ reason: err.reason })
 * }
 */
export class FrameVerificationError extends FrameError {
  override name = 'FrameVerificationError';
  constructor(
    /** Which check failed. */
    readonly reason: FrameVerificationReason,
    message: string,
  ) {
    super('FRAME_VERIFICATION_FAILED', message, CloseCode.SignatureOrReplay);
  }
}
