import { sql, type Kysely } from 'kysely';
import type { Database } from '@z4j/db';

/**
 * Time-based audit retention (reference §6.2, §9): deletes rows older than
 * `retentionDays`, oldest first, so what remains is always an unbroken tail of
 * the chain (its oldest row then reports a "chain truncation" in
 * `audit verify`, as in the original).
 *
 * audit_log refuses DELETE unless the transaction opted in with
 * `SET LOCAL z4j.audit_sweep = 'on'`; each batch is its own short
 * transaction that does, so the bypass never outlives a batch and a long
 * sweep never holds row locks or the WAL for the whole pass.
 */

/** The session advisory lock that keeps two replicas from sweeping at once: `hashtext('z4j.audit_sweep')`. */
export const AUDIT_SWEEP_LOCK_NAME = 'z4j.audit_sweep';

export interface SweepAuditRetentionOptions {
  /** Z4J_AUDIT_RETENTION_DAYS (90): rows with `occurred_at` before `now - retentionDays` go. */
  readonly retentionDays: number;
  /** The injected clock. */
  readonly now: Date;
  /** Z4J_AUDIT_RETENTION_SWEEP_BATCH_SIZE: rows per DELETE (and per transaction). Default 5000. */
  readonly batchSize?: number;
  /** Z4J_AUDIT_RETENTION_SWEEP_MAX_PER_PASS: the pass stops after this many; the rest wait for the next. Default 200 000. */
  readonly maxPerPass?: number;
}

/**
 * One retention pass; returns how many rows it deleted (0 when another
 * replica holds the sweep lock: that replica is doing the work).
 *
 * Takes the root handle, not a transaction: the lock is session-scoped and
 * held on one pinned connection for the whole pass, while each batch
 * commits on its own.
 *
 * @example
 * const deleted = await sweepAuditRetention(database.db, { retentionDays: settings.auditRetentionDays, now: clock() });
 */
export async function sweepAuditRetention(db: Kysely<Database>, options: SweepAuditRetentionOptions): Promise<number> {
  const batchSize = options.batchSize ?? 5000;
  const maxPerPass = options.maxPerPass ?? 200_000;
  for (const [name, value] of [
    ['retentionDays', options.retentionDays],
    ['batchSize', batchSize],
    ['maxPerPass', maxPerPass],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  const cutoff = new Date(options.now.getTime() - options.retentionDays * 86_400_000);

  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{ acquired: boolean }>`
      select pg_try_advisory_lock(hashtext(${AUDIT_SWEEP_LOCK_NAME})) as acquired`.execute(connection);
    if (rows[0]?.acquired !== true) return 0;
    try {
      let deleted = 0;
      while (deleted < maxPerPass) {
        const limit = Math.min(batchSize, maxPerPass - deleted);
        const batch = await connection.transaction().execute(async (trx) => {
          await sql`set local z4j.audit_sweep = 'on'`.execute(trx);
          const result = await trx
            .deleteFrom('audit_log')
            .where('id', 'in', (eb) =>
              eb.selectFrom('audit_log').select('id').where('occurred_at', '<', cutoff).orderBy('occurred_at').orderBy('id').limit(limit),
            )
            .executeTakeFirst();
          return Number(result.numDeletedRows);
        });
        deleted += batch;
        if (batch < limit) break;
      }
      return deleted;
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${AUDIT_SWEEP_LOCK_NAME}))`.execute(connection);
    }
  });
}
