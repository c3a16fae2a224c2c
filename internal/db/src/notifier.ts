import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import { sql } from 'kysely';
import type pg from 'pg';
import pgListen, { type Subscriber } from 'pg-listen';
import type { BrainDatabase } from './brain-database.js';

/**
 * Cross-replica signals over Postgres LISTEN/NOTIFY (`z4j_agent_revoked`,
 * `z4j_commands`, `z4j_command_updates`, ...). On Postgres, LISTEN runs on one
 * dedicated connection per process, watched by a watchdog (below); NOTIFY goes
 * through the pool. On the embedded database, or with
 * `Z4J_REGISTRY_BACKEND=local`, there is only this process: signals stay in memory.
 *
 * NOTIFY is at most once: a payload sent while the LISTEN connection is down
 * is lost. Subscribers that cannot afford that re-read their state in
 * {@link Notifier.onListenerRestored}. Around a rebuild the old and the new
 * connection overlap, so a payload may also arrive twice: handlers must be
 * idempotent.
 */
export interface Notifier {
  /** This process's random id; the payload of its `z4j_heartbeat` self-NOTIFY. */
  readonly workerId: string;
  readonly backend: RegistryBackend;
  /** `application_name` of the LISTEN connection (postgres_notify), to find it in `pg_stat_activity`. */
  readonly listenerApplicationName: string | undefined;
  publish(channel: string, payload: string): Promise<void>;
  /** Publishes every payload on one channel in one round trip per 1000 (order kept). */
  publishMany(channel: string, payloads: readonly string[]): Promise<void>;
  /**
   * Resolves once the LISTEN is active; returns the unsubscribe function.
   * While the LISTEN connection is being rebuilt it waits for the rebuild, at
   * most the heartbeat timeout, then rejects (the handler is not kept).
   */
  subscribe(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Runs `handler` after the LISTEN connection was replaced (connection lost,
   * heartbeat timeout, max age): NOTIFYs sent meanwhile may be lost, so
   * re-read whatever they would have announced. Returns the unregister function.
   */
  onListenerRestored(handler: () => void): () => void;
  close(): Promise<void>;
}

export type RegistryBackend = 'postgres_notify' | 'local';

/** Why the LISTEN connection was replaced (the `reason` label of the rebuild counter). */
export type ListenerRebuildReason = 'connection_lost' | 'heartbeat_timeout' | 'max_age' | 'listen_failed';

export type NotifierEvent =
  | { readonly type: 'listener_connected'; readonly applicationName: string }
  | { readonly type: 'listener_lost'; readonly error: Error }
  | { readonly type: 'listener_rebuilding'; readonly reason: ListenerRebuildReason }
  | { readonly type: 'listener_rebuilt'; readonly reason: ListenerRebuildReason; readonly durationMs: number }
  | { readonly type: 'listener_rebuild_failed'; readonly reason: ListenerRebuildReason; readonly error: Error; readonly retryInMs: number }
  | { readonly type: 'heartbeat_publish_failed'; readonly error: Error }
  | { readonly type: 'handler_failed'; readonly channel: string; readonly error: Error };

/** The listener's counters, created by the process on its metrics registry (this package has no metrics dependency). */
export interface NotifierMetrics {
  /** `z4j_registry_listener_rebuilds_total{reason}` */
  readonly listenerRebuilds: { inc(labels: { reason: ListenerRebuildReason }): void };
}

/** The watchdog's cadence (`Z4J_REGISTRY_LISTENER_*`). */
export interface ListenerWatchdogOptions {
  /** Self-NOTIFY period (`Z4J_REGISTRY_LISTENER_HEARTBEAT_SECONDS`, 10). */
  readonly heartbeatMs: number;
  /** A heartbeat not back within this rebuilds the connection (`_HEARTBEAT_TIMEOUT_SECONDS`, 25). */
  readonly timeoutMs: number;
  /** The connection is recycled at this age regardless (`_MAX_AGE_SECONDS`, 900). */
  readonly maxAgeMs: number;
}

export interface NotifierOptions {
  /** `Z4J_REGISTRY_BACKEND`; the embedded database is always local. Default postgres_notify. */
  readonly backend?: RegistryBackend;
  readonly watchdog?: Partial<ListenerWatchdogOptions>;
  readonly metrics?: NotifierMetrics;
  readonly onEvent?: (event: NotifierEvent) => void;
}

/** The channel of the watchdog's self-NOTIFY (§10.2); payload = the worker id. */
export const HEARTBEAT_CHANNEL = 'z4j_heartbeat';
/** A new pending command (§10.2): compact JSON `{"c":"<command_id>","a":"<agent_id>"}`, published by the API after commit. */
export const COMMANDS_CHANNEL = 'z4j_commands';
/** A command changed status (dispatched, completed, failed, timeout); payload = the command id, published after commit. */
export const COMMAND_UPDATES_CHANNEL = 'z4j_command_updates';

const DEFAULT_WATCHDOG: ListenerWatchdogOptions = { heartbeatMs: 10_000, timeoutMs: 25_000, maxAgeMs: 900_000 };
/** Backoff between failed rebuilds: first, then doubling up to the cap. */
const REBUILD_BACKOFF_MS = { initial: 250, max: 10_000 } as const;
const PUBLISH_BATCH = 1_000;
/** A replaced connection gets this long to say goodbye; a half-open one never would, so its socket is then destroyed. */
const CLOSE_GRACE_MS = 1_000;
/**
 * A replaced connection keeps delivering this long before it is closed: a
 * NOTIFY committed just before the new connection's LISTEN took effect
 * reaches only the old one, and is usually still on its way.
 */
const RETIRE_LINGER_MS = 500;
/** Postgres truncates application_name to NAMEDATALEN - 1 bytes. */
const MAX_APPLICATION_NAME = 63;

// pg-listen is CommonJS with `exports.default`; under Node's ESM interop the default import is the function itself.
const createPostgresSubscriber = pgListen as unknown as typeof pgListen.default;

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

function assertChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new Error(`invalid NOTIFY channel name "${channel}"`);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Resolves true when `work` settles first, false after `ms`. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}

export function createNotifier(database: BrainDatabase, options: NotifierOptions = {}): Notifier {
  const workerId = randomUUID();
  return database.pool && options.backend !== 'local'
    ? createPostgresNotifier(database, database.pool, workerId, options)
    : createLocalNotifier(workerId, options);
}

/** Runs every handler; one that throws must not starve the others (or crash the process from an event emitter). */
function dispatch(handlers: Iterable<(payload: string) => void> | undefined, channel: string, payload: string, options: NotifierOptions) {
  for (const handler of handlers ?? []) {
    try {
      handler(payload);
    } catch (error) {
      options.onEvent?.({ type: 'handler_failed', channel, error: asError(error) });
    }
  }
}

function createLocalNotifier(workerId: string, options: NotifierOptions): Notifier {
  const handlers = new Map<string, Set<(payload: string) => void>>();
  const publish = (channel: string, payload: string) => {
    // Asynchronous like a real NOTIFY: a publisher never runs subscribers on its own stack.
    setImmediate(() => dispatch(handlers.get(channel), channel, payload, options));
  };
  return {
    workerId,
    backend: 'local',
    listenerApplicationName: undefined,
    async publish(channel, payload) {
      assertChannel(channel);
      publish(channel, payload);
    },
    async publishMany(channel, payloads) {
      assertChannel(channel);
      for (const payload of payloads) publish(channel, payload);
    },
    async subscribe(channel, handler) {
      assertChannel(channel);
      let set = handlers.get(channel);
      if (!set) handlers.set(channel, (set = new Set()));
      // A copy per subscription: the same function subscribed twice is two subscriptions.
      const wrapped = (payload: string) => handler(payload);
      set.add(wrapped);
      return async () => {
        set.delete(wrapped);
      };
    },
    // In memory nothing is ever lost: there is no listener to restore.
    onListenerRestored: () => () => undefined,
    async close() {
      handlers.clear();
    },
  };
}

/**
 * The Postgres notifier and its LISTEN-connection watchdog.
 *
 * Listener states:
 *   idle       — nobody subscribed yet (publish-only notifiers never open a LISTEN connection)
 *   starting   — the first connection is being opened (a failure is not cached: the next subscribe retries)
 *   live       — one pg-listen subscriber LISTENs on every channel plus `z4j_heartbeat`
 *   rebuilding — a fresh subscriber is being built; the old one (if it still works) keeps delivering
 *   closed
 *
 * Transitions out of live (→ rebuilding), whichever comes first:
 *   - the connection reports an error or ends (pg_terminate_backend, server restart, network reset);
 *   - the watchdog's own `z4j_heartbeat` NOTIFY (sent through the pool every
 *     heartbeatMs) has not come back on the LISTEN connection within timeoutMs:
 *     the silent failures (half-open TCP, a LISTEN the server no longer holds);
 *   - the connection is older than maxAgeMs.
 * A rebuild is make-before-break: the new connection LISTENs on every channel
 * before the old one is retired (it keeps delivering for RETIRE_LINGER_MS,
 * then closes; a half-open one has its socket destroyed after CLOSE_GRACE_MS);
 * then the restored handlers run. Failed builds retry with backoff until one
 * succeeds or the notifier closes.
 *
 * pg-listen's own recovery is switched off (`retryLimit: 1`; `paranoidChecking:
 * false`): its reconnect loop cannot be cancelled once started and would race
 * the watchdog for the same job. With that setting a lost connection makes
 * pg-listen end the client and emit `error`, which starts a rebuild here. Should
 * a pg-listen version make that one attempt and succeed, it re-LISTENs itself and
 * emits `connected`: that is treated as a rebuild too (restored handlers run).
 */
function createPostgresNotifier(database: BrainDatabase, pool: pg.Pool, workerId: string, options: NotifierOptions): Notifier {
  const watchdog: ListenerWatchdogOptions = { ...DEFAULT_WATCHDOG, ...options.watchdog };
  const baseName = typeof pool.options.application_name === 'string' ? pool.options.application_name : 'z4j';
  const applicationName = `${baseName}-listener-${workerId.slice(0, 8)}`.slice(-MAX_APPLICATION_NAME);
  const handlers = new Map<string, Set<(payload: string) => void>>();
  const restoredHandlers = new Set<() => void>();
  /** Subscribers not yet closed: during a rebuild both the old and the new deliver. */
  const open = new Set<Subscriber>();
  let current: Subscriber | undefined;
  let connectedAt = 0;
  let starting: Promise<Subscriber> | undefined;
  let rebuilding: Promise<void> | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  /** When the oldest unanswered heartbeat was sent (ms); undefined when none is outstanding. */
  let probeSentAt: number | undefined;
  let lastEchoAt = 0;
  let wakeBackoff: (() => void) | undefined;

  const emit = (event: NotifierEvent) => options.onEvent?.(event);

  const publishRows = async (channel: string, payloads: readonly string[]) => {
    // unnest yields the array in order, so the NOTIFYs go out in order (and commit together).
    await sql`select pg_notify(${channel}, payload) from unnest(${payloads}::text[]) as payload`.execute(database.db);
  };

  /** Subscriber → its raw socket (pg-listen does not expose its client): the way out of a half-open connection. */
  const sockets = new WeakMap<Subscriber, () => Socket | undefined>();
  const closing = new Set<Promise<void>>();
  const lingering = new Map<Subscriber, NodeJS.Timeout>();

  const retire = (subscriber: Subscriber | undefined) => {
    if (!subscriber) return;
    const linger = setTimeout(() => {
      lingering.delete(subscriber);
      void closeQuietly(subscriber);
    }, RETIRE_LINGER_MS);
    lingering.set(subscriber, linger);
  };

  /** Bounded: a graceful end, or after CLOSE_GRACE_MS the socket is destroyed. Never throws. */
  const closeQuietly = (subscriber: Subscriber | undefined): Promise<void> => {
    if (!subscriber || !open.delete(subscriber)) return Promise.resolve();
    const done = (async () => {
      const ended = await settlesWithin(
        subscriber.close().catch(() => undefined),
        CLOSE_GRACE_MS,
      );
      if (!ended) sockets.get(subscriber)?.()?.destroy();
    })();
    closing.add(done);
    void done.finally(() => closing.delete(done));
    return done;
  };

  /** Opens a subscriber that LISTENs on every registered channel, within the heartbeat timeout (else it is torn down). */
  const build = async (): Promise<Subscriber> => {
    let socket: Socket | undefined;
    const created = createPostgresSubscriber(
      {
        ...(pool.options as pg.ClientConfig),
        application_name: applicationName,
        stream: () => (socket = new Socket()),
      },
      {
        parse: (payload: string) => payload,
        serialize: (payload: unknown) => String(payload),
        paranoidChecking: false,
        retryLimit: 1,
      },
    );
    open.add(created);
    sockets.set(created, () => socket);
    created.events.on('notification', (notification) => {
      if (!open.has(created)) return;
      const payload = typeof notification.payload === 'string' ? notification.payload : '';
      if (notification.channel === HEARTBEAT_CHANNEL && payload === workerId) {
        lastEchoAt = Date.now();
        probeSentAt = undefined;
      }
      dispatch(handlers.get(notification.channel), notification.channel, payload, options);
    });
    created.events.on('error', (error) => {
      if (created !== current || closed) return;
      emit({ type: 'listener_lost', error });
      void rebuild('connection_lost');
    });
    let initialised = false;
    created.events.on('connected', () => {
      // The first 'connected' is our own connect(); a later one is pg-listen's reconnect (see above).
      if (!initialised || created !== current || closed) return;
      connectedAt = Date.now();
      probeSentAt = undefined;
      options.metrics?.listenerRebuilds.inc({ reason: 'connection_lost' });
      emit({ type: 'listener_rebuilt', reason: 'connection_lost', durationMs: 0 });
      runRestored();
    });
    const opening = (async () => {
      await created.connect();
      initialised = true;
      for (const channel of [HEARTBEAT_CHANNEL, ...handlers.keys()]) await created.listenTo(channel);
    })();
    try {
      // A server that accepts the connection but never answers must not hang the rebuild.
      if (!(await settlesWithin(opening, watchdog.timeoutMs))) {
        opening.catch(() => undefined);
        throw new Error(`the LISTEN connection did not open within ${watchdog.timeoutMs} ms`);
      }
      await opening;
      return created;
    } catch (error) {
      await closeQuietly(created);
      throw error;
    }
  };

  const runRestored = () => {
    for (const handler of restoredHandlers) {
      try {
        handler();
      } catch (error) {
        emit({ type: 'handler_failed', channel: '(listener restored)', error: asError(error) });
      }
    }
  };

  const adopt = (subscriber: Subscriber) => {
    current = subscriber;
    connectedAt = Date.now();
    probeSentAt = undefined;
  };

  const start = (): Promise<Subscriber> => {
    starting ??= (async () => {
      const created = await build();
      if (closed) {
        await closeQuietly(created);
        throw new Error('notifier closed');
      }
      adopt(created);
      emit({ type: 'listener_connected', applicationName });
      timer = setInterval(onTick, watchdog.heartbeatMs);
      timer.unref();
      return created;
    })();
    // A failed first connect must not be cached: the next subscribe tries again.
    starting.catch(() => {
      if (!current) starting = undefined;
    });
    return starting;
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wait = setTimeout(done, ms);
      function done() {
        clearTimeout(wait);
        wakeBackoff = undefined;
        resolve();
      }
      wakeBackoff = done;
    });

  /** Single flight: a rebuild requested while one runs joins it. */
  const rebuild = (reason: ListenerRebuildReason): Promise<void> => {
    if (closed) return Promise.resolve();
    rebuilding ??= (async () => {
      emit({ type: 'listener_rebuilding', reason });
      const began = Date.now();
      for (let attempt = 0; !closed; attempt += 1) {
        try {
          const fresh = await build();
          if (closed) {
            await closeQuietly(fresh);
            return;
          }
          const old = current;
          adopt(fresh);
          // Not awaited: a dead connection's goodbye must not delay the restored handlers.
          retire(old);
          options.metrics?.listenerRebuilds.inc({ reason });
          emit({ type: 'listener_rebuilt', reason, durationMs: Date.now() - began });
          runRestored();
          return;
        } catch (error) {
          const retryInMs = Math.min(REBUILD_BACKOFF_MS.max, REBUILD_BACKOFF_MS.initial * 2 ** Math.min(attempt, 6));
          emit({ type: 'listener_rebuild_failed', reason, error: asError(error), retryInMs });
          await sleep(retryInMs);
        }
      }
    })().finally(() => {
      rebuilding = undefined;
    });
    return rebuilding;
  };

  function onTick(): void {
    if (closed || rebuilding || !current) return;
    const now = Date.now();
    if (now - connectedAt >= watchdog.maxAgeMs) {
      void rebuild('max_age');
      return;
    }
    if (probeSentAt !== undefined && now - probeSentAt >= watchdog.timeoutMs) {
      void rebuild('heartbeat_timeout');
      return;
    }
    // Through the pool, like every other publisher: the echo proves the whole path other replicas' NOTIFYs take.
    publishRows(HEARTBEAT_CHANNEL, [workerId]).then(
      () => {
        // A probe counts only once sent, and only if its echo has not already overtaken the reply.
        if (lastEchoAt < now) probeSentAt ??= now;
      },
      (error: unknown) => emit({ type: 'heartbeat_publish_failed', error: asError(error) }),
    );
  }

  /** The live subscriber, waiting (bounded) for a rebuild in progress. */
  const listener = async (): Promise<Subscriber> => {
    if (closed) throw new Error('notifier closed');
    if (!current) return start();
    if (!rebuilding) return current;
    const inProgress = rebuilding;
    let bound: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      bound = setTimeout(
        () => reject(new Error(`the LISTEN connection is being rebuilt and was not back within ${watchdog.timeoutMs} ms`)),
        watchdog.timeoutMs,
      );
    });
    try {
      await Promise.race([inProgress, timedOut]);
    } finally {
      clearTimeout(bound);
    }
    if (!current || closed) throw new Error('notifier closed');
    return current;
  };

  return {
    workerId,
    backend: 'postgres_notify',
    listenerApplicationName: applicationName,
    async publish(channel, payload) {
      assertChannel(channel);
      await sql`select pg_notify(${channel}, ${payload})`.execute(database.db);
    },
    async publishMany(channel, payloads) {
      assertChannel(channel);
      for (let index = 0; index < payloads.length; index += PUBLISH_BATCH) {
        await publishRows(channel, payloads.slice(index, index + PUBLISH_BATCH));
      }
    },
    async subscribe(channel, handler) {
      assertChannel(channel);
      // A copy per subscription: the same function subscribed twice is two subscriptions.
      const wrapped = (payload: string) => handler(payload);
      // Registered before any await: a rebuild that starts meanwhile LISTENs on this channel too.
      let set = handlers.get(channel);
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(wrapped);
      const forget = () => {
        set.delete(wrapped);
        if (set.size === 0 && handlers.get(channel) === set) handlers.delete(channel);
      };
      try {
        for (let attempt = 1; ; attempt += 1) {
          const live = await listener();
          try {
            // pg-listen skips channels it already LISTENs on; a connection built after the registration above has it already.
            await live.listenTo(channel);
            break;
          } catch (error) {
            if (attempt >= 3 || closed) throw error;
            // The connection broke under us: a rebuild LISTENs on every registered channel, this one included.
            if (live === current) void rebuild('listen_failed');
          }
        }
      } catch (error) {
        forget();
        throw error;
      }
      return async () => {
        forget();
        if (handlers.has(channel) || channel === HEARTBEAT_CHANNEL) return;
        // A dead connection holds no LISTEN anyway, and the next rebuild skips unregistered channels.
        await current?.unlisten(channel)?.catch(() => undefined);
      };
    },
    onListenerRestored(handler) {
      restoredHandlers.add(handler);
      return () => {
        restoredHandlers.delete(handler);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      wakeBackoff?.();
      handlers.clear();
      restoredHandlers.clear();
      await starting?.catch(() => undefined);
      await rebuilding;
      for (const linger of lingering.values()) clearTimeout(linger);
      lingering.clear();
      await Promise.all([...open].map((subscriber) => closeQuietly(subscriber)));
      await Promise.all([...closing]);
      current = undefined;
    },
  };
}
