import { sql, type Kysely } from 'kysely';

/**
 * Thin typed wrappers over the partition-maintenance SQL functions created by
 * the migrations. The DDL lives in SQL (one place, runs on Postgres and
 * PGlite alike); callers pass the day explicitly so tests control the clock.
 */

/** `YYYY-MM-DD` of a Date in UTC: partitions are cut at UTC midnight. */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Creates `events_YYYY_MM_DD` for `days` days from `from`; returns the names it created. */
export async function ensureEventPartitions<DB>(db: Kysely<DB>, from: Date, days: number): Promise<string[]> {
  const result = await sql<{
    name: string;
  }>`select name from z4j_events_ensure_partitions(${utcDay(from)}::date, ${days}::int) as name`.execute(db);
  return result.rows.map((row) => row.name);
}

/** Drops daily partitions older than the retention window whose rows are all past the cutoff. */
export async function dropExpiredEventPartitions<DB>(db: Kysely<DB>, today: Date, retentionDays: number): Promise<string[]> {
  const result = await sql<{
    name: string;
  }>`select name from z4j_events_drop_expired(${utcDay(today)}::date, ${retentionDays}::int) as name`.execute(db);
  return result.rows.map((row) => row.name);
}

/** Rows that fell into `events_default` (no daily partition existed for their day). */
export async function countDefaultPartitionRows<DB>(db: Kysely<DB>): Promise<number> {
  const result = await sql<{ count: string }>`select z4j_events_default_rows()::text as count`.execute(db);
  return Number(result.rows[0]?.count ?? 0);
}
