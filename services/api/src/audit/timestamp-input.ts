import * as v from 'valibot';

/**
 * An ISO 8601 timestamp with a zone (`2026-01-01T12:00:00Z`, `…+02:00`) as a
 * `Date`. The day must exist: a JS Date would quietly turn `02-31` into March.
 */
export function timestampInput() {
  return v.pipe(
    v.string(),
    v.isoTimestamp('expected an ISO 8601 timestamp with a time zone, e.g. 2026-01-01T12:00:00Z'),
    v.check((text) => isCalendarDate(text.slice(0, 10)), 'not a calendar date'),
    v.transform((text) => new Date(text)),
  );
}

function isCalendarDate(ymd: string): boolean {
  const [year, month, day] = ymd.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
