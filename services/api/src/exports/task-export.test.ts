import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { sql, type Insertable } from 'kysely';
import { expect, it } from 'vitest';
import type { Database } from '@z4j/db';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness, type ApiHarness } from '../testing/api-harness.js';
import { EXPORT_BATCH_SIZE } from '../tasks/task-listing.js';
import { csvCell } from './table-export.js';

const postgres = await probePostgres();

type TaskSeed = Partial<Insertable<Database['tasks']>>;

async function seed(harness: ApiHarness, projectId: string, rows: readonly TaskSeed[]): Promise<void> {
  await harness.db
    .insertInto('tasks')
    .values(
      rows.map((row, index) => ({ project_id: projectId, engine: 'celery', task_id: `task-${index}`, name: 'app.tasks.noop', ...row })),
    )
    .execute();
}

/** Rows that exercise quoting, formula injection, unicode, JSON columns and nulls. */
const AWKWARD: readonly TaskSeed[] = [
  {
    task_id: 'e1',
    name: '=HYPERLINK("http://evil.example","click")',
    state: 'failure',
    exception: '+SUM(A1:A9)',
    traceback: 'line one\r\nline "two", with a comma',
    kwargs: JSON.stringify({ note: '@admin', amount: -5 }),
    args: JSON.stringify([1, 'a,b']),
    runtime_ms: 42,
    created_at: '2026-03-01T12:00:00.000003Z',
  },
  { task_id: 'e2', name: 'mail.send — ünïcødé ✉', queue: '-queue', state: 'success', created_at: '2026-03-01T12:00:00.000002Z' },
  { task_id: 'e3', name: 'plain', state: 'success', created_at: '2026-03-01T12:00:00.000001Z' },
];

describeEachDatabase('task exports', postgres, ({ skip, test }) => {
  async function setup(env: Record<string, string> = {}) {
    const harness = createApiHarness(test().database.db, env);
    await harness.reset();
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const alphaId = await harness.createProject('alpha');
    const betaId = await harness.createProject('beta');
    return { harness, alphaId, betaId, jar: await harness.sessionJar(viewer) };
  }

  it.skipIf(skip)('CSV: a header and every filtered row, quoted per RFC 4180, formulas defused, parsed back intact', async () => {
    const { harness, alphaId, betaId, jar } = await setup();
    await seed(harness, alphaId, AWKWARD);
    await seed(harness, betaId, [{ task_id: 'other-project' }]);
    const reply = await harness.request(
      'GET',
      '/api/v1/projects/alpha/tasks?format=csv&fields=task_id,name,state,exception,traceback,kwargs,args,runtime_ms,queue,created_at',
      {
        jar,
      },
    );
    expect(reply.status, reply.text).toBe(200);
    expect(reply.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(reply.headers.get('content-disposition')).toMatch(/^attachment; filename="alpha-tasks-\d{8}T\d{6}Z\.csv"$/);
    const rows = parse<Record<string, string>>(reply.text, { columns: true, relax_column_count: false });
    expect(rows.map((row) => row.task_id)).toEqual(['e1', 'e2', 'e3']);
    expect(rows[0]).toEqual({
      task_id: 'e1',
      name: `'=HYPERLINK("http://evil.example","click")`,
      state: 'failure',
      exception: "'+SUM(A1:A9)",
      traceback: 'line one\r\nline "two", with a comma',
      kwargs: '{"note":"@admin","amount":-5}',
      args: '[1,"a,b"]',
      runtime_ms: '42',
      queue: '',
      created_at: '2026-03-01T12:00:00.000003+00:00',
    });
    expect(rows[1]).toMatchObject({ name: 'mail.send — ünïcødé ✉', queue: "'-queue", exception: '' });
    // Every line ends in CRLF; the filter applies as on the list.
    expect(reply.text.endsWith('\r\n')).toBe(true);
    const failures = await harness.request('GET', '/api/v1/projects/alpha/tasks?format=csv&state=failure&fields=task_id', { jar });
    expect(failures.text).toBe('task_id\r\ne1\r\n');
    // Nothing matched: still a header.
    const none = await harness.request('GET', '/api/v1/projects/alpha/tasks?format=csv&state=revoked&fields=task_id,name', { jar });
    expect(none.text).toBe('task_id,name\r\n');
  });

  it('csvCell defuses every formula lead character but leaves numbers alone', () => {
    for (const lead of ['=', '+', '-', '@', '\t', '\r']) expect(csvCell(`${lead}1+1`)).toBe(`'${lead}1+1`);
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(null)).toBe('');
    expect(csvCell({ a: '=x' })).toBe('{"a":"=x"}');
    expect(csvCell(['=x'])).toBe('["=x"]');
  });

  it.skipIf(skip)('JSON: one valid array of objects with every field by default, across several keyset batches', async () => {
    const { harness, alphaId, jar } = await setup();
    await seed(harness, alphaId, AWKWARD);
    const reply = await harness.request('GET', '/api/v1/projects/alpha/tasks?format=json', { jar });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(reply.headers.get('content-disposition')).toMatch(/filename="alpha-tasks-\d{8}T\d{6}Z\.json"/);
    const rows = JSON.parse(reply.text) as Record<string, unknown>[];
    expect(rows.map((row) => row.task_id)).toEqual(['e1', 'e2', 'e3']);
    expect(rows[0]).toMatchObject({
      name: '=HYPERLINK("http://evil.example","click")', // JSON carries values, not spreadsheet cells: untouched
      kwargs: { note: '@admin', amount: -5 },
      args: [1, 'a,b'],
      traceback: 'line one\r\nline "two", with a comma',
      runtime_ms: 42,
      result: null,
    });
    expect(Object.keys(rows[0]!)).toEqual(expect.arrayContaining(['args', 'kwargs', 'result', 'traceback', 'metadata', 'updated_at']));

    // More rows than one batch: each exactly once, in list order.
    await sql`
      insert into tasks (project_id, engine, task_id, name, created_at)
      select ${alphaId}::uuid, 'celery', 'bulk-' || lpad(i::text, 5, '0'), 'app.bulk',
             timestamptz '2026-02-01 00:00:00+00' + ((i / 4) * interval '1 microsecond')
        from generate_series(1, ${EXPORT_BATCH_SIZE * 2 + 7}) as i`.execute(harness.db);
    const bulk = await harness.request('GET', '/api/v1/projects/alpha/tasks?format=json&fields=task_id&name=app.bulk', { jar });
    const ids = (JSON.parse(bulk.text) as { task_id: string }[]).map((row) => row.task_id);
    expect(ids).toHaveLength(EXPORT_BATCH_SIZE * 2 + 7);
    expect(new Set(ids).size).toBe(ids.length);
    const empty = await harness.request('GET', '/api/v1/projects/alpha/tasks?format=json&state=revoked', { jar });
    expect(JSON.parse(empty.text)).toEqual([]);
  });

  it.skipIf(skip)('XLSX: opens with exceljs, with the header row and one row per task', async () => {
    const { harness, alphaId, jar } = await setup();
    await seed(harness, alphaId, AWKWARD);
    await seed(
      harness,
      alphaId,
      Array.from({ length: 1500 }, (_, index) => ({
        task_id: `x-${index}`,
        name: 'app.many',
        runtime_ms: index,
        created_at: '2026-01-01T00:00:00Z',
      })),
    );
    const reply = await harness.request('GET', '/api/v1/projects/alpha/tasks?format=xlsx&fields=task_id,name,runtime_ms,kwargs,traceback', {
      jar,
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(reply.headers.get('content-disposition')).toMatch(/filename="alpha-tasks-\d{8}T\d{6}Z\.xlsx"/);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(Buffer.from(reply.bytes) as unknown as ArrayBuffer);
    const sheet = workbook.getWorksheet('tasks');
    expect(sheet).toBeDefined();
    const values = (index: number) => (sheet!.getRow(index).values as unknown[]).slice(1);
    expect(sheet!.rowCount).toBe(1 + 3 + 1500);
    expect(values(1)).toEqual(['task_id', 'name', 'runtime_ms', 'kwargs', 'traceback']);
    expect(values(2)).toEqual([
      'e1',
      '=HYPERLINK("http://evil.example","click")', // a string cell, not a formula
      42,
      '{"note":"@admin","amount":-5}',
      // XML parsers normalise CRLF in text to LF (XML 1.0 §2.11): the line break survives, the CR does not.
      'line one\nline "two", with a comma',
    ]);
    expect(sheet!.getRow(2).getCell(2).type).toBe(ExcelJS.ValueType.String);
    expect(values(3).slice(0, 2)).toEqual(['e2', 'mail.send — ünïcødé ✉']);
    const many = new Set<string>();
    for (let index = 5; index <= sheet!.rowCount; index += 1) many.add(String(values(index)[0]));
    expect(many.size).toBe(1500);
  });

  it.skipIf(skip)('more matching rows than Z4J_TASKS_EXPORT_MAX_ROWS is a 422 naming the query and the cap, before any byte', async () => {
    const { harness, alphaId, jar } = await setup({ Z4J_TASKS_EXPORT_MAX_ROWS: '100' });
    await sql`
      insert into tasks (project_id, engine, task_id, name, state)
      select ${alphaId}::uuid, 'celery', 'cap-' || i, 'app.cap', case when i <= 100 then 'success' else 'failure' end::task_state
        from generate_series(1, 101) as i`.execute(harness.db);
    for (const format of ['csv', 'json', 'xlsx']) {
      const reply = await harness.request('GET', `/api/v1/projects/alpha/tasks?format=${format}`, { jar });
      expect(reply.status, format).toBe(422);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(reply.body.error).toBe('validation_failed');
      expect(reply.body.details.errors).toEqual([{ field: 'query', message: expect.stringContaining('100') }]);
      expect(reply.body.message).toContain('Z4J_TASKS_EXPORT_MAX_ROWS');
    }
    // Exactly the cap is fine; narrowing the filter brings it under.
    const narrowed = await harness.request('GET', '/api/v1/projects/alpha/tasks?format=json&state=success&fields=task_id', { jar });
    expect(narrowed.status).toBe(200);
    expect(JSON.parse(narrowed.text)).toHaveLength(100);
    // The paged list is not an export and has no cap.
    expect((await harness.request('GET', '/api/v1/projects/alpha/tasks?limit=5', { jar })).status).toBe(200);
  });

  it.skipIf(skip)('exports are for project members: non-members get 404', async () => {
    const { harness } = await setup();
    const outsider = await harness.createUser({ memberships: { beta: 'viewer' } });
    const reply = await harness.request('GET', '/api/v1/projects/alpha/tasks?format=csv', { jar: await harness.sessionJar(outsider) });
    expect(reply.status).toBe(404);
  });
});
