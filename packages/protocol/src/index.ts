/**
 * `@z4j/protocol`: z4j protocol 2 — lossless JSON, Python-identical canonical
 * JSON, secrets, frame types and schemas, HMAC signing and the replay guard.
 * Wire-compatible with the Python z4j agents and brain.
 */
export { JsonFloat } from './json-value.js';
export type { JsonObject, JsonValue } from './json-value.js';

export { DEFAULT_MAX_JSON_DEPTH, JsonParseError, parseJson, parseJsonWithTexts } from './json-parse.js';
export type { ParsedWithTexts, ParseJsonOptions } from './json-parse.js';

export { CanonicalJsonError, canonicalBytes, canonicalJson, compareCodePoints, pyFloatRepr } from './canonical-json.js';

export {
  decodeHmacSecret,
  deriveProjectSecret,
  encodeHmacSecret,
  hashAgentToken,
  makeNonce,
  MIN_SECRET_BYTES,
  mintAgentToken,
  uuidToBytesLE,
} from './secrets.js';

export { isoTimestamp, parseIsoDateTime, parseIsoWithTimezone } from './iso-time.js';
export type { IsoDateTime } from './iso-time.js';

export { CloseCode, FrameError, FrameVerificationError } from './errors.js';
export type { CloseCodeValue, FrameVerificationReason } from './errors.js';

export {
  AgentEventSchema,
  AgentStatusPayloadSchema,
  CommandAckPayloadSchema,
  CommandPayloadSchema,
  CommandResultPayloadSchema,
  describeIssues,
  ErrorPayloadSchema,
  EVENT_KINDS,
  EventBatchAckPayloadSchema,
  EventBatchPayloadSchema,
  FloatSchema,
  FRAME_VERSION,
  HeartbeatPayloadSchema,
  HelloAckFrameSchema,
  HelloAckPayloadSchema,
  HelloFrameSchema,
  HelloPayloadSchema,
  IntSchema,
  isJsonObject,
  IsoDateTimeStringSchema,
  isSignedFrameType,
  JsonObjectSchema,
  jsonNumber,
  JsonValueSchema,
  maxCharsString,
  normalizeEventKind,
  parseFrame,
  parseFrameWithEventTexts,
  parsePayload,
  PAYLOAD_SCHEMAS,
  PROTOCOL_VERSION,
  RegistryDeltaPayloadSchema,
  SIGNED_FRAME_TYPES,
  UNSIGNED_FRAME_TYPES,
} from './frames.js';
export type {
  AgentEvent,
  AgentStatusPayload,
  CommandAckPayload,
  CommandPayload,
  CommandResultPayload,
  ErrorPayload,
  EventBatchAckPayload,
  EventBatchPayload,
  EventKind,
  Frame,
  FrameType,
  HeartbeatPayload,
  HelloAckFrame,
  HelloAckPayload,
  HelloFrame,
  HelloPayload,
  ParsedPayload,
  FrameWithEventTexts,
  RawFrame,
  RegistryDeltaPayload,
  SignedFrame,
  SignedFrameType,
  SignedPayloads,
} from './frames.js';

export { computeFrameHmac, FrameSigner, FrameVerifier, MAX_NONCE_LENGTH, ReplayGuard, signingInput } from './signing.js';
export type {
  FrameSignerOptions,
  FrameVerifierOptions,
  ReplayGuardOptions,
  SessionBinding,
  UnsignedFrame,
  VerifiedFrame,
} from './signing.js';

export { purgeConfirmToken } from './purge-confirm.js';
