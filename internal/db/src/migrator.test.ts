import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyTestDatabase, probePostgres, testPostgresOptions } from '@z4j/testing';
import { openBrainDatabase, type BrainDatabase } from './brain-database.js';
import { loadMigrations } from './migration-files.js';
import { createMigrator } from './migrator.js';

const postgres = await probePostgres();

/** Writes a throwaway migrations folder so these tests do not depend on the real schema. */
function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'z4j-migrations-'));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

const BASE = {
  '0001_create_meta.sql':
    'create table z4j_meta (key text primary key, value text not null, updated_at timestamptz not null default now());',
  '0002_create_widgets.sql': 'create table widgets (id int primary key, name text not null);',
};

describe.each(['embedded', 'postgres'] as const)('migrator on %s', (kind) => {
  const skip = kind === 'postgres' && !postgres.available;
  let database: BrainDatabase;
  let dropDatabase: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    if (skip) return;
    if (kind === 'embedded') {
      database = await openBrainDatabase({ kind: 'embedded', dataDir: undefined });
    } else {
      const created = await createEmptyTestDatabase();
      dropDatabase = created.drop;
      database = await openBrainDatabase(testPostgresOptions(created.url));
    }
  });
  afterAll(async () => {
    if (skip) return;
    await database.close();
    await dropDatabase?.();
  });

  it.skipIf(skip)('applies pending migrations in order, records them, and is a no-op the second time', async () => {
    const migrations = await loadMigrations(migrationsDir(BASE));
    const migrator = createMigrator({ db: database.db, migrations });
    expect((await migrator.status()).pending.map((m) => m.version)).toEqual([1, 2]);
    await expect(migrator.assertCurrent()).rejects.toMatchObject({ code: 'MIGRATIONS_PENDING' });

    const applied = await migrator.up();
    expect(applied.map((m) => m.name)).toEqual(['create_meta', 'create_widgets']);
    expect(await migrator.up()).toEqual([]);
    await migrator.assertCurrent();

    const status = await migrator.status();
    expect(status).toMatchObject({ databaseVersion: 2, codeVersion: 2, pending: [] });
    const meta = await sql<{ value: string }>`select value from z4j_meta where key = 'schema_version'`.execute(database.db);
    expect(meta.rows[0]?.value).toBe('2');
  });

  it.skipIf(skip)('rolls a failing migration back whole and leaves the previous version in place', async () => {
    const migrations = await loadMigrations(
      migrationsDir({ ...BASE, '0003_add_broken.sql': 'create table gadgets (id int); select * from no_such_table;' }),
    );
    const migrator = createMigrator({ db: database.db, migrations });
    await expect(migrator.up()).rejects.toMatchObject({ code: 'MIGRATION_FAILED' });
    const gadgets = await sql<{ present: boolean }>`select to_regclass('gadgets') is not null as present`.execute(database.db);
    expect(gadgets.rows[0]?.present).toBe(false);
    expect((await migrator.status()).databaseVersion).toBe(2);
  });

  it.skipIf(skip)('refuses a database migrated by a newer build', async () => {
    const newer = await loadMigrations(migrationsDir({ ...BASE, '0003_create_gizmos.sql': 'create table gizmos (id int);' }));
    await createMigrator({ db: database.db, migrations: newer }).up();
    const older = createMigrator({ db: database.db, migrations: await loadMigrations(migrationsDir(BASE)) });
    await expect(older.status()).rejects.toMatchObject({ code: 'SCHEMA_TOO_NEW' });
    await expect(older.up()).rejects.toMatchObject({ code: 'SCHEMA_TOO_NEW' });
    await expect(older.assertCurrent()).rejects.toThrow(/newer than this z4j build knows/);
  });

  it.skipIf(skip)('refuses an applied migration whose file was edited', async () => {
    const edited = await loadMigrations(
      migrationsDir({
        ...BASE,
        '0002_create_widgets.sql': 'create table widgets (id int primary key, name text);',
        '0003_create_gizmos.sql': 'create table gizmos (id int);',
      }),
    );
    await expect(createMigrator({ db: database.db, migrations: edited }).up()).rejects.toMatchObject({ code: 'MIGRATION_MODIFIED' });
  });
});

describe('loadMigrations', () => {
  it('rejects badly named files and gaps in the numbering', async () => {
    await expect(loadMigrations(migrationsDir({ 'create_widgets.sql': 'select 1' }))).rejects.toThrow(/NNNN_verb_object/);
    await expect(loadMigrations(migrationsDir({ '0001_a.sql': 'select 1', '0003_c.sql': 'select 1' }))).rejects.toThrow(/without gaps/);
  });
});

describe.skipIf(!postgres.available)('migrator with concurrent instances (real Postgres)', () => {
  it('lets two instances migrate the same empty database at the same time without breaking', async () => {
    const created = await createEmptyTestDatabase();
    const a = await openBrainDatabase(testPostgresOptions(created.url));
    const b = await openBrainDatabase(testPostgresOptions(created.url));
    try {
      const files = {
        ...BASE,
        // Slow enough that the two runs overlap: the second must wait on the advisory lock.
        '0003_slow.sql': 'select pg_sleep(0.5); create table slow_done (id int);',
      };
      const migrations = await loadMigrations(migrationsDir(files));
      const events: string[] = [];
      const results = await Promise.all([
        createMigrator({ db: a.db, migrations }).up(),
        createMigrator({ db: b.db, migrations, onEvent: (e) => events.push(e.type) }).up(),
      ]);
      // Exactly one instance applied each migration; together they applied all three once.
      expect(
        results
          .flat()
          .map((m) => m.version)
          .sort(),
      ).toEqual([1, 2, 3]);
      const ledger = await sql<{ n: string }>`select count(*)::text as n from z4j_schema_migrations`.execute(a.db);
      expect(ledger.rows[0]?.n).toBe('3');
    } finally {
      await a.close();
      await b.close();
      await created.drop();
    }
  });
});
