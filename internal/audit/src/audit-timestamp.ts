import { sql, type RawBuilder } from 'kysely';

/**
 * `occurred_at` is signed, so it must survive the trip to Postgres and back
 * exactly, to the microsecond. Postgres `timestamptz` keeps microseconds; a
 * JS `Date` keeps milliseconds, and node-postgres parses `timestamptz` into a
 * `Date`. Reading a row back as a `Date` would therefore silently drop the
 * microseconds the writer may have added (see `appendAuditRow`) and the
 * recomputed HMAC would not match.
 *
 * So inside this package an audit timestamp is never a `Date`: it is a count
 * of microseconds since the Unix epoch (`bigint`) for arithmetic, or its
 * canonical text, the form §6.2 hashes and Python's
 * `isoformat(timespec="microseconds")` writes for a UTC datetime:
 * `2026-01-01T12:00:00.000000+00:00`. It goes to Postgres as that text (cast
 * to timestamptz, exact) and comes back through {@link occurredAtText}, which
 * formats it in SQL.
 */

const MICROS_PER_SECOND = 1_000_000n;
const CANONICAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})\+00:00$/;

/** Microseconds since the Unix epoch of a JS Date (whose sub-millisecond part is always 000). */
export function auditMicrosFromDate(date: Date): bigint {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid Date for an audit timestamp');
  return BigInt(ms) * 1000n;
}

/**
 * The canonical text of a timestamp given in microseconds since the epoch.
 *
 * @example
 * formatAuditTimestamp(1767268800000001n) // '2026-01-01T12:00:00.000001+00:00'
 */
export function formatAuditTimestamp(micros: bigint): string {
  let seconds = micros / MICROS_PER_SECOND;
  let fraction = micros % MICROS_PER_SECOND;
  if (fraction < 0n) {
    fraction += MICROS_PER_SECOND;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${whole.slice(0, 19)}.${fraction.toString().padStart(6, '0')}+00:00`;
}

/**
 * Microseconds since the epoch of a canonical audit timestamp; throws on
 * anything else (another offset, fewer digits, an impossible date), so a
 * timestamp that could not have come from {@link formatAuditTimestamp} is
 * never hashed.
 */
export function parseAuditTimestamp(text: string): bigint {
  const match = CANONICAL.exec(text);
  if (!match) throw new RangeError(`not a canonical audit timestamp (YYYY-MM-DDTHH:MM:SS.ffffff+00:00): "${text}"`);
  const [, year, month, day, hour, minute, second, fraction] = match as unknown as [string, ...string[]];
  const ms = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  const micros = BigInt(ms) * 1000n + BigInt(fraction!);
  if (formatAuditTimestamp(micros) !== text) throw new RangeError(`not a valid date: "${text}"`);
  return micros;
}

/**
 * `audit_log.occurred_at` as canonical text, formatted by Postgres itself so
 * the microseconds never pass through a JS Date.
 */
export function occurredAtText(): RawBuilder<string> {
  return sql<string>`to_char(audit_log.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')`;
}
