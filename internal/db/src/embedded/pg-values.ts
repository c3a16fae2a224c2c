/**
 * JS values ⇄ Postgres text, exactly as node-postgres does it, so code written
 * against the `pg` driver sees the same values on the embedded database.
 *
 * - Parameters: pg's own `prepareValue` (Dates in local time with offset,
 *   arrays as array literals, objects as JSON, `toPostgres()`), then Buffers as
 *   bytea hex text, because the worker binds every parameter as text.
 * - Results: pg's registered text parsers by type OID (`pg.types`), so int8 and
 *   numeric stay strings, timestamps and dates become Dates, bytea becomes a
 *   Buffer, interval a postgres-interval object, and unknown types (enums,
 *   citext, their arrays) stay strings. A `pg.types.setTypeParser` override
 *   applies to both drivers.
 */
import { createRequire } from 'node:module';
import pg from 'pg';
import type { WireQueryResult } from './worker-protocol.js';

// Reachable through pg's `./lib/*` export; @types/pg does not declare it.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (value: unknown) => string | Buffer | null;
};

export function prepareParams(params: readonly unknown[]): (string | null)[] {
  return params.map((param) => {
    const prepared = prepareValue(param);
    return Buffer.isBuffer(prepared) ? `\\x${prepared.toString('hex')}` : prepared;
  });
}

export function parseRows<R>(result: WireQueryResult): R[] {
  const { fields } = result;
  const parsers = fields.map((field) => pg.types.getTypeParser(field.dataTypeID, 'text') as (text: string) => unknown);
  return result.rows.map((raw) => {
    // Same shape as pg's object rows: later duplicate column names win.
    const row: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      const text = raw[i];
      row[fields[i]!.name] = text === null || text === undefined ? null : parsers[i]!(text);
    }
    return row as R;
  });
}
