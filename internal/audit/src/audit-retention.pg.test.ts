import { sql, type Kysely } from 'kysely';
import { expect, it } from 'vitest';
import { sqlStateOf, type Database } from '@z4j/db';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { AUDIT_SWEEP_LOCK_NAME, sweepAuditRetention } from './audit-retention.js';
import { verifyAuditChain } from './audit-verifier.js';
import { appendAuditRow, type AuditRow } from './audit-writer.js';

const postgres = await probePostgres();
const SECRET = 'test-master-secret-0123456789-abcdefghijklmnop';
const NOW = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

async function clear(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`set local z4j.audit_sweep = 'on'`.execute(trx);
    await trx.deleteFrom('audit_log').execute();
  });
}

/** `old` rows 100 days back, then `recent` rows 10 days back (the writer needs them in time order). */
async function seed(db: Kysely<Database>, old: number, recent: number): Promise<{ old: AuditRow[]; recent: AuditRow[] }> {
  const append = (daysAgo: number) =>
    appendAuditRow(
      db,
      { action: 'user.login', target_type: 'user', result: 'success' },
      { secret: SECRET, now: new Date(NOW.getTime() - daysAgo * DAY) },
    );
  const rows = { old: [] as AuditRow[], recent: [] as AuditRow[] };
  for (let i = 0; i < old; i += 1) rows.old.push(await append(100));
  for (let i = 0; i < recent; i += 1) rows.recent.push(await append(10));
  return rows;
}

async function remainingIds(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('audit_log').select('id').orderBy('occurred_at').orderBy('id').execute();
  return rows.map((row) => row.id);
}

describeEachDatabase('audit retention', postgres, ({ kind, skip, test }) => {
  it.skipIf(skip)('deletes only rows past retention, oldest first, in batches, and leaves the rest a verifiable tail', async () => {
    const db = test().database.db;
    await clear(db);
    const rows = await seed(db, 7, 3);
    expect(await sweepAuditRetention(db, { retentionDays: 90, now: NOW, batchSize: 2 })).toBe(7);
    expect(await remainingIds(db)).toEqual(rows.recent.map((row) => row.id));
    expect(await sweepAuditRetention(db, { retentionDays: 90, now: NOW })).toBe(0);
    // What remains is intact; only its start is reported, because the rows before it are gone.
    const result = await verifyAuditChain(db, { secrets: [SECRET] });
    expect(result.verified).toBe(3);
    expect(result.problems.map(({ rowId, kind }) => ({ rowId, kind }))).toEqual([{ rowId: rows.recent[0]!.id, kind: 'chain_truncation' }]);
    // The bypass was SET LOCAL: it ended with each batch's transaction.
    const refused = await db
      .deleteFrom('audit_log')
      .execute()
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(sqlStateOf(refused)).toBe('42501');
  });

  it.skipIf(skip)('stops after maxPerPass and leaves the rest for the next pass', async () => {
    const db = test().database.db;
    await clear(db);
    const rows = await seed(db, 5, 1);
    expect(await sweepAuditRetention(db, { retentionDays: 90, now: NOW, batchSize: 2, maxPerPass: 3 })).toBe(3);
    expect(await remainingIds(db)).toEqual([...rows.old.slice(3), ...rows.recent].map((row) => row.id));
    expect(await sweepAuditRetention(db, { retentionDays: 90, now: NOW, batchSize: 2, maxPerPass: 3 })).toBe(2);
    expect(await remainingIds(db)).toEqual(rows.recent.map((row) => row.id));
    await expect(sweepAuditRetention(db, { retentionDays: 0, now: NOW })).rejects.toThrow(/retentionDays must be a positive integer/);
  });

  it.skipIf(skip || kind !== 'postgres')('skips the pass while another session holds the sweep lock', async () => {
    const database = test().database;
    await clear(database.db);
    await seed(database.db, 2, 0);
    const other = await database.pool!.connect();
    try {
      await other.query('select pg_advisory_lock(hashtext($1))', [AUDIT_SWEEP_LOCK_NAME]);
      expect(await sweepAuditRetention(database.db, { retentionDays: 90, now: NOW })).toBe(0);
      expect(await remainingIds(database.db)).toHaveLength(2);
      await other.query('select pg_advisory_unlock(hashtext($1))', [AUDIT_SWEEP_LOCK_NAME]);
      expect(await sweepAuditRetention(database.db, { retentionDays: 90, now: NOW })).toBe(2);
    } finally {
      other.release();
    }
  });
});
