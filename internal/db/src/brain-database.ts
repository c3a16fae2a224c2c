import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { DB as Database } from './database.js';
import { assertDatabaseUrlAllowed } from './database-url.js';
import { openEmbeddedPostgres, PGliteDialect, type EmbeddedPostgres } from './embedded/index.js';

export type { Database };

/** Connection settings for a real Postgres server (`Z4J_DATABASE_URL` set). */
export interface PostgresDatabaseOptions {
  readonly kind: 'postgres';
  readonly url: string;
  readonly requireSsl: boolean;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly lockTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  /** Idle connections are closed after this long and reopened on demand. */
  readonly idleConnectionLifetimeMs: number;
  readonly applicationName: string;
  /** Called for errors on idle pooled connections, which would otherwise crash the process. */
  readonly onPoolError?: (error: Error) => void;
}

/** The embedded database (PGlite in a worker thread); `dataDir` undefined = in memory. */
export interface EmbeddedDatabaseOptions {
  readonly kind: 'embedded';
  readonly dataDir: string | undefined;
}

export type BrainDatabaseOptions = PostgresDatabaseOptions | EmbeddedDatabaseOptions;

/**
 * The brain's handle on its one stateful dependency. `db` is the query builder
 * every module uses; `pool` is there for the few jobs the query builder cannot
 * do (LISTEN on a dedicated connection, COPY) and exists only on Postgres.
 */
export interface BrainDatabase {
  readonly kind: 'postgres' | 'embedded';
  readonly db: Kysely<Database>;
  readonly pool: pg.Pool | undefined;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function openBrainDatabase(options: BrainDatabaseOptions): Promise<BrainDatabase> {
  return options.kind === 'postgres' ? openPostgres(options) : openEmbedded(options);
}

function openPostgres(options: PostgresDatabaseOptions): BrainDatabase {
  assertDatabaseUrlAllowed(options.url, options.requireSsl);
  const pool = new pg.Pool({
    connectionString: normalisePostgresUrl(options.url),
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: options.idleConnectionLifetimeMs,
    application_name: options.applicationName,
    // Sent in the startup packet, so every connection carries them without an extra round-trip.
    statement_timeout: options.statementTimeoutMs,
    lock_timeout: options.lockTimeoutMs,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
  });
  pool.on('error', (error) => options.onPoolError?.(error));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed: Promise<void> | undefined;
  return {
    kind: 'postgres',
    db,
    pool,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => {
      closed ??= withTimeout(db.destroy(), options.closeTimeoutMs);
      return closed;
    },
  };
}

async function openEmbedded(options: EmbeddedDatabaseOptions): Promise<BrainDatabase> {
  const embedded: EmbeddedPostgres = await openEmbeddedPostgres({ dataDir: options.dataDir });
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ embedded, ownsEmbedded: true }) });
  let closed: Promise<void> | undefined;
  return {
    kind: 'embedded',
    db,
    pool: undefined,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => {
      closed ??= db.destroy();
      return closed;
    },
  };
}

/** Accepts the original's `postgresql+asyncpg://` spelling. */
export function normalisePostgresUrl(url: string): string {
  return url.replace(/^postgresql\+asyncpg:\/\//, 'postgresql://');
}

/** Resolves when `work` settles or after `ms`, whichever is first: a hung close must not hang shutdown. */
async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
