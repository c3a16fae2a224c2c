/**
 * Codes an {@link IngestGrpcError} carries. The first three travel on the
 * wire in `IngestResponse.error_code` (a sink may also put its own error's
 * `code` there); the others are raised by the client itself. Whatever the
 * code, a rejected submit means the batch was not acknowledged, so the
 * gateway must not ack the frame and the agent re-sends it (ingest dedupes).
 */
export const INGEST_ERROR_CODES = {
  /** Ingest could not read the request (bad JSON, missing ids or timestamp). */
  invalidRequest: 'invalid_request',
  /** The sink failed without a code of its own. */
  ingestFailed: 'ingest_failed',
  /** The stream broke (peer gone, server shutting down) before the response arrived. */
  streamBroken: 'stream_broken',
  /** No ingest stream could be established within the client's connect timeout. */
  unavailable: 'ingest_unavailable',
  /** `close()` was called before the batch was written. */
  clientClosed: 'client_closed',
  /** The batch was written but ingest did not answer within the client's response timeout. */
  responseTimeout: 'response_timeout',
} as const;

/**
 * A batch the remote ingest did not commit. `code` is one of
 * {@link INGEST_ERROR_CODES} or the code of the sink's own error, passed
 * through from the server (`error_code`).
 */
export class IngestGrpcError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IngestGrpcError';
    this.code = code;
  }
}
