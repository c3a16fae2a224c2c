import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { createMigrator, loadMigrations, openBrainDatabase, type BrainDatabase, type Migration } from '@z4j/db';

/**
 * Real-Postgres test databases. Each test file gets its own database cloned
 * from a template that was migrated once (per set of migrations), so files
 * run in parallel without seeing each other's rows and without paying for
 * the migrations every time.
 */

/** Admin connection: `Z4J_TEST_DATABASE_URL`, default the local server. */
export const TEST_DATABASE_URL = process.env.Z4J_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Serialises template creation and cloning across test processes. */
const TEMPLATE_LOCK_KEY = 0x7a34_7e57;

export interface PostgresProbe {
  readonly available: boolean;
  readonly reason?: string;
}

/**
 * Whether the test Postgres answers. Under `CI=true` a missing server is a
 * failure, never a skip: CI must not go green by testing nothing.
 */
export async function probePostgres(url: string = TEST_DATABASE_URL): Promise<PostgresProbe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return { available: true };
  } catch (error) {
    const reason = `Postgres at ${redact(url)} is not reachable: ${error instanceof Error ? error.message : String(error)}`;
    if (process.env.CI === 'true')
      throw new Error(`${reason} (CI=true: a missing Postgres fails the run; set Z4J_TEST_DATABASE_URL)`, { cause: error });
    return { available: false, reason };
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<test database url>';
  }
}

function databaseUrl(base: string, name: string): string {
  const parsed = new URL(base);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * Keyed by the migrations and the UTC day: the migrations create the events
 * partitions for "today onwards", so a template from yesterday is stale.
 */
function templateName(migrations: readonly Migration[]): string {
  const digest = createHash('sha256');
  for (const migration of migrations) digest.update(migration.checksum);
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return `z4j_tpl_${digest.digest('hex').slice(0, 12)}_${day}`;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    return await work(client);
  } finally {
    await client.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const result = await client.query('select 1 from pg_database where datname = $1', [name]);
  return (result.rowCount ?? 0) > 0;
}

/** Creates an empty database (no migrations) and returns its URL; `drop()` removes it. */
export async function createEmptyTestDatabase(prefix = 'z4j_t'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`create database ${name}`));
  return { url: databaseUrl(TEST_DATABASE_URL, name), name, drop: () => dropDatabase(name) };
}

async function dropDatabase(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}

/** A migrated database of its own, cloned from the per-migration-set template. */
export async function createMigratedTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const migrations = await loadMigrations();
  const template = templateName(migrations);
  const name = `z4j_t_${randomBytes(6).toString('hex')}`;
  await withAdmin(async (client) => {
    if (!(await databaseExists(client, template))) {
      await client.query(`create database ${template}_building`);
      const building = await openBrainDatabase(testPostgresOptions(databaseUrl(TEST_DATABASE_URL, `${template}_building`)));
      try {
        await createMigrator({ db: building.db, migrations }).up();
      } finally {
        await building.close();
      }
      // Renamed only once complete, so a crashed build never leaves a half-migrated template behind.
      await client.query(`drop database if exists ${template} with (force)`);
      await client.query(`alter database ${template}_building rename to ${template}`);
      // Templates of other days or migration sets are stale; keep the server tidy.
      const stale = await client.query<{ datname: string }>(
        "select datname from pg_database where datname like 'z4j\\_tpl\\_%' and datname <> $1 and datname not like '%\\_building'",
        [template],
      );
      for (const row of stale.rows) await client.query(`drop database if exists ${row.datname} with (force)`);
    }
    await client.query(`create database ${name} template ${template}`);
  });
  return { url: databaseUrl(TEST_DATABASE_URL, name), name, drop: () => dropDatabase(name) };
}

export function testPostgresOptions(url: string) {
  return {
    kind: 'postgres' as const,
    url,
    requireSsl: false,
    poolSize: 5,
    statementTimeoutMs: 30_000,
    lockTimeoutMs: 10_000,
    idleInTransactionTimeoutMs: 30_000,
    connectTimeoutMs: 5_000,
    closeTimeoutMs: 5_000,
    idleConnectionLifetimeMs: 10_000,
    applicationName: 'z4j-test',
  };
}

export type TestDatabaseKind = 'postgres' | 'embedded';

export interface TestDatabase {
  readonly kind: TestDatabaseKind;
  readonly database: BrainDatabase;
  /** Postgres only: the URL of this test's own database. */
  readonly url: string | undefined;
  dispose(): Promise<void>;
}

/** A migrated database of the given kind, private to the caller. PGlite runs in memory. */
export async function openTestDatabase(kind: TestDatabaseKind): Promise<TestDatabase> {
  if (kind === 'embedded') {
    const database = await openBrainDatabase({ kind: 'embedded', dataDir: undefined });
    await createMigrator({ db: database.db, migrations: await loadMigrations() }).up();
    return { kind, database, url: undefined, dispose: () => database.close() };
  }
  const created = await createMigratedTestDatabase();
  const database = await openBrainDatabase(testPostgresOptions(created.url));
  return {
    kind,
    database,
    url: created.url,
    dispose: async () => {
      await database.close();
      await created.drop();
    },
  };
}
