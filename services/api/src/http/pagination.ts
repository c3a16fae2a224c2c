import * as v from 'valibot';
import { apiError } from './api-errors.js';
import { UUID_PATTERN } from './uuid.js';

/**
 * Cursor pagination (§5.1): no offsets. A cursor is base64url (no padding) of
 * the JSON `[[kind, value], "<uuid tiebreak>"]` where kind is `dt` (ISO
 * timestamp), `null` or `raw` (a string). Pages are ordered by (sort value,
 * id), so a cursor names the last row seen and the next page starts after it.
 */
export type CursorKey = readonly [Date | string | null, string];

export function encodeCursor([value, id]: CursorKey): string {
  const head = value === null ? ['null', null] : value instanceof Date ? ['dt', value.toISOString()] : ['raw', value];
  return Buffer.from(JSON.stringify([head, id]), 'utf8').toString('base64url');
}

const CursorShape = v.tuple([
  v.union([
    v.tuple([v.literal('dt'), v.pipe(v.string(), v.isoTimestamp())]),
    v.tuple([v.literal('null'), v.null()]),
    v.tuple([v.literal('raw'), v.pipe(v.string(), v.maxLength(500))]),
  ]),
  v.pipe(v.string(), v.regex(UUID_PATTERN)),
]);

/** The key a cursor names, or a 422 naming `query.cursor` when it is not one of ours. */
export function decodeCursor(cursor: string): CursorKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const result = v.safeParse(CursorShape, parsed);
  if (!result.success) throw apiError.validation([{ field: 'query.cursor', message: 'not a cursor returned by this API' }]);
  const [[kind, value], id] = result.output;
  return [kind === 'dt' ? new Date(value) : kind === 'null' ? null : value, id];
}

/** For lists ordered by a text key (email, name): the cursor's key, which must be a string, or undefined without one. */
export function decodeTextCursor(cursor: string | undefined): readonly [string, string] | undefined {
  if (cursor === undefined) return undefined;
  const [value, id] = decodeCursor(cursor);
  if (typeof value !== 'string') throw apiError.validation([{ field: 'query.cursor', message: 'not a cursor of this list' }]);
  return [value, id];
}

/** `?cursor=&limit=` for list routes; limit defaults to Z4J_REST_DEFAULT_PAGE_SIZE and is capped at Z4J_REST_MAX_PAGE_SIZE. */
export function paginationQuery(settings: { readonly restDefaultPageSize: number; readonly restMaxPageSize: number }) {
  return v.object({
    cursor: v.optional(v.pipe(v.string(), v.maxLength(1000))),
    limit: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^\d{1,4}$/, 'expected a whole number'),
        v.transform(Number),
        v.minValue(1),
        v.maxValue(settings.restMaxPageSize),
      ),
      String(settings.restDefaultPageSize),
    ),
  });
}

/**
 * Builds the `{items, next_cursor}` envelope from `limit + 1` fetched rows:
 * the extra row only says whether another page exists.
 */
export function pageOf<T>(rows: readonly T[], limit: number, keyOf: (row: T) => CursorKey): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
