import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { IngestBatchResult, IngestEventBatch } from '@z4j/ingest-contract';
import { canonicalJson, parseJsonWithTexts, type JsonValue } from '@z4j/protocol';
import { IngestRequestSchema, IngestResponseSchema, type IngestRequest, type IngestResponse } from './gen/z4j/ingest/v1/ingest_pb.js';
import { INGEST_ERROR_CODES } from './ingest-grpc-error.js';

/**
 * Converts between the in-process contract (`IngestEventBatch`,
 * `IngestBatchResult`) and the wire messages. Events cross as one JSON array:
 * the texts the events arrived in from the agent when the gateway kept them
 * (no re-serialisation), else `canonicalJson`; the ingest side reads it with
 * the lossless parser, so integers beyond 2^53 (`bigint`) and integral floats
 * (`JsonFloat`) arrive exactly as sent, and keeps each element's text.
 */

/** The request for `batch`, tagged with the stream-local `requestId` (never 0). */
export function encodeIngestRequest(requestId: bigint, batch: IngestEventBatch): IngestRequest {
  return create(IngestRequestSchema, {
    requestId,
    projectId: batch.projectId,
    agentId: batch.agentId,
    frameId: batch.frameId,
    receivedAt: timestampFromDate(batch.receivedAt),
    eventsJson: Buffer.from(eventsJson(batch), 'utf8'),
  });
}

/** The events as one JSON array: the texts they arrived as when the gateway kept them, else canonical JSON. */
function eventsJson(batch: IngestEventBatch): string {
  const texts = batch.eventTexts;
  if (texts !== undefined && texts.length === batch.events.length) return `[${texts.join(',')}]`;
  // `readonly JsonValue[]` is a JsonValue array; canonicalJson only reads it.
  return canonicalJson(batch.events as JsonValue[]);
}

export type DecodedIngestRequest =
  { readonly ok: true; readonly batch: IngestEventBatch } | { readonly ok: false; readonly message: string };

/**
 * The batch a request carries, or why it cannot be read. Never throws: a bad
 * request becomes an `invalid_request` response, not a broken stream.
 */
export function decodeIngestRequest(request: IngestRequest): DecodedIngestRequest {
  if (request.requestId === 0n) return { ok: false, message: 'request_id is missing' };
  if (request.projectId === '') return { ok: false, message: 'project_id is missing' };
  if (request.agentId === '') return { ok: false, message: 'agent_id is missing' };
  if (request.frameId === '') return { ok: false, message: 'frame_id is missing' };
  if (request.receivedAt === undefined) return { ok: false, message: 'received_at is missing' };
  const receivedAt = timestampDate(request.receivedAt);
  if (Number.isNaN(receivedAt.getTime())) return { ok: false, message: 'received_at is out of range' };
  let events: JsonValue;
  let eventTexts: string[] | undefined;
  try {
    // The text of each element is kept: ingest stores an event redaction did not change as that text.
    ({ value: events, texts: eventTexts } = parseJsonWithTexts(request.eventsJson, []));
  } catch (error) {
    return { ok: false, message: `events_json is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!Array.isArray(events)) return { ok: false, message: 'events_json is not a JSON array' };
  return {
    ok: true,
    batch: {
      projectId: request.projectId,
      agentId: request.agentId,
      frameId: request.frameId,
      events,
      ...(eventTexts?.length === events.length ? { eventTexts } : {}),
      receivedAt,
    },
  };
}

const isCount = (value: number) => Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;

/** The response for a committed batch; counts a uint32 cannot hold become an `ingest_failed` answer instead of a serialization error. */
export function encodeIngestResult(requestId: bigint, result: IngestBatchResult): IngestResponse {
  if (!isCount(result.received) || !isCount(result.accepted) || !isCount(result.rejected)) {
    const counts = `${result.received}/${result.accepted}/${result.rejected}`;
    return encodeIngestError(
      requestId,
      INGEST_ERROR_CODES.ingestFailed,
      `the sink returned invalid counts (received/accepted/rejected ${counts})`,
    );
  }
  return create(IngestResponseSchema, {
    requestId,
    received: result.received,
    accepted: result.accepted,
    rejected: result.rejected,
  });
}

/** Longest error_message sent; it is for logs, and a sink's message could embed a whole query. */
const MAX_ERROR_MESSAGE_LENGTH = 1000;

/** A code the gateway can branch on: a sink error's own `code` when it looks like one. */
const ERROR_CODE_SHAPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function encodeIngestError(requestId: bigint, code: string, message: string): IngestResponse {
  return create(IngestResponseSchema, {
    requestId,
    errorCode: code,
    errorMessage: message.length > MAX_ERROR_MESSAGE_LENGTH ? `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH)}…` : message,
  });
}

/** `error_code` for a sink failure: its `code` if it has a sensible one (AppError, SQLSTATE), else `ingest_failed`. */
export function errorCodeOf(error: unknown): string {
  const code: unknown = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  return typeof code === 'string' && ERROR_CODE_SHAPE.test(code) ? code : INGEST_ERROR_CODES.ingestFailed;
}

export function errorMessageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function decodeIngestResult(response: IngestResponse): IngestBatchResult {
  return { received: response.received, accepted: response.accepted, rejected: response.rejected };
}
