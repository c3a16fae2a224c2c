import { EventEmitter } from 'node:events';
import { sql } from 'kysely';
import type pg from 'pg';
import pgListen, { type Subscriber } from 'pg-listen';
import type { BrainDatabase } from './brain-database.js';

/**
 * Cross-replica signals over Postgres LISTEN/NOTIFY (`z4j_agent_revoked`,
 * later `z4j_commands`, `z4j_dashboard`, ...). On Postgres, LISTEN runs on one
 * dedicated connection that pg-listen re-establishes after a drop; NOTIFY
 * goes through the pool. On the embedded database there is only this
 * process, so signals stay in memory.
 */
export interface Notifier {
  publish(channel: string, payload: string): Promise<void>;
  /** Resolves once the LISTEN is active; returns the unsubscribe function. */
  subscribe(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface NotifierOptions {
  readonly onError?: (error: Error) => void;
  readonly onReconnect?: (attempt: number) => void;
}

// pg-listen is CommonJS with `exports.default`; under Node's ESM interop the default import is the function itself.
const createPostgresSubscriber = pgListen as unknown as typeof pgListen.default;

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

function assertChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new Error(`invalid NOTIFY channel name "${channel}"`);
}

export function createNotifier(database: BrainDatabase, options: NotifierOptions = {}): Notifier {
  return database.pool ? createPostgresNotifier(database, database.pool, options) : createLocalNotifier();
}

function createLocalNotifier(): Notifier {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(channel, payload) {
      assertChannel(channel);
      // Asynchronous like a real NOTIFY: a publisher never runs subscribers on its own stack.
      setImmediate(() => emitter.emit(channel, payload));
    },
    async subscribe(channel, handler) {
      assertChannel(channel);
      emitter.on(channel, handler);
      return async () => {
        emitter.off(channel, handler);
      };
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

function createPostgresNotifier(database: BrainDatabase, pool: pg.Pool, options: NotifierOptions): Notifier {
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let subscriber: Subscriber | undefined;
  let connecting: Promise<Subscriber> | undefined;

  const connect = (): Promise<Subscriber> => {
    connecting ??= (async () => {
      const created = createPostgresSubscriber(pool.options as pg.ClientConfig, {
        parse: (payload: string) => payload,
        serialize: (payload: unknown) => String(payload),
        retryInterval: (attempt) => Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)),
        retryTimeout: Number.POSITIVE_INFINITY,
        paranoidChecking: 10_000,
      });
      created.events.on('error', (error) => options.onError?.(error));
      created.events.on('reconnect', (attempt) => options.onReconnect?.(attempt));
      created.events.on('notification', (notification) => {
        const payload = typeof notification.payload === 'string' ? notification.payload : '';
        for (const handler of handlers.get(notification.channel) ?? []) handler(payload);
      });
      await created.connect();
      subscriber = created;
      return created;
    })();
    // A failed first connect must not be cached: the next subscribe tries again.
    connecting.catch(() => {
      connecting = undefined;
    });
    return connecting;
  };

  return {
    async publish(channel, payload) {
      assertChannel(channel);
      await sql`select pg_notify(${channel}, ${payload})`.execute(database.db);
    },
    async subscribe(channel, handler) {
      assertChannel(channel);
      const live = await connect();
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await live.listenTo(channel);
      }
      set.add(handler);
      return async () => {
        set.delete(handler);
        if (set.size === 0) {
          handlers.delete(channel);
          await live.unlisten(channel);
        }
      };
    },
    async close() {
      handlers.clear();
      const live = subscriber ?? (connecting ? await connecting.catch(() => undefined) : undefined);
      await live?.close();
    },
  };
}
