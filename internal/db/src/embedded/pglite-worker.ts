/**
 * Worker-thread entry that owns the PGlite instance. PGlite runs queries
 * synchronously on its thread; living here keeps the main event loop free.
 *
 * Lifecycle: open PGlite → post `ready` (or `init-error`; the main thread then terminates us) → answer
 * requests in arrival order → on `close`, close PGlite (a clean shutdown, so a
 * data dir reopens without recovery) and answer; the main thread then
 * terminates us.
 *
 * Plain TypeScript on purpose (no decorators, enums, or path aliases): this file
 * is loaded both from dist/*.js and, under tests, from src/*.ts through tsx.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, types, type Results } from '@electric-sql/pglite';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import {
  PG_ERROR_FIELDS,
  type WireError,
  type WireQueryResult,
  type WorkerEvent,
  type WorkerInit,
  type WorkerReply,
  type WorkerRequest,
} from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('pglite-worker must run in a worker thread');

/** Values go back as the text Postgres sent; the main thread parses them the way node-postgres does. */
const rawText = (value: string): string => value;
const AFFECTING_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY']);

function toWireError(error: unknown): WireError {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const source = error as Partial<Record<string, unknown>>;
  const wire: Record<string, string> = { message: describe(source) };
  for (const field of PG_ERROR_FIELDS) {
    const value = source[field];
    if (typeof value === 'string') wire[field] = value;
  }
  return wire as WireError;
}

/** Emscripten's file-system errors (a bad data dir) are plain objects: `{ name: 'ErrnoError', errno: 54 }`. */
function describe(error: Partial<Record<string, unknown>>): string {
  if (typeof error.message === 'string') return error.message;
  const name = typeof error.name === 'string' ? error.name : 'error';
  return typeof error.errno === 'number' ? `${name} (wasm errno ${error.errno})` : name;
}

function toWireResult(result: Results<unknown> | undefined): WireQueryResult {
  if (!result) return { rows: [], fields: [], command: undefined, affectedRows: 0 };
  const command = result.command;
  return {
    rows: result.rows as unknown as (string | null)[][],
    fields: result.fields.map((field) => ({ name: field.name, dataTypeID: field.dataTypeID })),
    command,
    // `affectedRows` is cumulative over a multi-statement string; `rowCount` is this statement's own tag.
    affectedRows: command !== undefined && AFFECTING_COMMANDS.has(command) ? (result.rowCount ?? 0) : 0,
  };
}

async function open(init: WorkerInit): Promise<PGlite> {
  const rawParsers = Object.fromEntries(Object.keys(types.parsers).map((oid) => [oid, rawText]));
  const db = new PGlite({ dataDir: init.dataDir, extensions: { citext, pg_trgm }, parsers: rawParsers });
  await db.waitReady;
  // Startup registered parsers for every array type (built on the defaults); turn those to raw text too.
  for (const oid of Object.keys(db.parsers)) db.parsers[oid] = rawText;
  // Parameters arrive already serialised to Postgres text by node-postgres' rules (see pg-values.ts);
  // with no serialisers PGlite sends each one as-is (`String(value)`).
  db.serializers = {};
  return db;
}

async function handle(db: PGlite, request: WorkerRequest): Promise<WorkerReply> {
  switch (request.op) {
    case 'query': {
      if (request.params.length === 0) {
        // Like node-postgres: no parameters → simple protocol, so a multi-statement string runs
        // (migrations rely on it). Its result is the last statement's.
        const results = await db.exec(request.sql, { rowMode: 'array' });
        return { id: request.id, ok: true, result: toWireResult(results.at(-1)) };
      }
      const result = await db.query(request.sql, [...request.params], { rowMode: 'array' });
      return { id: request.id, ok: true, result: toWireResult(result) };
    }
    case 'exec':
      await db.exec(request.sql);
      return { id: request.id, ok: true };
    case 'close':
      await db.close();
      return { id: request.id, ok: true };
  }
}

try {
  const db = await open(workerData as WorkerInit);
  port.on('message', (request: WorkerRequest) => {
    handle(db, request).then(
      (reply) => port.postMessage(reply),
      (error: unknown) => port.postMessage({ id: request.id, ok: false, error: toWireError(error) } satisfies WorkerReply),
    );
  });
  port.postMessage({ op: 'ready' } satisfies WorkerEvent);
} catch (error) {
  // The main thread terminates us on this reply.
  port.postMessage({ op: 'init-error', error: toWireError(error) } satisfies WorkerEvent);
}
