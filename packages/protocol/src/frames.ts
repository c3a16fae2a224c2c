import * as v from 'valibot';
import { CloseCode, FrameError } from './errors.js';
import { parseIsoDateTime } from './iso-time.js';
import { JsonParseError, parseJson, parseJsonWithTexts } from './json-parse.js';
import { JsonFloat, type JsonObject, type JsonValue } from './json-value.js';

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/**
 * `hello.payload.protocol_version` this package speaks (a string on the wire).
 * Any other value is answered with close code 4426.
 *
 * @example
 * if (hello.payload.protocol_version !== PROTOCOL_VERSION) ws.close(CloseCode.UnsupportedProtocol)
 */
export const PROTOCOL_VERSION = '2';

/**
 * The envelope version: every frame carries `v: 2` as a JSON integer.
 *
 * @example
 * frame.v === FRAME_VERSION
 */
export const FRAME_VERSION = 2;

/**
 * Frame types that carry `nonce`, `seq` and `hmac` and go through the replay
 * guard — the signed allow-list. Everything except `hello` / `hello_ack`.
 *
 * @example
 * SIGNED_FRAME_TYPES.includes('heartbeat') // true
 */
export const SIGNED_FRAME_TYPES = [
  'event_batch',
  'event_batch_ack',
  'heartbeat',
  'agent_status',
  'command',
  'command_ack',
  'command_result',
  'registry_delta',
  'error',
] as const;

/**
 * A signed frame type.
 *
 * @example
 * const t: SignedFrameType = 'command';
 */
export type SignedFrameType = (typeof SIGNED_FRAME_TYPES)[number];

/**
 * The two unsigned handshake frame types.
 *
 * @example
 * UNSIGNED_FRAME_TYPES // ['hello', 'hello_ack']
 */
export const UNSIGNED_FRAME_TYPES = ['hello', 'hello_ack'] as const;

/**
 * Every frame type of protocol 2.
 *
 * @example
 * const t: FrameType = 'hello';
 */
export type FrameType = (typeof UNSIGNED_FRAME_TYPES)[number] | SignedFrameType;

const SIGNED_TYPE_SET: ReadonlySet<string> = new Set(SIGNED_FRAME_TYPES);

/**
 * Whether `type` is on the signed allow-list.
 *
 * @example
 * isSignedFrameType('hello') // false
 */
export function isSignedFrameType(type: unknown): type is SignedFrameType {
  return typeof type === 'string' && SIGNED_TYPE_SET.has(type);
}

/**
 * Event kinds of the z4j event model (§2.1). Anything else is treated as
 * `unknown` by the brain.
 *
 * @example
 * EVENT_KINDS.includes('task.succeeded') // true
 */
export const EVENT_KINDS = [
  'task.sent',
  'task.received',
  'task.started',
  'task.succeeded',
  'task.failed',
  'task.retried',
  'task.revoked',
  'task.rejected',
  'worker.online',
  'worker.offline',
  'worker.heartbeat',
  'queue.depth_report',
  'schedule.run_started',
  'schedule.run_completed',
  'schedule.created',
  'schedule.updated',
  'schedule.deleted',
  'schedule.snapshot',
  'unknown',
] as const;

/**
 * A known event kind.
 *
 * @example
 * const k: EventKind = 'task.started';
 */
export type EventKind = (typeof EVENT_KINDS)[number];

const EVENT_KIND_SET: ReadonlySet<string> = new Set(EVENT_KINDS);

/**
 * Maps an event's `kind` to a known {@link EventKind}, `'unknown'` otherwise.
 *
 * @example
 * normalizeEventKind('task.exploded') // 'unknown'
 */
export function normalizeEventKind(kind: string): EventKind {
  return EVENT_KIND_SET.has(kind) ? (kind as EventKind) : 'unknown';
}

// ---------------------------------------------------------------------------
// Helpers over JsonValue
// ---------------------------------------------------------------------------

/**
 * Whether a value is a JSON object (a plain object — not an array, null or
 * {@link JsonFloat}).
 *
 * @example
 * isJsonObject(parseJson('{}')) // true
 * isJsonObject([])              // false
 */
export function isJsonObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Reads a JSON number of any representation ({@link JsonFloat}, `bigint`,
 * `number`) as a `number`; `undefined` for non-numbers.
 *
 * @example
 * jsonNumber(new JsonFloat(2)) // 2
 * jsonNumber('2')              // undefined
 */
export function jsonNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (value instanceof JsonFloat) return value.value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

/**
 * A string of at most `max` characters, counted in code points as Python
 * `len()` does (so an emoji counts once).
 *
 * @example
 * v.parse(maxCharsString(40), 'bare') // 'bare'
 */
export function maxCharsString(max: number) {
  return v.pipe(
    v.string(),
    v.check((s) => s.length <= max || codePointLength(s) <= max, `expected at most ${max} characters`),
  );
}

/**
 * Any JSON object, passed through by reference (extra keys and all).
 *
 * @example
 * v.parse(JsonObjectSchema, { a: 1 }) // { a: 1 }
 */
export const JsonObjectSchema = v.pipe(
  // Typed `object` on the input side: valibot's default-value types deep-readonly
  // the input type, which TypeScript cannot do for the recursive JsonObject.
  v.custom<object>(isJsonObject, 'expected an object'),
  v.transform((x) => x as JsonObject),
);

/**
 * Any parsed JSON value (checked shallowly: the top-level type only; nested
 * content is trusted to come from {@link parseJson}).
 *
 * @example
 * v.parse(JsonValueSchema, [1, 'a']) // [1, 'a']
 */
export const JsonValueSchema = v.pipe(
  v.custom<unknown>(
    (x) =>
      x === null ||
      typeof x === 'string' ||
      typeof x === 'boolean' ||
      (typeof x === 'number' && Number.isFinite(x)) ||
      typeof x === 'bigint' ||
      x instanceof JsonFloat ||
      Array.isArray(x) ||
      isJsonObject(x),
    'expected a JSON value',
  ),
  v.transform((x) => x as JsonValue),
);

/**
 * A JSON integer as Python's strict `int` accepts it: a safe-integer `number`.
 * Rejects booleans, strings, integral floats written as `1.0` ({@link JsonFloat})
 * and integers beyond ±(2^53−1).
 *
 * @example
 * v.parse(v.pipe(IntSchema, v.minValue(1)), 10) // 10
 */
export const IntSchema = v.custom<number>((x) => typeof x === 'number' && Number.isSafeInteger(x), 'expected an integer');

/**
 * A JSON number where Python expects a `float`: accepts `number`,
 * {@link JsonFloat} (`1.0`) and `bigint`, and outputs a plain `number`.
 *
 * @example
 * v.parse(FloatSchema, new JsonFloat(3)) // 3
 */
export const FloatSchema = v.pipe(
  v.custom<number | JsonFloat | bigint>(
    (x) => (typeof x === 'number' && Number.isFinite(x)) || x instanceof JsonFloat || typeof x === 'bigint',
    'expected a number',
  ),
  v.transform((x): number => (typeof x === 'number' ? x : x instanceof JsonFloat ? x.value : Number(x))),
);

/**
 * An ISO-8601 datetime string (timezone optional, as pydantic accepts it);
 * the output is the string unchanged.
 *
 * @example
 * v.parse(IsoDateTimeStringSchema, '2026-11-22T22:57:51.313403+00:00')
 */
export const IsoDateTimeStringSchema = v.pipe(
  v.string(),
  v.check((s) => parseIsoDateTime(s) !== null, 'expected an ISO-8601 datetime'),
);

/** Frame id: 1–64 characters. */
const FrameIdSchema = v.pipe(
  v.string(),
  v.check((s) => s.length >= 1 && (s.length <= 64 || codePointLength(s) <= 64), 'expected 1 to 64 characters'),
);

const StringListSchema = v.array(v.string());

/** First stage of object schemas: refuses arrays, which valibot's object schemas would accept. */
const PlainObjectGuard = v.custom<unknown>(isJsonObject, 'expected an object');
const emptyList = (): string[] => [];
const emptyObject = (): JsonObject => ({});
const emptyValues = (): JsonValue[] => [];
/** An optional JSON object defaulting to a fresh `{}` (a named const keeps TS inference shallow). */
const OptionalObjectSchema = v.optional(JsonObjectSchema, emptyObject);
const emptyObjects = (): JsonObject[] => [];

/**
 * Formats valibot issues as one line each, prefixed with the field path
 * (`payload.engines[64]: expected at most 40 characters`).
 *
 * @example
 * const r = v.safeParse(HelloFrameSchema, frame);
 * if (!r.success) throw new Error(describeIssues(r.issues));
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues.map((issue) => `${issuePath(issue)}: ${issue.message}`).join('; ');
}

function issuePath(issue: v.BaseIssue<unknown>): string {
  let out = '';
  for (const item of issue.path ?? []) {
    const key = (item as { key?: unknown }).key;
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string') out += out === '' ? key : `.${key}`;
  }
  return out === '' ? '(root)' : out;
}

// ---------------------------------------------------------------------------
// Handshake: full validation (the brain validates hello; the agent validates
// hello_ack), mirroring the strict pydantic models. Unknown keys are dropped.
// ---------------------------------------------------------------------------

/**
 * `hello.payload`, validated in full (caps as in z4j-core: versions and
 * framework ≤40 chars, engines/schedulers ≤64 entries, worker_id ≤128,
 * worker_role ≤32, worker_pid 0…2^31−1). engines, schedulers, capabilities
 * and host default to empty; the worker fields default to `null`.
 * `capabilities` lists are expected sorted but, as in Python, not checked.
 *
 * @example
 * v.parse(HelloPayloadSchema, { protocol_version: '2', agent_version: '0.0.0', framework: 'bare' })
 */
export const HelloPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.object({
    protocol_version: maxCharsString(40),
    agent_version: maxCharsString(40),
    framework: maxCharsString(40),
    engines: v.optional(v.pipe(StringListSchema, v.maxLength(64, 'expected at most 64 entries')), emptyList),
    schedulers: v.optional(v.pipe(StringListSchema, v.maxLength(64, 'expected at most 64 entries')), emptyList),
    capabilities: v.optional(v.pipe(PlainObjectGuard, v.record(v.string(), StringListSchema)), () => ({})),
    host: OptionalObjectSchema,
    worker_id: v.optional(v.nullable(maxCharsString(128)), null),
    worker_role: v.optional(v.nullable(maxCharsString(32)), null),
    worker_pid: v.optional(v.nullable(v.pipe(IntSchema, v.minValue(0), v.maxValue(2 ** 31 - 1))), null),
    worker_started_at: v.optional(v.nullable(IsoDateTimeStringSchema), null),
  }),
);

/**
 * The first frame an agent sends: `{v: 2, type: "hello", id (1–64), ts (ISO
 * or null), payload}` validated in full; `v` must be the JSON integer 2.
 * Failing it closes with 4400; a `protocol_version` other than "2" passes the
 * schema and is the caller's 4426.
 *
 * @example
 * const r = v.safeParse(HelloFrameSchema, parseFrame(bytes));
 * if (!r.success) ws.close(CloseCode.Malformed, describeIssues(r.issues).slice(0, 120));
 */
export const HelloFrameSchema = v.pipe(
  PlainObjectGuard,
  v.object({
    v: v.literal(2),
    type: v.literal('hello'),
    id: FrameIdSchema,
    ts: v.optional(v.nullable(IsoDateTimeStringSchema), null),
    payload: HelloPayloadSchema,
  }),
);

/**
 * `hello_ack.payload` exactly as the Python agent validates it (strict):
 * `protocol_version`, `brain_version` ≤40 chars; `agent_id`, `project_id`,
 * `session_id` ≤64; `heartbeat_interval_seconds` integer 1–3600 (default 10);
 * `max_frame_size_bytes` integer 1024–64 MiB (default 1 MiB).
 *
 * @example
 * v.parse(HelloAckPayloadSchema, ack.payload).heartbeat_interval_seconds // 10
 */
export const HelloAckPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.object({
    protocol_version: maxCharsString(40),
    brain_version: maxCharsString(40),
    agent_id: maxCharsString(64),
    project_id: maxCharsString(64),
    session_id: maxCharsString(64),
    heartbeat_interval_seconds: v.optional(v.pipe(IntSchema, v.minValue(1), v.maxValue(3600)), 10),
    max_frame_size_bytes: v.optional(v.pipe(IntSchema, v.minValue(1024), v.maxValue(64 * 1024 * 1024)), 1_048_576),
  }),
);

/**
 * The brain's unsigned reply to `hello`, validated strictly (as the agent does).
 *
 * @example
 * const ack = v.parse(HelloAckFrameSchema, parseFrame(bytes));
 */
export const HelloAckFrameSchema = v.pipe(
  PlainObjectGuard,
  v.object({
    v: v.literal(2),
    type: v.literal('hello_ack'),
    id: FrameIdSchema,
    ts: v.optional(v.nullable(IsoDateTimeStringSchema), null),
    payload: HelloAckPayloadSchema,
  }),
);

// ---------------------------------------------------------------------------
// Signed payloads: lenient. The Python receivers build these without field
// validation once the HMAC is good, so here we only check the types of the
// fields a receiver uses, keep extra keys, allow nulls an agent may send, and
// default what may be missing.
// ---------------------------------------------------------------------------

/**
 * One element of `event_batch.payload.events` (§2.2), leniently: `kind`,
 * `engine` and `occurred_at` (ISO) are required strings; `id` and `task_id`
 * may be missing or null (`task_id` defaults to ""); `data` defaults to `{}`.
 * Validate each event on its own so one bad event does not sink the batch.
 *
 * @example
 * const r = v.safeParse(AgentEventSchema, batch.events[0]);
 */
export const AgentEventSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({
    id: v.optional(v.nullable(v.string()), null),
    kind: v.string(),
    engine: v.string(),
    task_id: v.optional(v.nullable(v.string()), ''),
    occurred_at: IsoDateTimeStringSchema,
    data: OptionalObjectSchema,
  }),
);

/**
 * `event_batch.payload`: `events` is a list (default empty) whose elements
 * are left as JSON values; check them one by one with {@link AgentEventSchema}.
 *
 * @example
 * const { events } = v.parse(EventBatchPayloadSchema, frame.payload);
 */
export const EventBatchPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({ events: v.optional(v.array(JsonValueSchema), emptyValues) }),
);

const CountSchema = v.pipe(IntSchema, v.minValue(0));

/**
 * `event_batch_ack.payload`: `acked_id` string, `received`/`accepted`/`rejected`
 * integers ≥ 0.
 *
 * @example
 * v.parse(EventBatchAckPayloadSchema, { acked_id: 'ev_1', received: 1, accepted: 1, rejected: 0 })
 */
export const EventBatchAckPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({ acked_id: v.string(), received: CountSchema, accepted: CountSchema, rejected: CountSchema }),
);

/**
 * `heartbeat.payload`: `buffer_size`, `dropped_events` integers (default 0),
 * `last_flush_at` ISO or null (default null), `adapter_health` object
 * (default `{}`; values are normally strings, JSON-encoded for complex ones).
 *
 * @example
 * v.parse(HeartbeatPayloadSchema, {}).adapter_health // {}
 */
export const HeartbeatPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({
    buffer_size: v.optional(IntSchema, 0),
    last_flush_at: v.optional(v.nullable(IsoDateTimeStringSchema), null),
    dropped_events: v.optional(IntSchema, 0),
    adapter_health: OptionalObjectSchema,
  }),
);

/**
 * `agent_status.payload`, every field optional: streak counters and
 * `buffer_depth` integers (default 0), ages as floats (integral `JsonFloat`s
 * accepted) or null, timestamps ISO or null, versions string or null,
 * engines/schedulers string lists (default empty).
 *
 * @example
 * v.parse(AgentStatusPayloadSchema, { current_session_age_seconds: 0.003903 })
 */
export const AgentStatusPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({
    auth_failure_streak: v.optional(IntSchema, 0),
    protocol_failure_streak: v.optional(IntSchema, 0),
    connection_failure_streak: v.optional(IntSchema, 0),
    last_successful_connect_at: v.optional(v.nullable(IsoDateTimeStringSchema), null),
    current_session_age_seconds: v.optional(v.nullable(FloatSchema), null),
    buffer_depth: v.optional(IntSchema, 0),
    buffer_oldest_age_seconds: v.optional(v.nullable(FloatSchema), null),
    agent_version: v.optional(v.nullable(v.string()), null),
    protocol_version: v.optional(v.nullable(v.string()), null),
    engines: v.optional(StringListSchema, emptyList),
    schedulers: v.optional(StringListSchema, emptyList),
  }),
);

/**
 * `command.payload` (brain → agent): `action` string; `target`, `parameters`
 * objects (default `{}`); `timeout_seconds` integer (default 60); `issued_by`
 * string or null (default null).
 *
 * @example
 * const cmd = v.parse(CommandPayloadSchema, frame.payload); // cmd.action === 'retry_task'
 */
export const CommandPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({
    action: v.string(),
    target: OptionalObjectSchema,
    parameters: OptionalObjectSchema,
    timeout_seconds: v.optional(IntSchema, 60),
    issued_by: v.optional(v.nullable(v.string()), null),
  }),
);

/**
 * `command_ack.payload`: any object (the agent sends `{}`).
 *
 * @example
 * v.parse(CommandAckPayloadSchema, {})
 */
export const CommandAckPayloadSchema = JsonObjectSchema;

/**
 * `command_result.payload`: `status` string (`"success"` completes the
 * command, anything else fails it), `result` object or null, `error` string
 * or null (both default null).
 *
 * @example
 * v.parse(CommandResultPayloadSchema, { status: 'success', result: { task_id: 't1' } })
 */
export const CommandResultPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({
    status: v.string(),
    result: v.optional(v.nullable(JsonObjectSchema), null),
    error: v.optional(v.nullable(v.string()), null),
  }),
);

/**
 * `registry_delta.payload` (logged only): `engine` string (default ""),
 * `added`/`updated` object lists and `removed` string list (default empty).
 *
 * @example
 * v.parse(RegistryDeltaPayloadSchema, { engine: 'celery', removed: ['a.b'] })
 */
export const RegistryDeltaPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({
    engine: v.optional(v.string(), ''),
    added: v.optional(v.array(JsonObjectSchema), emptyObjects),
    removed: v.optional(StringListSchema, emptyList),
    updated: v.optional(v.array(JsonObjectSchema), emptyObjects),
  }),
);

/**
 * `error.payload`: `code` and `message` strings, `fatal` boolean (default false).
 *
 * @example
 * v.parse(ErrorPayloadSchema, { code: 'E', message: 'boom' }).fatal // false
 */
export const ErrorPayloadSchema = v.pipe(
  PlainObjectGuard,
  v.looseObject({ code: v.string(), message: v.string(), fatal: v.optional(v.boolean(), false) }),
);

/**
 * The lenient payload schema of each signed frame type.
 *
 * @example
 * v.safeParse(PAYLOAD_SCHEMAS[frame.type], frame.payload ?? {})
 */
export const PAYLOAD_SCHEMAS = {
  event_batch: EventBatchPayloadSchema,
  event_batch_ack: EventBatchAckPayloadSchema,
  heartbeat: HeartbeatPayloadSchema,
  agent_status: AgentStatusPayloadSchema,
  command: CommandPayloadSchema,
  command_ack: CommandAckPayloadSchema,
  command_result: CommandResultPayloadSchema,
  registry_delta: RegistryDeltaPayloadSchema,
  error: ErrorPayloadSchema,
} as const satisfies Record<SignedFrameType, v.GenericSchema<unknown, unknown>>;

/**
 * What {@link parsePayload} returns for each signed frame type.
 *
 * @example
 * type Hb = ParsedPayload<'heartbeat'>; // { buffer_size: number; ... }
 */
export type ParsedPayload<T extends SignedFrameType> = v.InferOutput<(typeof PAYLOAD_SCHEMAS)[T]>;

/**
 * Validates a verified frame's payload with its lenient schema. A missing
 * payload counts as `{}`.
 *
 * @throws {FrameError} `PAYLOAD_INVALID` (close code 4400) naming the field.
 * @example
 * const hb = parsePayload('heartbeat', frame.payload); // hb.buffer_size: number
 */
export function parsePayload<T extends SignedFrameType>(type: T, payload: JsonValue | undefined): ParsedPayload<T> {
  const schema = PAYLOAD_SCHEMAS[type] as v.GenericSchema<unknown, ParsedPayload<T>>;
  const result = v.safeParse(schema, payload ?? {});
  if (result.success) return result.output;
  throw new FrameError('PAYLOAD_INVALID', `invalid ${type} payload: ${describeIssues(result.issues)}`);
}

// ---------------------------------------------------------------------------
// Frame types (wire shapes). Type aliases, not interfaces, so they stay
// assignable to JsonObject for signing and encoding.
// ---------------------------------------------------------------------------

/**
 * `hello.payload` as sent by an agent.
 *
 * @example
 * const p: HelloPayload = { protocol_version: '2', agent_version: '0.1.0', framework: 'bare', engines: ['bullmq'],
 *   schedulers: [], capabilities: { bullmq: ['retry_task'] }, host: { name: 'web-1' }, worker_id: null,
 *   worker_role: null, worker_pid: null, worker_started_at: null };
 */
export type HelloPayload = {
  protocol_version: string;
  agent_version: string;
  framework: string;
  engines: string[];
  schedulers: string[];
  capabilities: { [adapter: string]: string[] };
  host: JsonObject;
  worker_id: string | null;
  worker_role: string | null;
  worker_pid: number | null;
  worker_started_at: string | null;
};

/**
 * `hello_ack.payload` as the brain sends it.
 *
 * @example
 * const p: HelloAckPayload = { protocol_version: '2', brain_version: '0.1.0', agent_id, project_id, session_id,
 *   heartbeat_interval_seconds: 10, max_frame_size_bytes: 1_048_576 };
 */
export type HelloAckPayload = {
  protocol_version: string;
  brain_version: string;
  agent_id: string;
  project_id: string;
  session_id: string;
  heartbeat_interval_seconds: number;
  max_frame_size_bytes: number;
};

/**
 * One event inside `event_batch` (§2.2).
 *
 * @example
 * const e: AgentEvent = { id: randomUUID(), kind: 'task.started', engine: 'bullmq', task_id: '42',
 *   occurred_at: new Date().toISOString(), data: { task_name: 'send-mail' } };
 */
export type AgentEvent = {
  id: string | null;
  kind: string;
  engine: string;
  task_id: string | null;
  occurred_at: string;
  data: JsonObject;
};

/**
 * `event_batch.payload`. The Python agent sends exactly one event per frame.
 *
 * @example
 * const p: EventBatchPayload = { events: [event] };
 */
export type EventBatchPayload = { events: JsonValue[] };

/**
 * `event_batch_ack.payload`, sent after the batch is committed.
 *
 * @example
 * const p: EventBatchAckPayload = { acked_id: 'ev_0123456789ab', received: 1, accepted: 1, rejected: 0 };
 */
export type EventBatchAckPayload = { acked_id: string; received: number; accepted: number; rejected: number };

/**
 * `heartbeat.payload`.
 *
 * @example
 * const p: HeartbeatPayload = { buffer_size: 0, last_flush_at: null, dropped_events: 0, adapter_health: {} };
 */
export type HeartbeatPayload = {
  buffer_size: number;
  last_flush_at: string | null;
  dropped_events: number;
  adapter_health: JsonObject;
};

/**
 * `agent_status.payload`. Float fields must be sent so that Python reads a
 * float (see {@link canonicalJson}); integral values are safe either way.
 *
 * @example
 * const p: AgentStatusPayload = { auth_failure_streak: 0, protocol_failure_streak: 0,
 *   connection_failure_streak: 0, last_successful_connect_at: null, current_session_age_seconds: 1.5,
 *   buffer_depth: 0, buffer_oldest_age_seconds: null, agent_version: '0.1.0', protocol_version: '2',
 *   engines: ['bullmq'], schedulers: [] };
 */
export type AgentStatusPayload = {
  auth_failure_streak: number;
  protocol_failure_streak: number;
  connection_failure_streak: number;
  last_successful_connect_at: string | null;
  current_session_age_seconds: number | null;
  buffer_depth: number;
  buffer_oldest_age_seconds: number | null;
  agent_version: string | null;
  protocol_version: string | null;
  engines: string[];
  schedulers: string[];
};

/**
 * `command.payload`. The frame `id` is the command UUID.
 *
 * @example
 * const p: CommandPayload = { action: 'retry_task', target: { type: 'task', id: 't1' }, parameters: {},
 *   timeout_seconds: 60, issued_by: null };
 */
export type CommandPayload = {
  action: string;
  target: JsonObject;
  parameters: JsonObject;
  timeout_seconds: number;
  issued_by: string | null;
};

/**
 * `command_ack.payload`: always `{}`. The frame `id` is the command id.
 *
 * @example
 * const p: CommandAckPayload = {};
 */
export type CommandAckPayload = JsonObject;

/**
 * `command_result.payload`. The frame `id` is the command id.
 *
 * @example
 * const p: CommandResultPayload = { status: 'failed', result: null, error: "adapter 'dummy' does not support action 'frobnicate'" };
 */
export type CommandResultPayload = { status: string; result: JsonObject | null; error: string | null };

/**
 * `registry_delta.payload` (informational; the brain only logs it).
 *
 * @example
 * const p: RegistryDeltaPayload = { engine: 'bullmq', added: [], removed: ['old-task'], updated: [] };
 */
export type RegistryDeltaPayload = { engine: string; added: JsonObject[]; removed: string[]; updated: JsonObject[] };

/**
 * `error.payload`.
 *
 * @example
 * const p: ErrorPayload = { code: 'UNSUPPORTED', message: 'no such action', fatal: false };
 */
export type ErrorPayload = { code: string; message: string; fatal: boolean };

/**
 * Payload type of each signed frame type.
 *
 * @example
 * type P = SignedPayloads['command']; // CommandPayload
 */
export type SignedPayloads = {
  event_batch: EventBatchPayload;
  event_batch_ack: EventBatchAckPayload;
  heartbeat: HeartbeatPayload;
  agent_status: AgentStatusPayload;
  command: CommandPayload;
  command_ack: CommandAckPayload;
  command_result: CommandResultPayload;
  registry_delta: RegistryDeltaPayload;
  error: ErrorPayload;
};

/**
 * An unsigned handshake frame.
 *
 * @example
 * const hello: HelloFrame = { v: 2, type: 'hello', id: 'hello_0123456789abcdef', ts: null, payload };
 */
export type HelloFrame = { v: 2; type: 'hello'; id: string; ts: string | null; payload: HelloPayload };

/**
 * The brain's handshake reply; `id` is `hack_` + the first 12 hex digits of the session id.
 *
 * @example
 * const ack: HelloAckFrame = { v: 2, type: 'hello_ack', id: `hack_${sessionId.replace(/-/g, '').slice(0, 12)}`,
 *   ts: isoTimestamp(new Date()), payload };
 */
export type HelloAckFrame = { v: 2; type: 'hello_ack'; id: string; ts: string | null; payload: HelloAckPayload };

/**
 * A signed frame as it travels: envelope fields, payload and `hmac`.
 *
 * @example
 * const frame: SignedFrame<'heartbeat'> = signer.sign({ type: 'heartbeat', id: 'hb_0123456789ab', payload });
 */
export type SignedFrame<T extends SignedFrameType = SignedFrameType, P extends JsonObject = SignedPayloads[T]> = {
  v: 2;
  type: T;
  id: string;
  ts: string;
  nonce: string;
  seq: number;
  payload: P;
  hmac: string;
};

/**
 * Any frame of protocol 2.
 *
 * @example
 * function route(f: Frame) { if (f.type === 'command') f.payload.action }
 */
export type Frame = HelloFrame | HelloAckFrame | { [T in SignedFrameType]: SignedFrame<T> }[SignedFrameType];

/**
 * What {@link parseFrame} guarantees: a JSON object with a `v` key and string
 * `type` and `id`. Everything else is still unchecked.
 *
 * @example
 * const f: RawFrame = parseFrame(bytes); // f.type is a string
 */
export type RawFrame = JsonObject & { v: JsonValue; type: string; id: string };

/**
 * Parses one WebSocket message (binary or text) into a frame object without
 * loss (see {@link parseJson}) and checks the envelope minimum: an object
 * with `v`, a string `type` and a string `id`. Type-specific validation is
 * up to {@link HelloFrameSchema} or {@link FrameVerifier}.
 *
 * @throws {FrameError} `FRAME_MALFORMED` with close code 4400.
 * @example
 * ws.on('message', (data) => { const frame = parseFrame(data as Buffer); ... });
 */
export function parseFrame(input: string | Uint8Array): RawFrame {
  return checkRawFrame(parseOrFrameError(() => parseJson(input)));
}

/**
 * What {@link parseFrameWithEventTexts} returns.
 *
 * @example
 * const { frame, eventTexts } = parseFrameWithEventTexts(bytes);
 */
export interface FrameWithEventTexts {
  readonly frame: RawFrame;
  /**
   * The exact wire text of each element of `payload.events`, in order, when that is an array of as many
   * elements (else `undefined`): lets the brain store an event it did not change without serialising it again.
   */
  readonly eventTexts: string[] | undefined;
}

/**
 * {@link parseFrame}, also keeping the wire text of each `payload.events` element.
 *
 * @throws {FrameError} (close code 4400) like parseFrame.
 * @example
 * const { frame, eventTexts } = parseFrameWithEventTexts(bytes); // eventTexts?.[0] === '{"id":…}'
 */
export function parseFrameWithEventTexts(input: string | Uint8Array): FrameWithEventTexts {
  const parsed = parseOrFrameError(() => parseJsonWithTexts(input, EVENTS_PATH));
  const frame = checkRawFrame(parsed.value);
  const events = isJsonObject(frame.payload) ? frame.payload.events : undefined;
  const eventTexts = Array.isArray(events) && parsed.texts?.length === events.length ? parsed.texts : undefined;
  return { frame, eventTexts };
}

const EVENTS_PATH = ['payload', 'events'] as const;

function parseOrFrameError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof JsonParseError) {
      throw new FrameError('FRAME_MALFORMED', `frame is not valid JSON: ${err.message}`, CloseCode.Malformed, {
        cause: err,
      });
    }
    throw err;
  }
}

function checkRawFrame(value: JsonValue): RawFrame {
  if (!isJsonObject(value)) throw new FrameError('FRAME_MALFORMED', 'frame is not a JSON object');
  if (!('v' in value)) throw new FrameError('FRAME_MALFORMED', 'frame has no "v"');
  if (typeof value.type !== 'string') throw new FrameError('FRAME_MALFORMED', 'frame has no string "type"');
  if (typeof value.id !== 'string') throw new FrameError('FRAME_MALFORMED', 'frame has no string "id"');
  return value as RawFrame;
}

// Compile-time checks: each schema's output fits the wire type.
type Assignable<A extends B, B> = A;
type _SchemaChecks = [
  Assignable<v.InferOutput<typeof HelloPayloadSchema>, HelloPayload>,
  Assignable<v.InferOutput<typeof HelloAckPayloadSchema>, HelloAckPayload>,
  Assignable<v.InferOutput<typeof AgentEventSchema>, AgentEvent>,
  Assignable<ParsedPayload<'event_batch'>, EventBatchPayload>,
  Assignable<ParsedPayload<'event_batch_ack'>, EventBatchAckPayload>,
  Assignable<ParsedPayload<'heartbeat'>, HeartbeatPayload>,
  Assignable<ParsedPayload<'agent_status'>, AgentStatusPayload>,
  Assignable<ParsedPayload<'command'>, CommandPayload>,
  Assignable<ParsedPayload<'command_ack'>, CommandAckPayload>,
  Assignable<ParsedPayload<'command_result'>, CommandResultPayload>,
  Assignable<ParsedPayload<'registry_delta'>, RegistryDeltaPayload>,
  Assignable<ParsedPayload<'error'>, ErrorPayload>,
];
