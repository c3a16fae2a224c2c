import { sql, type Kysely } from 'kysely';
import { AppError } from '@z4j/errors';
import type { Migration } from './migration-files.js';

/**
 * Applies `sql/migrations` forward-only.
 *
 * Invariants:
 * - One migrator at a time per database: a session-level advisory lock is held
 *   on one pinned connection for the whole run, so replicas booting together
 *   queue up instead of racing (the loser then finds nothing left to do).
 * - Each migration runs in its own transaction together with its ledger row,
 *   so a failure leaves the schema at the previous version, never half-way.
 * - The ledger is the truth. A version the code does not know means the
 *   database was migrated by a newer z4j: refuse, rather than run old code on
 *   a schema it does not understand. An applied migration whose file changed
 *   is refused too (forward-only means never edit a shipped migration).
 */

/** Arbitrary constant: "z4jM" in ASCII. */
export const MIGRATION_LOCK_KEY = 0x7a346a4d;

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly appliedAt: Date;
}

export interface MigrationStatus {
  readonly applied: AppliedMigration[];
  readonly pending: Migration[];
  /** Highest version the code knows. */
  readonly codeVersion: number;
  /** Highest version recorded in the database (0 when empty). */
  readonly databaseVersion: number;
}

export interface MigratorOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the ledger lives outside the typed schema
  readonly db: Kysely<any>;
  readonly migrations: readonly Migration[];
  /** How long to wait for another instance's migration run before giving up. */
  readonly lockWaitMs?: number;
  readonly onEvent?: (event: MigratorEvent) => void;
}

export type MigratorEvent =
  | { readonly type: 'waiting_for_lock' }
  | { readonly type: 'applied'; readonly version: number; readonly name: string; readonly durationMs: number };

export interface Migrator {
  status(): Promise<MigrationStatus>;
  /** Applies every pending migration; returns the ones applied by this call. */
  up(): Promise<Migration[]>;
  /** Throws `SCHEMA_TOO_NEW` / `MIGRATION_MODIFIED` / `MIGRATIONS_PENDING` unless the schema is exactly current. */
  assertCurrent(): Promise<void>;
}

const LEDGER_DDL = sql`
  create table if not exists z4j_schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now(),
    duration_ms integer not null default 0
  )`;

export function createMigrator(options: MigratorOptions): Migrator {
  const { db, migrations } = options;
  const codeVersion = migrations.at(-1)?.version ?? 0;
  const lockWaitMs = options.lockWaitMs ?? 300_000;

  async function readLedger(conn: Kysely<unknown>): Promise<AppliedMigration[]> {
    const exists = await sql<{ present: boolean }>`select to_regclass('z4j_schema_migrations') is not null as present`.execute(conn);
    if (!exists.rows[0]?.present) return [];
    const rows = await sql<{ version: number; name: string; checksum: string; applied_at: Date }>`
      select version, name, checksum, applied_at from z4j_schema_migrations order by version`.execute(conn);
    return rows.rows.map((row) => ({ version: row.version, name: row.name, checksum: row.checksum, appliedAt: row.applied_at }));
  }

  function compare(applied: readonly AppliedMigration[]): MigrationStatus {
    const databaseVersion = applied.at(-1)?.version ?? 0;
    const newer = applied.filter((row) => row.version > codeVersion);
    if (newer.length > 0) {
      throw new AppError(
        'SCHEMA_TOO_NEW',
        `database schema is at version ${databaseVersion} (${newer.at(-1)?.name ?? '?'}), newer than this z4j build knows (${codeVersion}); upgrade z4j before starting it against this database`,
      );
    }
    const byVersion = new Map(migrations.map((migration) => [migration.version, migration]));
    for (const row of applied) {
      const migration = byVersion.get(row.version);
      if (migration && migration.checksum !== row.checksum) {
        throw new AppError(
          'MIGRATION_MODIFIED',
          `migration ${String(row.version).padStart(4, '0')}_${row.name} was changed after it was applied; migrations are forward-only, add a new one instead`,
        );
      }
    }
    const appliedVersions = new Set(applied.map((row) => row.version));
    return {
      applied: [...applied],
      pending: migrations.filter((migration) => !appliedVersions.has(migration.version)),
      codeVersion,
      databaseVersion,
    };
  }

  async function acquireLock(conn: Kysely<unknown>): Promise<void> {
    const deadline = Date.now() + lockWaitMs;
    let announced = false;
    for (;;) {
      const result = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${MIGRATION_LOCK_KEY}) as locked`.execute(conn);
      if (result.rows[0]?.locked) return;
      if (!announced) {
        options.onEvent?.({ type: 'waiting_for_lock' });
        announced = true;
      }
      if (Date.now() > deadline) {
        throw new AppError('MIGRATION_LOCK_TIMEOUT', `another z4j instance held the migration lock for more than ${lockWaitMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function applyOne(conn: Kysely<unknown>, migration: Migration): Promise<void> {
    const started = performance.now();
    await sql`begin`.execute(conn);
    try {
      // Migrations may legitimately run longer than the request-sized default timeouts.
      await sql`set local statement_timeout = 0`.execute(conn);
      await sql`set local lock_timeout = 0`.execute(conn);
      await sql.raw(migration.sql).execute(conn);
      const durationMs = Math.round(performance.now() - started);
      await sql`insert into z4j_schema_migrations (version, name, checksum, duration_ms)
                values (${migration.version}, ${migration.name}, ${migration.checksum}, ${durationMs})`.execute(conn);
      await sql`insert into z4j_meta (key, value, updated_at) values ('schema_version', ${String(migration.version)}, now())
                on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at`.execute(conn);
      await sql`commit`.execute(conn);
      options.onEvent?.({ type: 'applied', version: migration.version, name: migration.name, durationMs });
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw new AppError(
        'MIGRATION_FAILED',
        `migration ${String(migration.version).padStart(4, '0')}_${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  return {
    status: () => db.connection().execute(async (conn) => compare(await readLedger(conn))),

    up: () =>
      db.connection().execute(async (conn) => {
        await acquireLock(conn);
        try {
          await LEDGER_DDL.execute(conn);
          const { pending } = compare(await readLedger(conn));
          for (const migration of pending) await applyOne(conn, migration);
          return pending;
        } finally {
          await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn).catch(() => undefined);
        }
      }),

    assertCurrent: async () => {
      const status = await db.connection().execute(async (conn) => compare(await readLedger(conn)));
      if (status.pending.length > 0) {
        throw new AppError(
          'MIGRATIONS_PENDING',
          `database schema is at version ${status.databaseVersion}, this z4j build needs ${status.codeVersion}; run "z4j migrate up" or set Z4J_AUTO_MIGRATE=true`,
        );
      }
    },
  };
}
