import type { Worker } from 'node:worker_threads';
import { EmbeddedPostgresError } from './embedded-postgres-error.js';
import { parseRows, prepareParams } from './pg-values.js';
import { spawnPGliteWorker } from './spawn-pglite-worker.js';
import type { WireQueryResult, WorkerEvent, WorkerReply, WorkerRequest } from './worker-protocol.js';

export interface EmbeddedPostgresOptions {
  /** Where PGlite keeps its files; undefined = in memory, gone on close. */
  readonly dataDir?: string | undefined;
}

export interface EmbeddedQueryResult<R> {
  readonly rows: R[];
  /** Rows changed by INSERT/UPDATE/DELETE/MERGE/COPY; 0 for other commands. */
  readonly affectedRows: number;
  /** The command tag's verb (SELECT, INSERT, ...); for a multi-statement string, the last one's. */
  readonly command: string | undefined;
}

/**
 * Postgres (PGlite) running in a worker thread, so a long query never blocks
 * the event loop. One session: statements run in the order they are sent, and
 * a `begin` applies to everything sent after it until `commit`, whoever sends
 * it. Callers that interleave work (Kysely) must serialise access themselves;
 * `PGliteDialect` does.
 */
export interface EmbeddedPostgres {
  /** Values in and out match node-postgres (see pg-values.ts). Without params, `sql` may hold several statements. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<EmbeddedQueryResult<R>>;
  /** Runs a multi-statement script (migrations) and discards its results. */
  exec(sql: string): Promise<void>;
  /** Waits for in-flight requests, shuts Postgres down cleanly, ends the worker. Idempotent. */
  close(): Promise<void>;
}

/** Test hook: the worker behind a handle, to simulate a crash. Not exported from the package. */
export const workerOf = (embedded: EmbeddedPostgres): Worker | undefined =>
  embedded instanceof WorkerClient ? embedded.worker : undefined;

export async function openEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const worker = spawnPGliteWorker({ dataDir: options.dataDir });
  try {
    await waitUntilReady(worker, options.dataDir ?? 'memory');
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  return new WorkerClient(worker);
}

function waitUntilReady(worker: Worker, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let crash: Error | undefined;
    const onMessage = (event: WorkerEvent): void => {
      cleanup();
      if (event.op === 'ready') resolve();
      else reject(new EmbeddedPostgresError(`could not open the embedded database (${where}): ${event.error.message}`, event.error));
    };
    const onError = (error: Error): void => {
      crash = error;
    };
    const onExit = (code: number): void => {
      cleanup();
      const reason = crash ? `: ${crash.message}` : '';
      reject(
        new EmbeddedPostgresError(`the embedded database worker exited during startup (exit code ${code})${reason}`, {}, { cause: crash }),
      );
    };
    const cleanup = (): void => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

/**
 * States: open → closing → closed, or open → failed when the worker dies.
 * - open: requests are posted; the worker is ref'd only while one is in flight,
 *   so an idle database never keeps the process alive.
 * - closing: new requests are refused; in-flight ones finish, then the worker
 *   closes PGlite (clean shutdown) and is terminated.
 * - closed / failed: `#failure` is set; pending and later requests reject with it.
 */
class WorkerClient implements EmbeddedPostgres {
  readonly worker: Worker;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void }>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #accepting = true;
  #failure: Error | undefined;
  #closed: Promise<void> | undefined;
  #crash: Error | undefined;

  constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (reply: WorkerReply) => this.#settle(reply));
    // An uncaught exception inside the worker; 'exit' follows and fails everything.
    worker.on('error', (error) => {
      this.#crash = error;
    });
    worker.on('exit', (code) => this.#onExit(code));
    worker.unref();
  }

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<EmbeddedQueryResult<R>> {
    const reply = await this.#request({ id: this.#nextId++, op: 'query', sql, params: prepareParams(params) });
    const result = unwrap(reply);
    if (!result) throw new Error('embedded database: query reply without a result');
    return { rows: parseRows<R>(result), affectedRows: result.affectedRows, command: result.command };
  }

  async exec(sql: string): Promise<void> {
    unwrap(await this.#request({ id: this.#nextId++, op: 'exec', sql }));
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#accepting = false;
    await Promise.allSettled([...this.#inFlight]);
    if (!this.#failure) {
      // Best effort: if PGlite cannot close cleanly, the data dir recovers on next open.
      await this.#post({ id: this.#nextId++, op: 'close' }).catch(() => undefined);
    }
    this.#failure ??= new EmbeddedPostgresError('the embedded database is closed');
    await this.worker.terminate();
  }

  #request(request: WorkerRequest): Promise<WorkerReply> {
    if (!this.#accepting && !this.#failure) return Promise.reject(new EmbeddedPostgresError('the embedded database is closing'));
    const promise = this.#post(request);
    this.#inFlight.add(promise);
    const forget = (): void => void this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  #post(request: WorkerRequest): Promise<WorkerReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.worker.postMessage(request); // throws (rejecting this promise) before anything is registered
      if (this.#pending.size === 0) this.worker.ref();
      this.#pending.set(request.id, { resolve, reject });
    });
  }

  #settle(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.worker.unref();
    pending.resolve(reply);
  }

  #onExit(code: number): void {
    if (!this.#failure) {
      const reason = this.#crash ? `: ${this.#crash.message}` : '';
      this.#failure = new EmbeddedPostgresError(
        `the embedded database worker exited unexpectedly (exit code ${code})${reason}; restart the process to reopen it`,
        {},
        { cause: this.#crash },
      );
    }
    this.#accepting = false;
    for (const { reject } of this.#pending.values()) reject(this.#failure);
    this.#pending.clear();
  }
}

/**
 * Throws the database error here, in the caller's async frame, so its stack
 * shows who ran the query rather than the message handler.
 */
function unwrap(reply: WorkerReply): WireQueryResult | undefined {
  if (!reply.ok) throw new EmbeddedPostgresError(reply.error.message, reply.error);
  return reply.result;
}
