import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { expect, it } from 'vitest';
import { appendAuditRow } from '@z4j/audit';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness, type ApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('audit exports', postgres, ({ skip, test }) => {
  /** Appends `count` rows of `action` to the chain (after every row already in it: the log is append-only). */
  async function append(
    harness: ApiHarness,
    projectId: string | null,
    action: string,
    count: number,
    metadata: Record<string, string> = {},
  ) {
    const head = await harness.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.max('occurred_at').as('latest'))
      .executeTakeFirst();
    const at = new Date(Math.max(head?.latest ? new Date(head.latest).getTime() : 0, harness.clock.now.getTime()) + 60_000);
    for (let index = 0; index < count; index += 1) {
      await appendAuditRow(
        harness.db,
        { action, target_type: 'test', result: 'success', project_id: projectId, metadata },
        { secret: TEST_SECRET, now: at },
      );
    }
  }

  async function setup(env: Record<string, string> = {}) {
    const harness = createApiHarness(test().database.db, env);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const alphaId = await harness.createProject('alpha');
    return { harness, admin, viewer, alphaId, jar: await harness.sessionJar(admin) };
  }

  it.skipIf(skip)('a project admin exports the filtered audit rows as CSV, JSON or XLSX through the shared exporter', async () => {
    const { harness, alphaId, jar } = await setup();
    const action = `export.${Date.now()}`;
    await append(harness, alphaId, action, 3, { note: '=cmd()' });
    await append(harness, null, action, 1);

    const csv = await harness.request('GET', `/api/v1/projects/alpha/audit?format=csv&action=${action}`, { jar });
    expect(csv.status, csv.text).toBe(200);
    expect(csv.headers.get('content-disposition')).toMatch(/filename="alpha-audit-\d{8}T\d{6}Z\.csv"/);
    const rows = parse<Record<string, string>>(csv.text, { columns: true });
    expect(rows).toHaveLength(3);
    expect(Object.keys(rows[0]!)).toEqual([
      'occurred_at',
      'id',
      'action',
      'result',
      'outcome',
      'target_type',
      'target_id',
      'project_slug',
      'project_id',
      'user_email',
      'user_id',
      'api_key_id',
      'source_ip',
      'user_agent',
      'metadata',
    ]);
    expect(rows[0]).toMatchObject({ action, project_slug: 'alpha', metadata: '{"note":"=cmd()"}' });
    expect(rows[0]!.occurred_at).toMatch(/\.\d{6}\+00:00$/);

    const json = await harness.request('GET', `/api/v1/projects/alpha/audit?format=json&action=${action}`, { jar });
    expect((JSON.parse(json.text) as { id: string }[]).map((row) => row.id)).toEqual(rows.map((row) => row.id));

    const xlsx = await harness.request('GET', `/api/v1/projects/alpha/audit?format=xlsx&action=${action}`, { jar });
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(Buffer.from(xlsx.bytes) as unknown as ArrayBuffer);
    expect(workbook.getWorksheet('audit')!.rowCount).toBe(4);

    // /activity exports too, with its own visibility (a global admin also sees the project-less row).
    const root = await harness.createUser({ isAdmin: true });
    const activity = await harness.request('GET', `/api/v1/activity?format=json&action=${action}`, { jar: await harness.sessionJar(root) });
    expect(JSON.parse(activity.text)).toHaveLength(4);
  });

  it.skipIf(skip)('the same cap as task exports: more matching rows than Z4J_TASKS_EXPORT_MAX_ROWS is a 422; viewers 403', async () => {
    const { harness, viewer, alphaId, jar } = await setup({ Z4J_TASKS_EXPORT_MAX_ROWS: '100' });
    const action = `cap.${Date.now()}`;
    await append(harness, alphaId, `${action}.a`, 100);
    await append(harness, alphaId, `${action}.b`, 1);
    const over = await harness.request('GET', `/api/v1/projects/alpha/audit?format=csv&action=${action}`, { jar });
    expect(over.status).toBe(422);
    expect(over.body.details.errors).toEqual([{ field: 'query', message: expect.stringContaining('100') }]);
    const under = await harness.request('GET', `/api/v1/projects/alpha/audit?format=json&action=${action}.a`, { jar });
    expect(JSON.parse(under.text)).toHaveLength(100);
    const viewerReply = await harness.request('GET', `/api/v1/projects/alpha/audit?format=csv`, { jar: await harness.sessionJar(viewer) });
    expect(viewerReply.status).toBe(403);
  });
});
