import {
  CompiledQuery,
  createQueryId,
  IdentifierNode,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  RawNode,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type { EmbeddedPostgres } from './embedded-postgres.js';
import { FifoMutex } from './fifo-mutex.js';

export interface PGliteDialectOptions {
  readonly embedded: EmbeddedPostgres;
  /** When true, `Kysely#destroy()` closes `embedded`. Default false. */
  readonly ownsEmbedded?: boolean;
}

/**
 * Kysely over the embedded database: Postgres SQL, adapter and introspector,
 * and a driver with one connection (PGlite has one session).
 *
 * Kysely acquires a connection per query, or once for a whole transaction or
 * `db.connection()` block. The single connection sits behind a FIFO mutex held
 * from acquire to release, so a query from outside an open transaction waits
 * for it to end instead of running inside it. The flip side: code that holds a
 * transaction and then queries through the root `db` deadlocks here, where a
 * pg pool would have quietly used a second connection.
 */
export class PGliteDialect implements Dialect {
  readonly #options: PGliteDialectOptions;

  constructor(options: PGliteDialectOptions) {
    this.#options = options;
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    return new PGliteDriver(this.#options);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}

/** One mutex per database, shared by every dialect over it: they all share its one session. */
const sessionLocks = new WeakMap<EmbeddedPostgres, FifoMutex>();

class PGliteDriver implements Driver {
  readonly #embedded: EmbeddedPostgres;
  readonly #ownsEmbedded: boolean;
  readonly #mutex: FifoMutex;
  readonly #connection: PGliteConnection;
  #destroyed = false;

  constructor(options: PGliteDialectOptions) {
    this.#embedded = options.embedded;
    this.#ownsEmbedded = options.ownsEmbedded ?? false;
    let mutex = sessionLocks.get(options.embedded);
    if (!mutex) sessionLocks.set(options.embedded, (mutex = new FifoMutex()));
    this.#mutex = mutex;
    this.#connection = new PGliteConnection(options.embedded);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    if (this.#destroyed) {
      this.#mutex.unlock();
      throw new Error('the Kysely instance over the embedded database has been destroyed');
    }
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let statement = 'begin';
    if (settings.isolationLevel) statement += ` isolation level ${settings.isolationLevel}`;
    if (settings.accessMode) statement += ` ${settings.accessMode}`;
    await connection.executeQuery(CompiledQuery.raw(statement));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand('savepoint', name), createQueryId()));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand('rollback to savepoint', name), createQueryId()));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand('release savepoint', name), createQueryId()));
  }

  /** Waits for the connection (like pg's `pool.end()` waits for checked-out clients), then refuses new work. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    await this.#mutex.lock();
    this.#destroyed = true;
    this.#mutex.unlock();
    if (this.#ownsEmbedded) await this.#embedded.close();
  }
}

/** The savepoint name goes through the compiler as an identifier, so it is quoted, never spliced. */
function savepointCommand(command: string, name: string): RawNode {
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)]);
}

const AFFECTING_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

class PGliteConnection implements DatabaseConnection {
  readonly #embedded: EmbeddedPostgres;

  constructor(embedded: EmbeddedPostgres) {
    this.#embedded = embedded;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.#embedded.query<R>(compiledQuery.sql, compiledQuery.parameters);
    // Same rule as Kysely's PostgresDriver: a count only for the commands that change rows.
    const counts = result.command !== undefined && AFFECTING_COMMANDS.has(result.command);
    return { rows: result.rows, numAffectedRows: counts ? BigInt(result.affectedRows) : undefined };
  }

  // eslint-disable-next-line require-yield -- refusing is the whole implementation
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error(
      'streaming queries (Kysely .stream()) are not supported on the embedded database; page with limit/offset or keyset instead',
    );
  }
}
