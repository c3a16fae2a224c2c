import { createHmac } from 'node:crypto';
import { canonicalBytes, type JsonValue } from '@z4j/protocol';
import { auditMicrosFromDate, formatAuditTimestamp, parseAuditTimestamp } from './audit-timestamp.js';

/**
 * What an audit row's HMAC covers (reference §6.2). Writers and `audit verify`
 * must build byte-identical input from the same row, so this is the one place
 * that decides it: the field set, the truncations, the outcome default and the
 * timestamp form. The JSON encoding is `@z4j/protocol`'s `canonicalJson`,
 * which is exactly Python's `json.dumps(sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False)`; the vectors in vectors.json pin both.
 */

/** allow (success), deny (policy denial), failure (the action failed), error (anything else). */
export type AuditOutcome = 'allow' | 'deny' | 'failure' | 'error';

/**
 * Lengths in code points (Python `str[:n]`), applied before hashing; the
 * table's CHECK constraints use the same limits, so stored = hashed.
 */
export const AUDIT_FIELD_LIMITS = {
  action: 80,
  target_type: 40,
  target_id: 200,
  result: 20,
  user_agent: 1024,
} as const;

/** The signed content of one audit row, in the shape that is hashed. */
export type AuditCanonicalFields = {
  readonly version: 1;
  readonly id: string;
  readonly action: string;
  readonly target_type: string;
  readonly target_id: string | null;
  readonly result: string;
  readonly outcome: AuditOutcome;
  readonly event_id: string | null;
  readonly user_id: string | null;
  readonly api_key_id: string | null;
  readonly project_id: string | null;
  readonly source_ip: string | null;
  readonly user_agent: string | null;
  readonly metadata: JsonValue;
  /** Canonical UTC text with microseconds: `2026-01-01T12:00:00.000000+00:00`. */
  readonly occurred_at: string;
  readonly prev_row_hmac: string | null;
};

/** Input of {@link buildAuditCanonicalFields}: a row before truncation, outcome default and timestamp formatting. */
export interface AuditCanonicalInput {
  readonly id: string;
  readonly action: string;
  readonly target_type: string;
  readonly target_id: string | null;
  readonly result: string;
  /** Default: derived from `result` by {@link defaultAuditOutcome}. */
  readonly outcome?: AuditOutcome | null;
  readonly event_id: string | null;
  readonly user_id: string | null;
  readonly api_key_id: string | null;
  readonly project_id: string | null;
  readonly source_ip: string | null;
  readonly user_agent: string | null;
  /** Default `{}`. */
  readonly metadata?: JsonValue;
  /**
   * A Date (its microseconds are 000) or canonical text, e.g. as read back
   * from Postgres, which keeps microseconds a Date cannot hold.
   */
  readonly occurred_at: Date | string;
  readonly prev_row_hmac: string | null;
}

/**
 * The outcome a row gets when the caller names none: `success` → allow,
 * `failed` → failure, anything else → error. Policy denials pass `deny`
 * explicitly; no result maps to it.
 */
export function defaultAuditOutcome(result: string): AuditOutcome {
  if (result === 'success') return 'allow';
  if (result === 'failed') return 'failure';
  return 'error';
}

/**
 * The first `max` code points of `text`, like Python's `text[:max]`: an astral
 * character counts once and is never split into half a surrogate pair.
 */
export function truncateCodePoints(text: string, max: number): string {
  // Fast path: fewer UTF-16 units than the limit means fewer code points too.
  if (text.length <= max) return text;
  let units = 0;
  let points = 0;
  while (units < text.length && points < max) {
    const code = text.codePointAt(units)!;
    units += code > 0xffff ? 2 : 1;
    points += 1;
  }
  return text.slice(0, units);
}

function truncateOrNull(text: string | null, max: number): string | null {
  return text === null ? null : truncateCodePoints(text, max);
}

/**
 * The canonical field object of §6.2 for one row (version 1), with every
 * truncation and default applied. Idempotent: building it again from its own
 * output gives the same object, which is what lets `audit verify` rebuild it
 * from a stored row.
 *
 * @example
 * const fields = buildAuditCanonicalFields({ id, action: 'agent.token.minted', target_type: 'agent', ..., occurred_at: new Date() });
 * const rowHmac = computeRowHmac(secret, fields);
 */
export function buildAuditCanonicalFields(input: AuditCanonicalInput): AuditCanonicalFields {
  const occurredAt =
    typeof input.occurred_at === 'string'
      ? formatAuditTimestamp(parseAuditTimestamp(input.occurred_at))
      : formatAuditTimestamp(auditMicrosFromDate(input.occurred_at));
  return {
    version: 1,
    id: input.id,
    action: truncateCodePoints(input.action, AUDIT_FIELD_LIMITS.action),
    target_type: truncateCodePoints(input.target_type, AUDIT_FIELD_LIMITS.target_type),
    target_id: truncateOrNull(input.target_id, AUDIT_FIELD_LIMITS.target_id),
    result: truncateCodePoints(input.result, AUDIT_FIELD_LIMITS.result),
    outcome: input.outcome ?? defaultAuditOutcome(input.result),
    event_id: input.event_id,
    user_id: input.user_id,
    api_key_id: input.api_key_id,
    project_id: input.project_id,
    source_ip: input.source_ip,
    user_agent: truncateOrNull(input.user_agent, AUDIT_FIELD_LIMITS.user_agent),
    metadata: input.metadata ?? {},
    occurred_at: occurredAt,
    prev_row_hmac: input.prev_row_hmac,
  };
}

/**
 * `row_hmac`: lowercase hex HMAC-SHA256 keyed with the UTF-8 bytes of the
 * secret (Z4J_SECRET, no salt or derivation) over the canonical JSON of the
 * fields.
 *
 * @throws {CanonicalJsonError} when metadata holds something JSON cannot (NaN, a lone surrogate).
 */
export function computeRowHmac(secret: string, fields: AuditCanonicalFields): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(canonicalBytes(fields)).digest('hex');
}
