import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { COMMAND_UPDATES_CHANNEL } from '@z4j/db';
import { AppError } from '@z4j/errors';
import { CloseCode } from '@z4j/protocol';
import type { IngestSink } from '@z4j/ingest-contract';
import { createGrpcIngestClient, ingestStreamToken } from '@z4j/ingest-grpc';
import { clientIp, createSlidingWindowLimiter, createTrustedProxies, type BrainService, type ServiceContext } from '@z4j/runtime';
import { AgentConnectionRegistry } from './agent-registry.js';
import { AgentSession } from './agent-session.js';
import { createCommandRouter } from './command-router.js';
import { createGatewayMetrics } from './gateway-metrics.js';
import { createGatewayStore } from './gateway-store.js';

/** Refused agent tokens are audited at most once per address per minute: a token-guessing loop cannot flood the chain. */
const AUDITED_AUTH_FAILURES_PER_IP = { limit: 1, windowMs: 60_000 } as const;
/** The original's agent-connect bucket: 600 connects per IP per minute. */
const CONNECTS_PER_IP = { limit: 600, windowMs: 60_000 } as const;
/** The brain tells agents to heartbeat this often (hello_ack), like the original. */
const HEARTBEAT_INTERVAL_SECONDS = 10;
/** Time in-flight batches get to commit (and be acked) when the gateway drains. */
const DRAIN_GRACE_MS = 5_000;
/** Both paths are the same endpoint: `/ws` is what the seeds name, `/ws/agent` what the real agents dial. */
export const AGENT_SOCKET_PATHS = ['/ws', '/ws/agent'] as const;

/**
 * The agent WebSocket gateway: authenticates agents, runs one
 * {@link AgentSession} per socket, hands verified event batches to ingest
 * (in process, or over gRPC when ingest is its own deployment) and closes the
 * sockets of revoked agents on every replica (NOTIFY `z4j_agent_revoked`).
 * Commands reach the replica that holds the agent through the
 * {@link createCommandRouter command router} (NOTIFY `z4j_commands` plus a
 * reconcile loop); `Z4J_REGISTRY_BACKEND=local` keeps those signals in process.
 */
export function createGatewayService(context: ServiceContext): BrainService {
  const { settings, logger } = context;
  const metrics = createGatewayMetrics(context.metrics);
  const registry = new AgentConnectionRegistry<AgentSession>(settings.wsPerAgentConcurrencyCap);
  const store = createGatewayStore(
    context.database.db,
    { current: settings.secret, previous: settings.previousSecrets },
    { notifyCommandUpdatesInStatement: context.notifier.backend === 'postgres_notify' },
  );
  const limiter = createSlidingWindowLimiter(CONNECTS_PER_IP);
  const auditedFailures = createSlidingWindowLimiter(AUDITED_AUTH_FAILURES_PER_IP);
  const onBearerFailure = (ip: string, reason: string) => {
    if (!auditedFailures.hit(ip)) return;
    store
      .recordBearerFailure(ip, reason, context.now())
      .catch((error: unknown) => logger.warn({ err: error }, 'gateway:auth:audit_failed'));
  };
  const commandsChanged = (commandIds: readonly string[]) => {
    // After the commit of the status change; a lost update only delays a `?wait=true` caller to its deadline read.
    context.notifier
      .publishMany(COMMAND_UPDATES_CHANNEL, commandIds)
      .catch((error: unknown) => logger.warn({ err: error, commands: commandIds.length }, 'gateway:commands:update_notify_failed'));
  };
  const router = createCommandRouter({
    store,
    registry,
    notifier: context.notifier,
    logger,
    metrics,
    now: context.now,
    reconcileIntervalMs: settings.registryReconcileIntervalSeconds * 1000,
    commandsChanged,
  });
  const trustedProxies = createTrustedProxies(settings.trustedProxies);
  const sessions = new Set<AgentSession>();
  let sink: IngestSink | undefined;
  let ownedSink: IngestSink | undefined;
  let unsubscribeRevoked: (() => Promise<void>) | undefined;
  // Closed until start() has the ingest sink: an agent must never reach a session without one.
  let accepting = false;

  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.wsMaxFrameBytes, perMessageDeflate: false });

  const onConnection = (ws: WebSocket, request: IncomingMessage, socket: Duplex) => {
    // First: a socket we are closing still parses frames, and an 'error' without a listener would crash the process.
    ws.on('error', (error) => logger.debug({ err: error }, 'gateway:socket:error'));
    // ws closes an oversized frame with 1009; protocol 2 says 4400 (malformed), so translate on this socket only.
    const close = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => close(code === 1009 ? CloseCode.Malformed : code, reason);
    const ip = clientIp(request, trustedProxies);
    if (!limiter.hit(ip)) {
      logger.warn({ ip }, 'gateway:connect:rate_limited');
      ws.close(CloseCode.RateLimited, 'too many connections from this address');
      return;
    }
    const session = new AgentSession(
      {
        store,
        registry,
        ingest: () => {
          if (!sink) throw new AppError('INGEST_UNAVAILABLE', 'ingest is not connected yet');
          return sink;
        },
        logger,
        metrics,
        now: context.now,
        masterSecret: settings.secret,
        brainVersion: context.version,
        idleTimeoutMs: settings.wsIdleTimeoutSeconds * 1000,
        maxFrameBytes: settings.wsMaxFrameBytes,
        queueMax: settings.wsIngestQueueMaxsize,
        heartbeatIntervalSeconds: HEARTBEAT_INTERVAL_SECONDS,
        commandTimeoutSeconds: settings.commandTimeoutSeconds,
        onBearerFailure,
        onAgentChanged: (projectId) => context.dashboard.changed(projectId, 'agent.changed'),
        commandsChanged,
      },
      ws,
      ip,
      socket,
    );
    sessions.add(session);
    ws.once('close', () => sessions.delete(session));
    session.holdUntilAuthenticated();
    session.authenticate(request.headers.authorization).catch((error: unknown) => {
      logger.error({ err: error }, 'gateway:auth:lookup_failed');
      session.close(CloseCode.InternalError, 'internal error');
    });
  };

  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!accepting) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request, socket));
  };

  return {
    name: 'gateway',
    upgrades: Object.fromEntries(AGENT_SOCKET_PATHS.map((path) => [path, upgrade])),
    async start() {
      sink = context.seams.ingest;
      if (!sink) {
        // Ingest is its own deployment: stream batches to it over gRPC.
        if (!settings.ingestGrpcUrl) {
          throw new AppError(
            'CONFIG_INVALID',
            'Z4J_INGEST_GRPC_URL: required when the gateway runs without ingest in the same process (host:port of services/ingest)',
          );
        }
        ownedSink = createGrpcIngestClient({ address: settings.ingestGrpcUrl, logger, authToken: ingestStreamToken(settings.secret) });
        sink = ownedSink;
      }
      unsubscribeRevoked = await context.notifier.subscribe('z4j_agent_revoked', (agentId) => {
        for (const session of registry.connectionsOf(agentId.trim())) session.close(CloseCode.BadToken, 'agent revoked');
      });
      await router.start();
      accepting = true;
    },
    async drain() {
      accepting = false;
      await router.stop();
      await unsubscribeRevoked?.();
      // drain() resolves once each session has also recorded its agent as offline.
      await Promise.all([...sessions].map((session) => session.drain(DRAIN_GRACE_MS)));
      wss.close();
      await ownedSink?.close();
    },
  };
}
