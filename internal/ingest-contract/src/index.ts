import type { JsonValue } from '@z4j/protocol';

/**
 * The seam between `services/gateway` and `services/ingest`. The gateway
 * verifies frames and hands event batches to an {@link IngestSink}; in
 * `z4j serve` the sink is the ingest pipeline itself (an in-process call),
 * when the two run as separate deployments it is a gRPC stream client. The
 * gateway cannot tell which, and does not need to.
 */

/** One verified `event_batch` frame from one agent session. */
export interface IngestEventBatch {
  /** The agent's project (from its token, never from the frame). */
  readonly projectId: string;
  readonly agentId: string;
  /** The event_batch frame id, echoed as `acked_id`. */
  readonly frameId: string;
  /** `payload.events` as sent (already HMAC-verified; not yet redacted or validated). */
  readonly events: readonly JsonValue[];
  /**
   * The JSON text each event arrived as (same order and length as `events`), when the transport kept it:
   * ingest stores an event that redaction left unchanged as this text instead of serialising it again.
   */
  readonly eventTexts?: readonly string[];
  /** When the gateway received the frame: the clock for clamping `occurred_at`. */
  readonly receivedAt: Date;
}

/** What the brain acknowledges: the `event_batch_ack` payload counts. */
export interface IngestBatchResult {
  /** Events in the frame (after the 1000-event trim). */
  readonly received: number;
  /** Events that became new rows (replays and duplicates are not accepted). */
  readonly accepted: number;
  /** Events dropped as invalid (no kind/engine, malformed, over the project rate limit). */
  readonly rejected: number;
}

export interface IngestSink {
  /**
   * Resolves once the batch is committed (so the gateway may ack it), rejects
   * if it was not. Backpressure: the returned promise may take a while to
   * settle when ingest is saturated; callers must bound their own in-flight count.
   */
  submit(batch: IngestEventBatch): Promise<IngestBatchResult>;
  /** Finishes in-flight batches and releases resources. */
  close(): Promise<void>;
}

/** Events beyond this many in one frame are ignored, as the original brain does. */
export const MAX_EVENTS_PER_BATCH = 1000;
