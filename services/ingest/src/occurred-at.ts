/**
 * Event timestamps in epoch microseconds. JS `Date` stops at milliseconds,
 * but Python agents send microseconds (`2026-11-22T22:57:51.313403+00:00`),
 * and two retries of one task inside the same millisecond are two events, so
 * the whole path (dedupe id, stored `occurred_at`) keeps microseconds.
 * Epoch microseconds stay below 2^53 until the year 2255, so a `number` holds
 * them exactly.
 */

/** §1.12: further in the past than this is clamped to the receive time. */
export const OCCURRED_AT_PAST_LIMIT_MICROS = 400 * 24 * 3600 * 1_000_000;
/** §1.12: further in the future than this is clamped to the receive time. */
export const OCCURRED_AT_FUTURE_LIMIT_MICROS = 60 * 1_000_000;

// date [T|t|space time [fraction]] [Z | ±hh[:mm[:ss[.ffffff]]]] — what Python's datetime.isoformat() and
// fromisoformat() use, plus the `Z` form other agents send.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?)?$/;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Epoch microseconds of an ISO-8601 timestamp, or `undefined` when it is not
 * one. A timestamp without an offset is read as UTC, like the original brain.
 * Digits beyond microseconds are truncated.
 *
 * @example parseTimestampMicros('2026-11-22T22:57:51.313403+00:00') // 1795388271313403
 */
export function parseTimestampMicros(text: string): number | undefined {
  return fastUtcMicros(text) ?? parseIsoMicros(text);
}

// The shape nearly every event has (Python's isoformat() in UTC, or the `Z` form) and the second it names, cached:
// consecutive events of a batch mostly share their second, so the full parse runs about once per second of events.
let cachedSecondText = '';
let cachedSecondMicros = 0;

/** `YYYY-MM-DDTHH:MM:SS[.f{1,6}]` + `Z` or `+00:00`, without a regex or a Date per call; undefined for any other shape. */
function fastUtcMicros(text: string): number | undefined {
  const end = text.endsWith('Z') ? text.length - 1 : text.endsWith('+00:00') ? text.length - 6 : -1;
  if (end !== 19 && (end < 21 || end > 26 || text.charCodeAt(19) !== 46)) return undefined;
  let fraction = 0;
  for (let i = 20; i < 26; i++) {
    if (i >= end) {
      fraction *= 10;
      continue;
    }
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    fraction = fraction * 10 + digit;
  }
  if (cachedSecondText === '' || !text.startsWith(cachedSecondText)) {
    const secondText = text.slice(0, 19);
    const micros = parseIsoMicros(`${secondText}Z`);
    if (micros === undefined) return undefined;
    cachedSecondText = secondText;
    cachedSecondMicros = micros;
  }
  return cachedSecondMicros + fraction;
}

function parseIsoMicros(text: string): number | undefined {
  const match = ISO.exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om, os, ofrac] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) return undefined;
  if (month === 2 && day === 29 && !isLeapYear(year)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  let micros = date.getTime() * 1000 + (frac === undefined ? 0 : Number(frac.slice(0, 6).padEnd(6, '0')));
  if (sign !== undefined) {
    const offHours = Number(oh);
    const offMinutes = om === undefined ? 0 : Number(om);
    const offSeconds = os === undefined ? 0 : Number(os);
    if (offHours > 23 || offMinutes > 59 || offSeconds > 59) return undefined;
    const offset = (offHours * 3600 + offMinutes * 60 + offSeconds) * 1_000_000 + (ofrac === undefined ? 0 : Number(ofrac.padEnd(6, '0')));
    micros += sign === '+' ? -offset : offset;
  }
  return Number.isSafeInteger(micros) ? micros : undefined;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * `occurred` clamped to `received` when it is more than 400 days before it or
 * more than 60 s after it (§1.12): outside that window it is either a broken
 * clock or an attempt to pin a task's state or dodge dedupe.
 */
export function clampOccurredMicros(occurred: number, received: number): { micros: number; clamped: boolean } {
  if (occurred < received - OCCURRED_AT_PAST_LIMIT_MICROS || occurred > received + OCCURRED_AT_FUTURE_LIMIT_MICROS) {
    return { micros: received, clamped: true };
  }
  return { micros: occurred, clamped: false };
}

// formatMicros runs several times per event; consecutive events mostly share their second.
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/** `2026-11-22T22:57:51.313403Z`: what Postgres gets, so the microseconds survive. */
export function formatMicros(micros: number): string {
  const second = Math.floor(micros / 1_000_000);
  if (second !== cachedSecond) {
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
    cachedSecond = second;
  }
  return `${cachedPrefix}.${String(micros - second * 1_000_000).padStart(6, '0')}Z`;
}

export function dateToMicros(date: Date): number {
  return date.getTime() * 1000;
}
