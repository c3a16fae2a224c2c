import { createHash, hash } from 'node:crypto';
import type { JsonObject } from '@z4j/protocol';
import { jsonText } from '@z4j/db';

/**
 * The brain-side event id, the `id` in the `events` primary key
 * `(project_id, occurred_at, id)`. It is derived from the event, never random,
 * so every way an event can reach us twice lands on the same key and
 * `ON CONFLICT DO NOTHING` drops the copy:
 *
 * - a task event (non-empty `task_id`): uuid5(NS, `project:task_id:kind:occurred_at µs`).
 *   Re-sends of an unacked frame and fan-out copies of one occurrence (several
 *   agents seeing the same Celery event) collapse. The original used whole
 *   SECONDS here and so also collapsed genuinely distinct events (two retries of
 *   a task in the same second); microseconds keep them apart.
 * - any other event whose agent id is a trustworthy uuid (v4/v7, RFC 4122
 *   variant, not nil/all-ones): uuid5(NS, `project:agent_id`), as the original.
 * - otherwise a hash of the content (kind, engine, occurred_at µs, canonical
 *   data), so even an id-less re-send dedupes; the original minted a random
 *   id and stored such replays twice.
 *
 * The project id is in every name, so one project can never collide with
 * (and so censor) another project's events. `occurredMicros` is the time the
 * agent sent, before any clamping, so the id does not depend on when the
 * frame arrived.
 */
export const EVENT_ID_NAMESPACE = 'c4d2c84e-2f0a-4b6c-9c5b-1d6f9a1e7c2a';

export interface EventIdInput {
  readonly projectId: string;
  readonly taskId: string;
  /** The kind as sent (trimmed), not the `unknown` it may have been mapped to. */
  readonly kind: string;
  readonly engine: string;
  readonly occurredMicros: number;
  /** The agent's own `id` field, whatever it is. */
  readonly agentEventId: unknown;
  readonly data: JsonObject;
}

export function deriveEventId(input: EventIdInput): string {
  if (input.taskId !== '') {
    return uuidv5(`${input.projectId}:${input.taskId}:${input.kind}:${input.occurredMicros}`);
  }
  const agentId = trustedAgentEventId(input.agentEventId);
  if (agentId !== undefined) return uuidv5(`${input.projectId}:${agentId}`);
  const content = `${input.kind}\n${input.engine}\n${input.occurredMicros}\n${jsonText(input.data, true)}`;
  return uuidv5(`${input.projectId}:content:${content}`);
}

const NAMESPACE_BYTES = Buffer.from(EVENT_ID_NAMESPACE.replaceAll('-', ''), 'hex');
/** Namespace bytes followed by room for the name: one hash input buffer, reused (the hot path is synchronous). */
const SCRATCH = Buffer.alloc(4096);
NAMESPACE_BYTES.copy(SCRATCH, 0);
/** A UTF-16 code unit takes at most 3 UTF-8 bytes: names up to this length always fit the scratch buffer. */
const MAX_SCRATCH_NAME_LENGTH = Math.floor((SCRATCH.length - NAMESPACE_BYTES.length) / 3);
/** Lowercase hex digits of every byte value, two per byte. */
const HEX_DIGITS = new Uint8Array(512);
for (let byte = 0; byte < 256; byte++) HEX_DIGITS.set(Buffer.from(byte.toString(16).padStart(2, '0'), 'latin1'), byte * 2);
/** Where each byte's two digits go in the hyphenated form; the hyphens are written once. */
const DIGIT_OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const UUID_TEXT = Buffer.alloc(36, '-', 'latin1');

/**
 * RFC 4122 uuid v5 (SHA-1 of namespace bytes ‖ UTF-8 name), as Python's
 * `uuid.uuid5` and the `uuid` package compute it; written out here because this
 * runs for every ingested event. The one-shot `crypto.hash` over a reused
 * buffer costs about half of a `createHash` object per call, and the text is
 * written into a reused buffer and read back as ONE flat string: built from
 * slices of the hex digest it was a rope of about ten heap objects (~370 bytes
 * against ~50), and each id lives until its group commits, so the young
 * generation's collector copied the whole rope again and again.
 */
export function uuidv5(name: string): string {
  let digest: Buffer;
  if (name.length <= MAX_SCRATCH_NAME_LENGTH) {
    const length = SCRATCH.write(name, NAMESPACE_BYTES.length, 'utf8');
    digest = hash('sha1', SCRATCH.subarray(0, NAMESPACE_BYTES.length + length), 'buffer');
  } else {
    digest = createHash('sha1').update(NAMESPACE_BYTES).update(name, 'utf8').digest();
  }
  // Version 5 in the high nibble of byte 6; the RFC 4122 variant (10xx) in the high bits of byte 8.
  digest[6] = (digest[6]! & 0x0f) | 0x50;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  for (let index = 0; index < 16; index++) {
    const offset = DIGIT_OFFSETS[index]!;
    const byte = digest[index]!;
    UUID_TEXT[offset] = HEX_DIGITS[byte * 2]!;
    UUID_TEXT[offset + 1] = HEX_DIGITS[byte * 2 + 1]!;
  }
  return UUID_TEXT.toString('latin1');
}

const HEX32 = /^[0-9a-f]{32}$/;

/**
 * The agent's event id in canonical form (lowercase, hyphenated, as Python's
 * `str(UUID(...))`) when it is a v4 or v7 RFC 4122 uuid other than nil and
 * all-ones; `undefined` otherwise. Other versions are derived from guessable
 * inputs and could be used to pin collisions on purpose.
 */
export function trustedAgentEventId(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  // Python's UUID() accepts braces, a urn:uuid: prefix, and hyphens anywhere.
  const hex = value
    .trim()
    .toLowerCase()
    .replace(/^urn:uuid:/, '')
    .replace(/^\{(.*)\}$/, '$1')
    .replaceAll('-', '');
  if (!HEX32.test(hex)) return undefined;
  if (/^0+$/.test(hex) || /^f+$/.test(hex)) return undefined;
  const version = hex[12];
  const variant = hex[16]!;
  if (version !== '4' && version !== '7') return undefined;
  if (!'89ab'.includes(variant)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
