/**
 * Messages between the main thread and the PGlite worker. Values cross the
 * thread boundary by structured clone, so everything here is plain data.
 *
 * Rows travel as raw Postgres text (the worker switches PGlite's own type
 * parsing off) and are parsed on the main thread by node-postgres' parsers, so
 * both drivers turn the same text into the same JS values by construction.
 */

export interface WorkerInit {
  /** Undefined = in-memory database. */
  readonly dataDir: string | undefined;
}

export type WorkerRequest =
  | { readonly id: number; readonly op: 'query'; readonly sql: string; readonly params: readonly (string | null)[] }
  | { readonly id: number; readonly op: 'exec'; readonly sql: string }
  | { readonly id: number; readonly op: 'close' };

export interface WireField {
  readonly name: string;
  readonly dataTypeID: number;
}

export interface WireQueryResult {
  /** One array of raw text values (or null) per row, in `fields` order. */
  readonly rows: (string | null)[][];
  readonly fields: WireField[];
  /** The command tag's verb: SELECT, INSERT, UPDATE, CREATE, ... */
  readonly command: string | undefined;
  /** Rows changed by INSERT/UPDATE/DELETE/MERGE/COPY; 0 for everything else. */
  readonly affectedRows: number;
}

/** The fields of a Postgres ErrorResponse, named as node-postgres' `DatabaseError` names them. */
export const PG_ERROR_FIELDS = [
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const;

export type PgErrorField = (typeof PG_ERROR_FIELDS)[number];

export type WireError = { readonly message: string } & { readonly [K in PgErrorField]?: string };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result?: WireQueryResult }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

export type WorkerEvent = { readonly op: 'ready' } | { readonly op: 'init-error'; readonly error: WireError };
