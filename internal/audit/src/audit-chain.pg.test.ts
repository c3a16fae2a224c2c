import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { expect, it } from 'vitest';
import { jsonText, sqlStateOf, type Database } from '@z4j/db';
import { JsonFloat, type JsonObject } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { buildAuditCanonicalFields, computeRowHmac, type AuditCanonicalFields } from './audit-canonical.js';
import { formatAuditTimestamp, parseAuditTimestamp } from './audit-timestamp.js';
import { verifyAuditChain } from './audit-verifier.js';
import { appendAuditRow, type AuditEntry, type AuditRow } from './audit-writer.js';

const postgres = await probePostgres();
const SECRET = 'test-master-secret-0123456789-abcdefghijklmnop';
const OLD_SECRET = 'old-master-secret-0123456789-abcdefghijklmnop';
const T0 = new Date('2026-01-01T12:00:00Z');

const ENTRY: AuditEntry = { action: 'agent.token.minted', target_type: 'agent', target_id: 'worker-1', result: 'success' };

/** What someone with write access to the database can do: run statements with the guard trigger's bypass on. */
async function asAttacker(db: Kysely<Database>, work: (trx: Kysely<Database>) => Promise<unknown>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`set local z4j.audit_sweep = 'on'`.execute(trx);
    await work(trx);
  });
}

/** Each test starts from an empty chain with the fork-preventing index in place (the fork test drops it). */
async function resetAuditLog(db: Kysely<Database>): Promise<void> {
  await asAttacker(db, (trx) => trx.deleteFrom('audit_log').execute());
  await sql`create unique index if not exists audit_log_prev_row_hmac_key on audit_log (prev_row_hmac) where prev_row_hmac is not null`.execute(
    db,
  );
}

async function appendRows(db: Kysely<Database>, count: number, options: { secret?: string; start?: Date } = {}): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  const start = (options.start ?? T0).getTime();
  for (let i = 0; i < count; i += 1) {
    rows.push(
      await appendAuditRow(db, { ...ENTRY, metadata: { n: i } }, { secret: options.secret ?? SECRET, now: new Date(start + i * 1000) }),
    );
  }
  return rows;
}

/** A row signed with the real secret but written straight into the table, as a buggy or legacy writer would. */
async function insertSigned(db: Kysely<Database>, fields: AuditCanonicalFields, secret = SECRET): Promise<string> {
  const rowHmac = computeRowHmac(secret, fields);
  const { version: _version, metadata, ...columns } = fields;
  await db
    .insertInto('audit_log')
    .values({ ...columns, metadata: sql`${jsonText(metadata)}::jsonb`, row_hmac: rowHmac })
    .execute();
  return rowHmac;
}

function legacyFields(occurredAt: string, prev: string | null): AuditCanonicalFields {
  return buildAuditCanonicalFields({
    id: randomUUID(),
    action: 'legacy.write',
    target_type: 'test',
    target_id: null,
    result: 'success',
    event_id: null,
    user_id: null,
    api_key_id: null,
    project_id: null,
    source_ip: null,
    user_agent: null,
    occurred_at: occurredAt,
    prev_row_hmac: prev,
  });
}

function kinds(problems: readonly { rowId: string; kind: string }[]): { rowId: string; kind: string }[] {
  return problems.map(({ rowId, kind }) => ({ rowId, kind }));
}

describeEachDatabase('audit chain', postgres, ({ kind, skip, test }) => {
  it.skipIf(skip)('appends a chain that verifies, hashing every value exactly as the database hands it back', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    const metadata: JsonObject = {
      float: new JsonFloat(1),
      big: 10n ** 20n,
      huge: 1e21,
      tiny: 0.00001,
      // An integral double past 2^53: JSON.stringify and jsonb would spell it differently from its exact value.
      inexact: Number('12345678901234567890'),
      text: 'é\u0000😀',
      nested: { z: 1, a: [true, null, 'x'] },
    };
    const first = await appendAuditRow(
      db,
      {
        action: `${'x'.repeat(79)}😀😀`,
        target_type: 'agent',
        target_id: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE',
        result: 'denied',
        outcome: 'deny',
        event_id: 'ABCDEF00-0000-4000-8000-000000000000',
        user_id: '22222222-3333-4444-8555-666666666666',
        project_id: '11111111-2222-4333-8444-555555555555',
        source_ip: '2001:DB8:0:0::1',
        user_agent: 'curl/8 \ud800',
        metadata,
      },
      { secret: SECRET, now: T0 },
    );
    expect(first).toMatchObject({
      prev_row_hmac: null,
      action: `${'x'.repeat(79)}😀`,
      outcome: 'deny',
      event_id: 'abcdef00-0000-4000-8000-000000000000',
      source_ip: '2001:db8::1',
      user_agent: 'curl/8 \ufffd',
      occurred_at: '2026-01-01T12:00:00.000000+00:00',
    });
    expect(first.target_id).toBe('AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE'); // free text, not a uuid column
    expect(first.metadata).toMatchObject({ big: 10n ** 20n, huge: 10n ** 21n, text: 'é\ufffd😀' });
    const rest = await appendRows(db, 4, { start: new Date(T0.getTime() + 1000) });
    expect(rest.map((row) => row.prev_row_hmac)).toEqual([first, ...rest.slice(0, -1)].map((row) => row.row_hmac));
    expect(rest[0]!.outcome).toBe('allow');
    expect(await verifyAuditChain(db, { secrets: [SECRET] })).toEqual({ verified: 5, problems: [], reachedLimit: false });
  });

  it.skipIf(skip)('keeps occurred_at strictly increasing when the clock stands still or steps back, to the microsecond', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    const at = (now: Date) => appendAuditRow(db, ENTRY, { secret: SECRET, now });
    const stamps = [
      await at(T0),
      await at(T0),
      await at(T0),
      await at(new Date(T0.getTime() - 3_600_000)),
      await at(new Date(T0.getTime() + 1)),
      await at(new Date(T0.getTime() + 1000)),
    ].map((row) => row.occurred_at);
    expect(stamps).toEqual([
      '2026-01-01T12:00:00.000000+00:00',
      '2026-01-01T12:00:00.000001+00:00',
      '2026-01-01T12:00:00.000002+00:00',
      '2026-01-01T12:00:00.000003+00:00',
      '2026-01-01T12:00:00.001000+00:00',
      '2026-01-01T12:00:01.000000+00:00',
    ]);
    const stored = await sql<{ micros: string }>`
      select (extract(epoch from occurred_at) * 1000000)::bigint::text as micros from audit_log order by occurred_at, id`.execute(db);
    expect(stored.rows.map((row) => formatAuditTimestamp(BigInt(row.micros)))).toEqual(stamps);
    expect(await verifyAuditChain(db, { secrets: [SECRET] })).toMatchObject({ verified: 6, problems: [] });
  });

  it.skipIf(skip)("writes inside the caller's transaction, so the row commits or rolls back with the action", async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    await expect(
      db.transaction().execute(async (trx) => {
        await appendAuditRow(trx, ENTRY, { secret: SECRET, now: T0 });
        throw new Error('the audited action failed');
      }),
    ).rejects.toThrow('the audited action failed');
    expect(await db.selectFrom('audit_log').select('id').execute()).toEqual([]);
    const committed = await db.transaction().execute((trx) => appendAuditRow(trx, ENTRY, { secret: SECRET, now: T0 }));
    expect(await db.selectFrom('audit_log').select('id').execute()).toEqual([{ id: committed.id }]);
    await expect(
      db
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute((trx) => appendAuditRow(trx, ENTRY, { secret: SECRET, now: T0 })),
    ).rejects.toMatchObject({ code: 'AUDIT_ISOLATION_LEVEL' });
  });

  it.skipIf(skip)('the database refuses UPDATE, DELETE and TRUNCATE on audit_log', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    const [row] = await appendRows(db, 1);
    for (const statement of [
      db.updateTable('audit_log').set({ action: 'forged' }).where('id', '=', row!.id),
      db.deleteFrom('audit_log').where('id', '=', row!.id),
      sql`truncate audit_log`,
    ]) {
      const error = await statement.execute(db).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(sqlStateOf(error)).toBe('42501');
      expect((error as Error).message).toMatch(/audit_log is append-only: (UPDATE|DELETE|TRUNCATE) is not allowed/);
    }
    expect(await db.selectFrom('audit_log').select(['id', 'action']).execute()).toEqual([{ id: row!.id, action: ENTRY.action }]);
  });

  it.skipIf(skip)('reports an edited row by its id, and only that row', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    const rows = await appendRows(db, 5);
    await asAttacker(db, (trx) => trx.updateTable('audit_log').set({ result: 'failed' }).where('id', '=', rows[2]!.id).execute());
    const result = await verifyAuditChain(db, { secrets: [SECRET] });
    expect(result.verified).toBe(5);
    expect(kinds(result.problems)).toEqual([{ rowId: rows[2]!.id, kind: 'hmac_mismatch' }]);
    expect(result.problems[0]!.message).toMatch(new RegExp(`^hmac mismatch at row ${rows[2]!.id}: `));
  });

  it.skipIf(skip)('reports a deleted middle row as a chain break at the row after the gap', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    const rows = await appendRows(db, 5);
    await asAttacker(db, (trx) => trx.deleteFrom('audit_log').where('id', '=', rows[2]!.id).execute());
    const result = await verifyAuditChain(db, { secrets: [SECRET] });
    expect(result.verified).toBe(4);
    expect(kinds(result.problems)).toEqual([{ rowId: rows[3]!.id, kind: 'chain_break' }]);
    expect(result.problems[0]!.message).toMatch(/^chain break at row .*: its prev_row_hmac [0-9a-f]{12}… matches no row in the table/);
  });

  it.skipIf(skip)('refuses a fork with the unique index, and reports one that got past it', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    const rows = await appendRows(db, 5);
    const fork = legacyFields(formatAuditTimestamp(parseAuditTimestamp(rows[4]!.occurred_at) + 1n), rows[2]!.row_hmac);
    const refused = await insertSigned(db, fork).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(sqlStateOf(refused)).toBe('23505');
    // A database without the index (or an older schema) can hold a fork; verify must still see it.
    await sql`drop index audit_log_prev_row_hmac_key`.execute(db);
    await insertSigned(db, fork);
    const result = await verifyAuditChain(db, { secrets: [SECRET] });
    expect(kinds(result.problems)).toEqual([{ rowId: fork.id, kind: 'fork' }]);
    expect(result.problems[0]!.message).toBe(
      `chain fork at row ${fork.id}: it follows row ${rows[2]!.id}, which row ${rows[3]!.id} already follows: the chain forks`,
    );
    await resetAuditLog(db);
  });

  it.skipIf(skip)('reports a reordered chain: a writer whose clock stepped back, and swapped timestamps', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    // A writer without the strictly-increasing rule, whose clock stepped back between b and c: validly signed, but
    // (occurred_at, id) order no longer follows the prev pointers.
    const a = legacyFields('2026-01-01T12:00:10.000000+00:00', null);
    const b = legacyFields('2026-01-01T12:00:20.000000+00:00', await insertSigned(db, a));
    const c = legacyFields('2026-01-01T12:00:15.000000+00:00', await insertSigned(db, b));
    const d = legacyFields('2026-01-01T12:00:30.000000+00:00', await insertSigned(db, c));
    await insertSigned(db, d);
    const reordered = await verifyAuditChain(db, { secrets: [SECRET] });
    expect(kinds(reordered.problems)).toEqual([
      { rowId: c.id, kind: 'out_of_order' },
      { rowId: b.id, kind: 'out_of_order' },
    ]);
    expect(reordered.problems[0]!.message).toMatch(`it follows row ${b.id}, which comes after it in (occurred_at, id) order`);

    // Someone swaps two rows' timestamps to reorder history: the signed content changed, so both hmacs fail too.
    await resetAuditLog(db);
    const rows = await appendRows(db, 4);
    await asAttacker(db, (trx) =>
      trx
        .updateTable('audit_log')
        .set({
          occurred_at: sql`case id when ${rows[1]!.id}::uuid then ${rows[2]!.occurred_at}::timestamptz else ${rows[1]!.occurred_at}::timestamptz end`,
        })
        .where('id', 'in', [rows[1]!.id, rows[2]!.id])
        .execute(),
    );
    const swapped = await verifyAuditChain(db, { secrets: [SECRET] });
    expect(kinds(swapped.problems)).toEqual([
      { rowId: rows[2]!.id, kind: 'hmac_mismatch' },
      { rowId: rows[2]!.id, kind: 'out_of_order' },
      { rowId: rows[1]!.id, kind: 'hmac_mismatch' },
      { rowId: rows[1]!.id, kind: 'out_of_order' },
    ]);
  });

  it.skipIf(skip)('verifies rows signed with a previous secret only while that secret is listed', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    const before = await appendRows(db, 2, { secret: OLD_SECRET });
    const after = await appendRows(db, 2, { start: new Date(T0.getTime() + 60_000) });
    expect(after[0]!.prev_row_hmac).toBe(before[1]!.row_hmac);
    expect(await verifyAuditChain(db, { secrets: [SECRET, OLD_SECRET] })).toMatchObject({ verified: 4, problems: [] });
    const withoutOld = await verifyAuditChain(db, { secrets: [SECRET] });
    expect(kinds(withoutOld.problems)).toEqual(before.map((row) => ({ rowId: row.id, kind: 'hmac_mismatch' })));
    expect(kinds((await verifyAuditChain(db, { secrets: [OLD_SECRET] })).problems)).toEqual(
      after.map((row) => ({ rowId: row.id, kind: 'hmac_mismatch' })),
    );
  });

  it.skipIf(skip)('pages through the oldest rows up to the limit and says when more exist', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    // 1 500 rows (more than one page) signed in memory and inserted in bulk.
    const values = [];
    let prev: string | null = null;
    const start = parseAuditTimestamp('2026-01-01T00:00:00.000000+00:00');
    for (let i = 0; i < 1500; i += 1) {
      const fields = legacyFields(formatAuditTimestamp(start + BigInt(i)), prev);
      prev = computeRowHmac(SECRET, fields);
      const { version: _version, metadata: _metadata, ...columns } = fields;
      values.push({ ...columns, row_hmac: prev });
    }
    await db.insertInto('audit_log').values(values).execute();
    expect(await verifyAuditChain(db, { secrets: [SECRET] })).toEqual({ verified: 1500, problems: [], reachedLimit: false });
    expect(await verifyAuditChain(db, { secrets: [SECRET], limit: 1200 })).toEqual({ verified: 1200, problems: [], reachedLimit: true });
    expect(await verifyAuditChain(db, { secrets: [SECRET], limit: 1000 })).toEqual({ verified: 1000, problems: [], reachedLimit: true });
    await expect(verifyAuditChain(db, { secrets: [SECRET], limit: 5001 })).rejects.toThrow(/limit must be an integer from 1 to 5000/);
    await expect(verifyAuditChain(db, { secrets: [] })).rejects.toThrow(/at least one secret/);
  });

  it.skipIf(skip || kind !== 'postgres')('concurrent appends on the pool form one unbroken chain', async () => {
    const db = test().database.db;
    await resetAuditLog(db);
    // All at the same instant: only the chain lock and the strictly-increasing rule keep them apart.
    const rows = await Promise.all(
      Array.from({ length: 20 }, (_, i) => appendAuditRow(db, { ...ENTRY, metadata: { i } }, { secret: SECRET, now: T0 })),
    );
    expect(new Set(rows.map((row) => row.prev_row_hmac)).size).toBe(20);
    expect(rows.filter((row) => row.prev_row_hmac === null)).toHaveLength(1);
    expect(new Set(rows.map((row) => row.occurred_at)).size).toBe(20);
    expect(await verifyAuditChain(db, { secrets: [SECRET] })).toEqual({ verified: 20, problems: [], reachedLimit: false });
  });
});
