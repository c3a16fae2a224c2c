import { PassThrough, Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import * as v from 'valibot';
import { apiError } from '../http/api-errors.js';

/**
 * Streamed downloads of a list (`?format=csv|xlsx|json`).
 *
 * A list is exported the way it is paged: the caller hands over an async
 * iterable of row batches (keyset pages read one after another), and each
 * batch is encoded and handed to the client before the next one is read, so
 * neither the rows nor the file are ever held in memory whole and a slow
 * client slows the database reads down instead of piling up output:
 * - csv and json: a `ReadableStream` whose `pull()` reads one batch, so the
 *   next read happens only when the client has taken the previous one;
 * - xlsx: exceljs' streaming WorkbookWriter (each row is written to the zip as
 *   it is committed), into a PassThrough whose backlog is drained before the
 *   next batch is read.
 * The filtered row count is checked against the cap BEFORE the first byte goes
 * out ({@link assertExportWithinCap}): once streaming started, the status is 200
 * and a failure can only cut the download short.
 */

export const EXPORT_FORMATS = ['csv', 'xlsx', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** `?format=`: absent for the paged JSON list, else one of {@link EXPORT_FORMATS}. */
export function exportFormatInput() {
  return v.optional(v.picklist(EXPORT_FORMATS, `expected one of ${EXPORT_FORMATS.join(', ')}`));
}

/** One row of an export: its values are read by column key. */
export type ExportRow = object;

function valueOf(row: ExportRow, column: string): unknown {
  return (row as Readonly<Record<string, unknown>>)[column];
}

export interface TableExportOptions {
  readonly format: ExportFormat;
  /** Download name without extension (`alpha-tasks-20260101T120000Z`); letters, digits, `-`, `_` and `.` only. */
  readonly basename: string;
  /** Column keys, in order: the CSV header, the XLSX header row, the keys of each JSON object. */
  readonly columns: readonly string[];
  /** Row batches in export order; closed early (`return()`) when the client goes away. */
  readonly batches: AsyncIterable<readonly ExportRow[]>;
  /** XLSX sheet name (default `export`). */
  readonly sheetName?: string;
  /** Told when the download broke off after it started (a failed read): the status was already sent. */
  readonly onStreamError?: (error: unknown) => void;
}

const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/**
 * The 422 an export answers, before streaming, when its filters match more
 * rows than `Z4J_TASKS_EXPORT_MAX_ROWS` allows: narrow the filters instead.
 * `count` is the number of matching rows, counted up to `cap + 1` at most.
 */
export function assertExportWithinCap(count: number, cap: number): void {
  if (count <= cap) return;
  throw apiError.validation([
    {
      field: 'query',
      message: `the filters match more than ${cap} rows, the most an export may hold (Z4J_TASKS_EXPORT_MAX_ROWS); narrow them (since/until, state, name, ...)`,
    },
  ]);
}

/** `20260101T120000Z`: a timestamp for a download's file name. */
export function exportFileStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** The streamed download response of an export. */
export function exportResponse(options: TableExportOptions): Response {
  const body = options.format === 'xlsx' ? xlsxStream(options) : textStream(options);
  const filename = `${options.basename.replace(/[^\w.-]/g, '_')}.${options.format}`;
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': CONTENT_TYPES[options.format],
      'content-disposition': `attachment; filename="${filename}"`,
      // A download of live data: never cached by a proxy or the browser.
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
  });
}

function textStream(options: TableExportOptions): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = options.batches[Symbol.asyncIterator]();
  const encode = options.format === 'csv' ? csvEncoder(options.columns) : jsonEncoder(options.columns);
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(encode.head));
    },
    async pull(controller) {
      if (done) return;
      try {
        // Skip empty batches without handing the client an empty chunk.
        for (;;) {
          const next = await iterator.next();
          if (next.done) {
            done = true;
            controller.enqueue(encoder.encode(encode.tail));
            controller.close();
            return;
          }
          if (next.value.length === 0) continue;
          controller.enqueue(encoder.encode(encode.rows(next.value)));
          return;
        }
      } catch (error) {
        done = true;
        options.onStreamError?.(error);
        controller.error(error);
      }
    },
    async cancel() {
      done = true;
      await iterator.return?.();
    },
  });
}

interface TextEncoding {
  readonly head: string;
  rows(batch: readonly ExportRow[]): string;
  readonly tail: string;
}

function csvEncoder(columns: readonly string[]): TextEncoding {
  return {
    head: csvLine(columns),
    rows: (batch) => batch.map((row) => csvLine(columns.map((column) => csvCell(valueOf(row, column))))).join(''),
    tail: '',
  };
}

/** A JSON array of objects, one batch at a time: `[`, rows separated by `,`, `]`. */
function jsonEncoder(columns: readonly string[]): TextEncoding {
  let first = true;
  return {
    head: '[',
    rows: (batch) => {
      const text = batch
        .map((row) => {
          const item: Record<string, unknown> = {};
          for (const column of columns) item[column] = valueOf(row, column) ?? null;
          return JSON.stringify(item, jsonReplacer);
        })
        .join(',\n');
      const separated = first ? `\n${text}` : `,\n${text}`;
      first = false;
      return separated;
    },
    tail: ']\n',
  };
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** RFC 4180 line: cells separated by commas, CRLF at the end. */
function csvLine(cells: readonly string[]): string {
  return `${cells.map(quoteCsv).join(',')}\r\n`;
}

function quoteCsv(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/**
 * A value as CSV cell text. Text that a spreadsheet would run as a formula
 * (starting with `=`, `+`, `-`, `@`, or a tab / carriage return that some
 * parsers strip before one of those) gets a leading `'`, which spreadsheets
 * show as text: task names, exceptions and arguments come from agents, so
 * they are attacker-controlled as far as the person opening the file is
 * concerned (CSV injection, OWASP). Numbers are written as they are.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  const text = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value, jsonReplacer);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** The longest text an XLSX cell holds (Excel refuses to open a file with a longer one). */
export const XLSX_MAX_CELL_LENGTH = 32_767;

function xlsxCell(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  const text =
    value instanceof Date
      ? value.toISOString()
      : typeof value === 'string'
        ? value
        : typeof value === 'bigint'
          ? value.toString()
          : JSON.stringify(value, jsonReplacer);
  // Cells are written as inline strings, never formulas, so no injection guard is needed here.
  return text.length > XLSX_MAX_CELL_LENGTH ? text.slice(0, XLSX_MAX_CELL_LENGTH) : text;
}

function xlsxStream(options: TableExportOptions): ReadableStream<Uint8Array> {
  const output = new PassThrough();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: output, useSharedStrings: false, useStyles: false });
  const sheet = workbook.addWorksheet(options.sheetName ?? 'export');
  sheet.addRow([...options.columns]).commit();

  const produce = async () => {
    for await (const batch of options.batches) {
      if (output.destroyed) return; // the client went away: for-await closes the batches
      for (const row of batch) sheet.addRow(options.columns.map((column) => xlsxCell(valueOf(row, column)))).commit();
      // Let the zip writer push what was just committed into `output`; while the client has not taken what is
      // queued there, read nothing more (at most about one batch waits inside the zip writer).
      await new Promise((resolve) => setImmediate(resolve));
      if (output.writableNeedDrain) await drained(output);
    }
    if (output.destroyed) return;
    sheet.commit();
    await workbook.commit();
  };
  produce().catch((error: unknown) => {
    options.onStreamError?.(error);
    output.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  return Readable.toWeb(output) as ReadableStream<Uint8Array>;
}

/** Resolves once `stream` drained, or closed (then the producer sees `destroyed` and stops). */
function drained(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
