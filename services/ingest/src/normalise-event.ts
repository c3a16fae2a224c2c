import * as v from 'valibot';
import { EVENT_KINDS, type JsonObject, type JsonValue } from '@z4j/protocol';
import { MAX_EVENTS_PER_BATCH, type IngestEventBatch } from '@z4j/ingest-contract';
import { deriveEventId } from './event-id.js';
import { isStorableJsonText, jsonText, storableText } from '@z4j/db';
import { clampOccurredMicros, dateToMicros, parseTimestampMicros } from './occurred-at.js';

/** §2.1 (from the protocol package, the one list): every other kind is stored as `unknown`. */
export const KNOWN_EVENT_KINDS: ReadonlySet<string> = new Set(EVENT_KINDS.filter((kind) => kind !== 'unknown'));

export const MAX_ENGINE_LENGTH = 40;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_TASK_ID_LENGTH = 200;
/** Longer kinds are unknown anyway; the cut keeps the id input and the log line bounded. */
const MAX_KIND_LENGTH = 200;
const MAX_OCCURRED_AT_LENGTH = 64;

/** One event ready to store: everything the writer and the projections need, already derived. */
export interface NormalisedEvent {
  /** Brain-side id (see event-id.ts). */
  readonly id: string;
  readonly projectId: string;
  /** The session's agent; null if the gateway handed over something that is not a uuid. */
  readonly agentId: string | null;
  readonly engine: string;
  /** A §2.1 kind, or `unknown`. */
  readonly kind: string;
  /** '' for events that are not about a task. */
  readonly taskId: string;
  /**
   * Time used for projections (tasks, workers, agent liveness): the agent's
   * time, clamped to the receive time when outside the §1.12 window.
   */
  readonly occurredMicros: number;
  /**
   * The `events.occurred_at` key: always the time the agent sent, never
   * clamped. The clamp depends on when a frame arrives, so storing clamped
   * values would give a re-sent event a new primary key and a second row;
   * out-of-window events land in `events_default` instead (never lost).
   */
  readonly storedMicros: number;
  readonly clamped: boolean;
  /** `data` of the redacted event (`{}` when it was not an object). */
  readonly data: JsonObject;
  /** JSON text of the whole redacted event: the `payload` column. */
  readonly payload: string;
}

export type RejectReason = 'not_an_object' | 'engine' | 'kind' | 'occurred_at' | 'task_id' | 'redaction_failed';

export type NormaliseResult =
  { readonly ok: true; readonly event: NormalisedEvent } | { readonly ok: false; readonly reason: RejectReason };

// Lenient like the original: unknown keys pass and only what the brain relies on is checked. engine and kind
// must be strings (the original's str() of a number or a dict is not something any agent sends); a numeric
// task_id is stringified as str() did.
export const EventSchema = v.looseObject({
  engine: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(MAX_ENGINE_LENGTH)),
  kind: v.pipe(v.string(), v.trim(), v.minLength(1)),
  occurred_at: v.pipe(v.string(), v.maxLength(MAX_OCCURRED_AT_LENGTH)),
  // A cut id could merge two tasks, so an oversize one is refused rather than truncated.
  task_id: v.optional(
    v.pipe(
      v.nullable(v.union([v.string(), v.number(), v.bigint()])),
      v.transform((value) => (value === null ? '' : String(value).trim())),
      v.maxLength(MAX_TASK_ID_LENGTH),
    ),
    '',
  ),
  data: v.optional(v.unknown()),
  id: v.optional(v.unknown()),
});

/** What normalisation reads of an event once it is valid. */
export interface EventFields {
  readonly engine: string;
  readonly kind: string;
  readonly occurred_at: string;
  readonly task_id: string;
  readonly data?: unknown;
  readonly id?: unknown;
}

/**
 * The fields of an event that needs nothing transformed (engine, kind and task id strings already trimmed
 * and within bounds), exactly as EventSchema would output them (a property test holds the two together);
 * undefined for anything else, valid or not, which then goes through the schema, which also says what is
 * wrong. The schema copies every key of the event into a fresh object and runs a pipeline per field: for
 * the event every agent sends, that is allocation and work per event on the hot path and nothing else.
 */
export function plainEventFields(event: JsonObject): EventFields | undefined {
  const { engine, kind, occurred_at: occurredAt, task_id: rawTaskId } = event;
  if (typeof engine !== 'string' || engine.length === 0 || engine.length > MAX_ENGINE_LENGTH || engine.trim() !== engine) {
    return undefined;
  }
  if (typeof kind !== 'string' || kind.length === 0 || kind.trim() !== kind) return undefined;
  if (typeof occurredAt !== 'string' || occurredAt.length > MAX_OCCURRED_AT_LENGTH) return undefined;
  let taskId = '';
  if (rawTaskId !== undefined) {
    if (typeof rawTaskId !== 'string' || rawTaskId.length > MAX_TASK_ID_LENGTH || rawTaskId.trim() !== rawTaskId) return undefined;
    taskId = rawTaskId;
  }
  return { engine, kind, occurred_at: occurredAt, task_id: taskId, data: event.data, id: event.id };
}

const REASON_BY_KEY: Readonly<Record<string, RejectReason>> = {
  engine: 'engine',
  kind: 'kind',
  occurred_at: 'occurred_at',
  task_id: 'task_id',
};

/** The fields through EventSchema, or why the event is refused (named by the first issue's key). */
function schemaEventFields(event: JsonObject): EventFields | RejectReason {
  const parsed = v.safeParse(EventSchema, event);
  if (parsed.success) return parsed.output;
  const key = parsed.issues[0].path?.[0]?.key;
  return (typeof key === 'string' ? REASON_BY_KEY[key] : undefined) ?? 'not_an_object';
}

export interface NormaliseContext {
  readonly projectId: string;
  readonly agentId: string | null;
  /** The clock for the §1.12 clamp: when the gateway received the frame. */
  readonly receivedMicros: number;
  /** Runs on the whole raw event before anything is read from it. */
  readonly redact: (event: JsonValue) => JsonValue;
}

/**
 * Redacts the whole raw event, then validates and derives everything stored.
 * `rawText` is the JSON text the event arrived as, if known (stored as the
 * payload when redaction left the event as it was). Pure apart from `redact`.
 */
export function normaliseEvent(raw: JsonValue, context: NormaliseContext, rawText?: string): NormaliseResult {
  let event: JsonValue;
  try {
    event = context.redact(raw);
  } catch {
    return { ok: false, reason: 'redaction_failed' };
  }
  if (!isObject(event)) return { ok: false, reason: 'not_an_object' };
  const fields = plainEventFields(event) ?? schemaEventFields(event);
  if (typeof fields === 'string') return { ok: false, reason: fields };
  const sentMicros = parseTimestampMicros(fields.occurred_at);
  if (sentMicros === undefined) return { ok: false, reason: 'occurred_at' };
  const taskId = storableText(fields.task_id);

  const rawKind = storableText(fields.kind.slice(0, MAX_KIND_LENGTH));
  const engineName = storableText(fields.engine);
  const data: JsonObject = isObject(fields.data) ? fields.data : {};
  const { micros, clamped } = clampOccurredMicros(sentMicros, context.receivedMicros);
  const id = deriveEventId({
    projectId: context.projectId,
    taskId,
    kind: rawKind,
    engine: engineName,
    occurredMicros: sentMicros,
    agentEventId: fields.id,
    data,
  });
  return {
    ok: true,
    event: {
      id,
      projectId: context.projectId,
      agentId: context.agentId,
      engine: engineName,
      kind: KNOWN_EVENT_KINDS.has(rawKind) ? rawKind : 'unknown',
      taskId,
      occurredMicros: micros,
      storedMicros: sentMicros,
      clamped,
      data,
      // The text it arrived as, when redaction changed nothing and jsonb takes it as it is: no second serialisation.
      payload: rawText !== undefined && event === raw && isStorableJsonText(rawText) ? rawText : jsonText(event),
    },
  };
}

export function isObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export interface NormalisedBatch {
  /** Events in the frame after the {@link MAX_EVENTS_PER_BATCH} trim. */
  readonly received: number;
  readonly events: NormalisedEvent[];
  readonly rejected: number;
  readonly rejectReasons: Partial<Record<RejectReason, number>>;
  readonly clamped: number;
}

/** Trims the frame to {@link MAX_EVENTS_PER_BATCH} events and normalises each. */
export function normaliseBatch(batch: IngestEventBatch, redact: (event: JsonValue) => JsonValue): NormalisedBatch {
  const raw = batch.events.length > MAX_EVENTS_PER_BATCH ? batch.events.slice(0, MAX_EVENTS_PER_BATCH) : batch.events;
  const context: NormaliseContext = {
    projectId: batch.projectId.toLowerCase(),
    agentId: UUID.test(batch.agentId) ? batch.agentId.toLowerCase() : null,
    receivedMicros: dateToMicros(batch.receivedAt),
    redact,
  };
  const events: NormalisedEvent[] = [];
  const rejectReasons: Partial<Record<RejectReason, number>> = {};
  let rejected = 0;
  let clamped = 0;
  const texts = batch.eventTexts?.length === batch.events.length ? batch.eventTexts : undefined;
  for (let index = 0; index < raw.length; index++) {
    const result = normaliseEvent(raw[index]!, context, texts?.[index]);
    if (result.ok) {
      events.push(result.event);
      if (result.event.clamped) clamped += 1;
    } else {
      rejected += 1;
      rejectReasons[result.reason] = (rejectReasons[result.reason] ?? 0) + 1;
    }
  }
  return { received: raw.length, events, rejected, rejectReasons, clamped };
}
