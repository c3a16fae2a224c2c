import { sql, type RawBuilder } from 'kysely';
import { parseAuditTimestamp } from '@z4j/audit';
import { apiError } from '../http/api-errors.js';
import { decodeCursor, type CursorKey } from '../http/pagination.js';

/**
 * Newest-first cursors over a `timestamptz` column (tiebreak: the uuid id).
 *
 * Postgres keeps microseconds and a JS `Date` only milliseconds, so a cursor
 * built from the last row's `Date` would sit up to 999 µs before that row,
 * and every row stamped inside that gap would be skipped or repeated. That
 * gap is not hypothetical: the audit writer keeps `occurred_at` strictly
 * increasing, so rows written within one millisecond are 1 µs apart. The
 * sort value therefore travels as Postgres' own canonical text (the cursor's
 * `raw` kind, `2026-01-01T12:00:00.000001+00:00`) and is cast back to
 * `timestamptz` for the comparison: exact in both directions.
 */

/** A `timestamptz` column as canonical UTC text with microseconds, formatted by Postgres. */
export function timestampText(column: string): RawBuilder<string> {
  return sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')`;
}

export interface TimestampCursor {
  /** Canonical text of the last row's timestamp. */
  readonly at: string;
  readonly id: string;
}

/** The position a `?cursor=` names, or a 422 on `query.cursor` when it is not a timestamp cursor of ours. */
export function decodeTimestampCursor(cursor: string): TimestampCursor {
  const [value, id] = decodeCursor(cursor);
  if (typeof value !== 'string' || !isCanonicalTimestamp(value)) {
    throw apiError.validation([{ field: 'query.cursor', message: 'not a cursor returned by this API' }]);
  }
  return { at: value, id };
}

/** The key {@link pageOf} encodes for a row: its timestamp text and id. */
export function timestampCursorKey(at: string, id: string): CursorKey {
  return [at, id];
}

/** `(column, idColumn) < cursor`: the rows that follow the cursor in newest-first order. */
export function olderThan(column: string, idColumn: string, cursor: TimestampCursor): RawBuilder<boolean> {
  return sql<boolean>`(${sql.ref(column)}, ${sql.ref(idColumn)}) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)`;
}

function isCanonicalTimestamp(text: string): boolean {
  try {
    parseAuditTimestamp(text);
    return true;
  } catch {
    return false;
  }
}
