import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import type { Registry } from 'prom-client';
import {
  ensureEmbeddedSecrets,
  readConfigLayers,
  resolveConfig,
  resolveHome,
  type ConfigLayers,
  type ResolvedConfig,
  type Settings,
} from '@z4j/config';
import {
  createMigrator,
  createNotifier,
  describeDatabaseUrl,
  loadMigrations,
  openBrainDatabase,
  type BrainDatabase,
  type Migrator,
  type Notifier,
  type NotifierEvent,
} from '@z4j/db';
import type { IngestSink } from '@z4j/ingest-contract';
import { createLogger, type Logger } from '@z4j/logger';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { createHttpHost, type HttpHost } from './http-host.js';
import { createMetricsEndpoint } from './metrics.js';
import { createReadiness, type Readiness } from './readiness.js';
import { createDashboardPublisher, type DashboardPublisher } from './dashboard-publisher.js';
import { createNotifierMetrics } from './notifier-metrics.js';
import type { BrainService, ServiceName } from './service.js';

/**
 * In-process seams between services of the same process. A service that
 * provides one registers it in its factory; a consumer reads it in `start()`
 * (after every factory ran) and falls back to the remote form (gRPC) when the
 * provider runs in another deployment.
 */
export interface ProcessSeams {
  ingest?: IngestSink;
}

/** Everything a service factory may depend on; nothing else reaches a service. */
export interface ServiceContext {
  /** The services running in this process (all five under `z4j serve`). */
  readonly colocated: readonly ServiceName[];
  readonly seams: ProcessSeams;
  /** Cross-replica signals (Postgres LISTEN/NOTIFY; in memory on the embedded database). */
  readonly notifier: Notifier;
  /** Tells open dashboards (every replica, coalesced) that tasks, commands or agents of a project changed. */
  readonly dashboard: DashboardPublisher;
  /** The brain's version, as reported to agents and the dashboard. */
  readonly version: string;
  readonly settings: Settings;
  readonly config: ResolvedConfig;
  readonly database: BrainDatabase;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly readiness: Readiness;
  readonly now: () => Date;
  /** Human-facing lines (the first-boot banner); stderr in production. */
  readonly printLine: (line: string) => void;
}

export type ServiceFactory = (context: ServiceContext) => BrainService;

export interface BootOptions {
  /** The process environment (already including CLI overrides such as --port). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** The services to run in this process, in start order. */
  readonly services: ReadonlyArray<readonly [ServiceName, ServiceFactory]>;
  readonly printLine: (line: string) => void;
  /** Tests capture logs here; default stdout. */
  readonly logDestination?: DestinationStream;
  /** How long in-flight HTTP requests get to finish on drain. */
  readonly drainGraceMs?: number;
  /** How often to re-check a schema with pending migrations when not auto-migrating. */
  readonly schemaPollMs?: number;
}

export interface BrainProcess {
  readonly settings: Settings;
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly address: AddressInfo;
  /** `http://host:port` of the listener (loopback form when bound to all interfaces). */
  readonly url: string;
  readonly host: HttpHost;
  readonly database: BrainDatabase;
  /** The process's cross-replica signals (tests find its LISTEN connection through it). */
  readonly notifier: Notifier;
  /**
   * Resolves once every service started and readiness says ready; waits while
   * migrations are pending (`Z4J_AUTO_MIGRATE=false`); rejects if a service fails to start.
   */
  readonly ready: Promise<void>;
  /** Stop accepting work, finish in-flight work, close the database. Idempotent. */
  drain(): Promise<void>;
}

function readRuntimeVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

async function waitForSchema(migrator: Migrator, pollMs: number, signal: AbortSignal, logger: Logger): Promise<void> {
  while (!signal.aborted) {
    try {
      await migrator.assertCurrent();
      logger.info('db:migrations:current');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'MIGRATIONS_PENDING') throw error;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pollMs);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** One log line per listener event worth an operator's attention (`db:notifier:*`). */
function logNotifierEvent(logger: Logger, event: NotifierEvent): void {
  switch (event.type) {
    case 'listener_connected':
      logger.info({ applicationName: event.applicationName }, 'db:notifier:listening');
      return;
    case 'listener_lost':
      logger.warn({ err: event.error }, 'db:notifier:connection_lost');
      return;
    case 'listener_rebuilding':
      logger.warn({ reason: event.reason }, 'db:notifier:rebuilding');
      return;
    case 'listener_rebuilt':
      logger.info({ reason: event.reason, durationMs: event.durationMs }, 'db:notifier:rebuilt');
      return;
    case 'listener_rebuild_failed':
      logger.warn({ err: event.error, reason: event.reason, retryInMs: event.retryInMs }, 'db:notifier:rebuild_failed');
      return;
    case 'heartbeat_publish_failed':
      logger.warn({ err: event.error }, 'db:notifier:heartbeat_publish_failed');
      return;
    case 'handler_failed':
      logger.error({ err: event.error, channel: event.channel }, 'db:notifier:handler_failed');
      return;
  }
}

/** Reads the four config layers and, on the embedded database, mints missing secrets first. */
export function loadBrainConfig(env: Readonly<Record<string, string | undefined>>, cwd: string): ResolvedConfig {
  const home = resolveHome(env);
  let layers: ConfigLayers = readConfigLayers({ env, cwd, home });
  const embedded = !firstDefined(layers, 'Z4J_DATABASE_URL');
  if (embedded) {
    const metricsPublic = /^(1|true|yes|on)$/i.test(firstDefined(layers, 'Z4J_METRICS_PUBLIC') ?? '');
    const { minted } = ensureEmbeddedSecrets({ home, layers, mintMetricsToken: !metricsPublic });
    if (minted.length > 0) layers = readConfigLayers({ env, cwd, home });
  }
  return resolveConfig(layers);
}

function firstDefined(layers: ConfigLayers, name: string): string | undefined {
  for (const layer of [layers.env, layers.dotenv, layers.configEnv, layers.secretEnv]) {
    const value = layer[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/**
 * Composes one brain process: config → logger → database → migrations →
 * services → HTTP listener → ready. `z4j serve` passes all five services;
 * each service's own main.ts passes just itself.
 */
export async function bootBrain(options: BootOptions): Promise<BrainProcess> {
  const config = loadBrainConfig(options.env, options.cwd);
  const { settings } = config;
  const serviceNames = options.services.map(([name]) => name);
  const logger = createLogger({
    level: settings.logLevel,
    json: settings.logJson,
    base: { service: serviceNames.length === 1 ? serviceNames[0] : 'brain', environment: settings.environment },
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  if (config.unknown.length > 0) logger.warn({ variables: config.unknown }, 'config:unknown_variables');

  let lock: DataDirLock | undefined;
  let database: BrainDatabase;
  if (config.mode === 'embedded') {
    mkdirSync(settings.home, { recursive: true, mode: 0o700 });
    lock = acquireDataDirLock(join(settings.home, 'data.lock'));
    const dataDir = join(settings.home, 'data');
    logger.info({ dataDir }, 'db:embedded:opening');
    try {
      database = await openBrainDatabase({ kind: 'embedded', dataDir });
    } catch (error) {
      lock.release();
      throw error;
    }
  } else {
    const url = settings.databaseUrl as string;
    logger.info({ database: describeDatabaseUrl(url) }, 'db:postgres:opening');
    database = await openBrainDatabase({
      kind: 'postgres',
      url,
      requireSsl: settings.requireDbSsl,
      poolSize: settings.dbPoolSize,
      statementTimeoutMs: settings.dbStatementTimeoutMs,
      lockTimeoutMs: settings.dbLockTimeoutMs,
      idleInTransactionTimeoutMs: settings.dbIdleInTxTimeoutMs,
      connectTimeoutMs: Math.round(settings.asyncpgConnectTimeout * 1000),
      closeTimeoutMs: Math.round(settings.asyncpgCloseTimeout * 1000),
      idleConnectionLifetimeMs: Math.round(settings.databaseMaxInactiveConnectionLifetimeSeconds * 1000),
      applicationName: `z4j-${serviceNames.length === 1 ? serviceNames[0] : 'brain'}`,
      onPoolError: (error) => logger.warn({ err: error }, 'db:pool:idle_client_error'),
    });
  }

  const started: BrainService[] = [];
  let host: HttpHost | undefined;
  const readiness = createReadiness({ ping: () => database.ping() });
  const metrics = settings.metricsEnabled
    ? createMetricsEndpoint({
        authToken: settings.metricsAuthToken,
        isPublic: settings.metricsPublic,
        labels: { service: serviceNames.length === 1 ? (serviceNames[0] as string) : 'brain' },
      })
    : undefined;
  const registry = metrics?.registry ?? createMetricsEndpoint({ authToken: undefined, isPublic: false, labels: {} }).registry;
  const notifier = createNotifier(database, {
    backend: settings.registryBackend,
    watchdog: {
      heartbeatMs: settings.registryListenerHeartbeatSeconds * 1000,
      timeoutMs: settings.registryListenerHeartbeatTimeoutSeconds * 1000,
      maxAgeMs: settings.registryListenerMaxAgeSeconds * 1000,
    },
    metrics: createNotifierMetrics(registry),
    onEvent: (event) => logNotifierEvent(logger, event),
  });
  // One coalescing publisher per process: every service's change signals share its NOTIFY budget.
  const dashboard = createDashboardPublisher({
    publish: (channel, payload) => notifier.publish(channel, payload),
    workerId: randomUUID(),
    logger,
  });
  const drainServices = async () => {
    // Start order (gateway, ingest, api, workers, scheduler-bridge): a service drains before the
    // services it feeds, so the gateway's last batches still reach a running ingest.
    for (const service of started) {
      await service.drain?.().catch((error: unknown) => logger.error({ err: error, service: service.name }, 'lifecycle:drain:failed'));
    }
  };
  const releaseResources = async () => {
    await dashboard.close();
    await notifier.close().catch(() => undefined);
    await database.close();
    lock?.release();
  };

  try {
    const migrator = createMigrator({
      db: database.db,
      migrations: await loadMigrations(),
      onEvent: (event) =>
        event.type === 'applied'
          ? logger.info({ version: event.version, name: event.name, durationMs: event.durationMs }, 'db:migration:applied')
          : logger.info('db:migration:waiting_for_lock'),
    });
    // A schema newer than this build fails here, before anything listens.
    const schemaCurrent = settings.autoMigrate ? (await migrator.up(), true) : (await migrator.status()).pending.length === 0;

    const seams: ProcessSeams = {};
    const version = readRuntimeVersion();
    const context = (name: ServiceName): ServiceContext => ({
      colocated: serviceNames,
      seams,
      notifier,
      dashboard,
      version,
      settings,
      config,
      database,
      logger: logger.child({ component: name }),
      metrics: registry,
      readiness,
      now: () => new Date(),
      printLine: options.printLine,
    });
    const services = options.services.map(([name, factory]) => factory(context(name)));
    host = createHttpHost({ services, readiness, logger, metrics });
    const address = await host.listen(settings.bindHost, settings.bindPort);
    const urlHost = ['0.0.0.0', '::', ''].includes(address.address) ? '127.0.0.1' : address.address;
    const url = `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${address.port}`;
    logger.info({ url }, 'lifecycle:listening');

    const stopWaiting = new AbortController();
    const ready = (async () => {
      if (!schemaCurrent) {
        // Orchestrators run `z4j migrate up` as a separate step: stay up, report unready, and re-check.
        readiness.markUnready('migrations_pending');
        logger.warn('db:migrations:pending');
        await waitForSchema(migrator, options.schemaPollMs ?? 5_000, stopWaiting.signal, logger);
      }
      for (const service of services) {
        if (stopWaiting.signal.aborted) return;
        await service.start?.();
        started.push(service);
      }
      readiness.markReady();
      logger.info({ url, services: serviceNames, mode: config.mode }, 'lifecycle:ready');
    })();
    ready.catch(() => undefined);

    let drained: Promise<void> | undefined;
    const liveHost = host;
    return {
      settings,
      config,
      logger,
      address,
      url,
      host: liveHost,
      database,
      notifier,
      ready,
      drain: () => {
        drained ??= (async () => {
          readiness.markDraining();
          stopWaiting.abort();
          await ready.catch(() => undefined);
          // Stop accepting first; services then finish their work and close their own sockets
          // (the gateway acks what it can and closes agents with 1000) while the listener waits for them.
          const listenerClosed = liveHost.close(options.drainGraceMs ?? 10_000);
          await drainServices();
          await listenerClosed;
          await releaseResources();
        })();
        return drained;
      },
    };
  } catch (error) {
    await host?.close(0).catch(() => undefined);
    await drainServices();
    await releaseResources().catch(() => undefined);
    throw error;
  }
}
