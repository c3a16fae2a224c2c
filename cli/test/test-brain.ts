import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import { mintAgent, type MintedAgent } from '@z4j/enrolment';
import { hashApiKey, mintApiKey } from '@z4j/identity';
import { bootBrain, SERVICE_NAMES, type BrainProcess, type ServiceName } from '@z4j/runtime';
import type { ConformanceBrain } from '@z4j/agent-testkit';
import { createMigratedTestDatabase, freeLoopbackPort } from '@z4j/testing';
import { SERVICE_FACTORIES } from '../src/service-registry.js';

export const TEST_SECRET = 'test-master-secret-0123456789-abcdefghijklmnop';

export interface TestBrain {
  readonly brain: BrainProcess;
  readonly databaseUrl: string;
  readonly agentUrl: string;
  readonly logs: string[];
  mint(name: string, projectSlug?: string): Promise<MintedAgent>;
  /** Drains the brain; drops the database it created unless `keepDatabase`. */
  stop(options?: { keepDatabase?: boolean }): Promise<void>;
  /**
   * Drains the brain and keeps its database; `resume()` starts a brain with the same options on that database (a
   * fixed `Z4J_BIND_PORT` brings it back on the same address), which then drops the database when it stops.
   */
  suspend(): Promise<{ resume(): Promise<TestBrain> }>;
}

export interface TestBrainOptions {
  readonly services?: readonly ServiceName[];
  readonly env?: Record<string, string>;
  /** Reuse a database (e.g. to restart a brain on the same data). */
  readonly databaseUrl?: string;
  /** Receives what `z4j serve` prints to the terminal (the first-boot setup link). */
  readonly onPrintLine?: (line: string) => void;
}

/**
 * A real brain in this process on its own migrated Postgres database:
 * the same composition as `z4j serve`, on an ephemeral loopback port.
 */
export async function startTestBrain(options: TestBrainOptions = {}): Promise<TestBrain> {
  const created = options.databaseUrl ? undefined : await createMigratedTestDatabase();
  const databaseUrl = options.databaseUrl ?? created?.url;
  if (!databaseUrl) throw new Error('no test database');
  return bootTestBrain(options, databaseUrl, created ? () => created.drop() : undefined);
}

/** Boots a brain on `databaseUrl`; `drop`, when given, is how its database goes away with it. */
async function bootTestBrain(options: TestBrainOptions, databaseUrl: string, drop: (() => Promise<void>) | undefined): Promise<TestBrain> {
  const home = mkdtempSync(join(tmpdir(), 'z4j-test-home-'));
  const logs: string[] = [];
  const brain = await bootBrain({
    env: {
      Z4J_HOME: home,
      Z4J_DATABASE_URL: databaseUrl,
      Z4J_SECRET: TEST_SECRET,
      Z4J_SESSION_SECRET: 'test-session-secret-0123456789-abcdefghijklmnop',
      Z4J_PUBLIC_URL: 'http://127.0.0.1:7700',
      Z4J_BIND_HOST: '127.0.0.1',
      Z4J_BIND_PORT: '0',
      Z4J_METRICS_PUBLIC: 'true',
      Z4J_LOG_LEVEL: 'info',
      ...options.env,
    },
    cwd: home,
    services: (options.services ?? SERVICE_NAMES).map((name) => [name, SERVICE_FACTORIES[name]] as const),
    printLine: options.onPrintLine ?? (() => undefined),
    logDestination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logs.push(chunk.toString('utf8'));
        callback();
      },
    }),
    drainGraceMs: 1_000,
  });
  await brain.ready;
  return {
    brain,
    databaseUrl,
    agentUrl: `${brain.url.replace(/^http/, 'ws')}/ws/agent`,
    logs,
    mint: (name, projectSlug = 'default') =>
      mintAgent(brain.database.db, { projectSlug, name, masterSecret: TEST_SECRET, now: new Date() }),
    stop: async ({ keepDatabase = false } = {}) => {
      await brain.drain();
      if (!keepDatabase) await drop?.();
    },
    suspend: async () => {
      await brain.drain();
      return { resume: () => bootTestBrain({ ...options, databaseUrl }, databaseUrl, drop) };
    },
  };
}

/**
 * The brain of the adapter conformance suite (`@z4j/agent-testkit`): every service but the scheduler bridge, on a
 * fixed loopback port so the suite's outage brings it back where the agent keeps reconnecting, delivering pending
 * commands within a second (the suite issues some as the brain's own workers do, as rows the gateway picks up).
 */
export async function startConformanceBrain(): Promise<ConformanceBrain> {
  const port = await freeLoopbackPort();
  const brain = await startTestBrain({
    services: ['gateway', 'ingest', 'api', 'workers'],
    env: {
      Z4J_BIND_PORT: String(port),
      Z4J_PUBLIC_URL: `http://127.0.0.1:${port}`,
      Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS: '1',
      Z4J_ENVIRONMENT: 'dev',
    },
  });
  return conformanceBrainOf(brain);
}

function conformanceBrainOf(brain: TestBrain): ConformanceBrain {
  return {
    url: brain.brain.url,
    projectSlug: 'default',
    db: brain.brain.database.db,
    mintAgent: (name) => brain.mint(name),
    mintApiToken: (name) => mintAdminApiKey(brain, name),
    takeDown: async () => {
      const suspended = await brain.suspend();
      return { restart: async () => conformanceBrainOf(await suspended.resume()) };
    },
    stop: () => brain.stop(),
  };
}

/**
 * Reads until `isDone` holds (at most 100 reads, 20 ms apart) and returns the last value read:
 * for projections the brain writes asynchronously. The caller asserts on the result.
 */
export async function settled<T>(read: () => Promise<T>, isDone: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let attempt = 0; attempt < 100 && !isDone(value); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  return value;
}

/**
 * A queue's depth once a heartbeat has been projected (heartbeats are written in order with the
 * session's other writes, so the test polls, bounded); undefined if it never appears.
 */
export function settledQueueDepth(db: Kysely<Database>, projectId: string, queue: string): Promise<number | null | undefined> {
  return settled(
    async () =>
      (
        await db
          .selectFrom('queues')
          .select('pending_count')
          .where('project_id', '=', projectId)
          .where('name', '=', queue)
          .executeTakeFirst()
      )?.pending_count,
    (value) => value !== undefined,
  );
}

/**
 * A global admin with an `admin:*` API key on the brain's database, for tests that drive the REST API as an
 * operator would (commands with `?wait=true`, schedules); returns the bearer token.
 */
export async function mintAdminApiKey(brain: TestBrain, name: string): Promise<string> {
  const db = brain.brain.database.db;
  const user = await db
    .insertInto('users')
    .values({ email: `${name}@example.com`, password_hash: 'x', is_admin: true })
    .returning('id')
    .executeTakeFirstOrThrow();
  const key = mintApiKey();
  await db
    .insertInto('api_keys')
    .values({ user_id: user.id, name, token_hash: hashApiKey(TEST_SECRET, key.token), prefix: key.prefix, scopes: ['admin:*'] })
    .execute();
  return key.token;
}
