/**
 * ISO-8601 datetimes as Python's `datetime.fromisoformat` reads them (the
 * extended forms peers actually send) and as pydantic writes them.
 */

// date, 'T'/'t'/' ', hh[:mm[:ss[.fraction]]], optional Z or ±hh[[:]mm[:ss[.ffffff]]]
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:(Z)|([+-])(\d{2})(?::?(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?)?$/;

/**
 * A parsed ISO-8601 datetime; see {@link parseIsoDateTime}.
 *
 * @example
 * parseIsoDateTime('2026-01-01T00:00:00')?.hasTimezone // false (naive)
 */
export interface IsoDateTime {
  /** The instant (naive values are read as UTC; check `hasTimezone`). */
  readonly date: Date;
  /** Whether the string carried `Z` or an offset. */
  readonly hasTimezone: boolean;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parses an ISO-8601 date-time (`2026-11-22T22:57:47.368491Z`,
 * `2026-11-22T22:57:51.313403+00:00`, naive `2026-11-22 22:57:51`), rejecting
 * impossible dates. Precision below a millisecond is dropped. Returns `null`
 * for anything else (date-only strings included).
 *
 * @example
 * parseIsoDateTime('2026-01-01T00:00:00+02:00')
 * // { date: 2025-12-31T22:00:00.000Z, hasTimezone: true }
 */
export function parseIsoDateTime(s: string): IsoDateTime | null {
  const m = ISO_RE.exec(s);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (year < 1 || month < 1 || month > 12 || day < 1) return null;
  const isLeap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && !isLeap ? 28 : DAYS_IN_MONTH[month - 1]!)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, ms);
  let t = utc.getTime();
  const hasTimezone = m[8] !== undefined || m[9] !== undefined;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    const os = m[12] === undefined ? 0 : Number(m[12]);
    if (oh > 23 || om > 59 || os > 59) return null;
    const offsetMs = ((oh * 60 + om) * 60 + os) * 1000;
    t += m[9] === '-' ? offsetMs : -offsetMs;
  }
  return { date: new Date(t), hasTimezone };
}

/**
 * Parses an ISO-8601 date-time that carries a timezone (`Z` or an offset) —
 * what the replay guard requires of a frame's `ts`. Returns `null` for naive
 * or invalid strings.
 *
 * @example
 * parseIsoWithTimezone('2026-11-22T22:57:47.368491Z')   // Date
 * parseIsoWithTimezone('2026-11-22T22:57:51.313403+00:00') // Date
 * parseIsoWithTimezone('2026-11-22T22:57:47')           // null (naive)
 */
export function parseIsoWithTimezone(s: string): Date | null {
  const parsed = parseIsoDateTime(s);
  return parsed?.hasTimezone ? parsed.date : null;
}

/**
 * Formats an instant the way pydantic serialises an aware UTC datetime:
 * `2026-11-22T22:57:47.368000Z` (microseconds; the fraction is omitted
 * when it is zero, as Python does: `2026-01-01T00:00:00Z`).
 *
 * @throws {RangeError} for invalid dates or years outside 1–9999.
 * @example
 * isoTimestamp(new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 5))) // '2026-01-01T00:00:00.005000Z'
 */
export function isoTimestamp(date: Date): string {
  const year = date.getUTCFullYear();
  if (Number.isNaN(year) || year < 1 || year > 9999) throw new RangeError('date outside years 1-9999');
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const ms = date.getUTCMilliseconds();
  return ms === 0 ? `${iso.slice(0, 19)}Z` : `${iso.slice(0, 23)}000Z`;
}
