import { createGrpcIngestServer, ingestStreamToken, type GrpcIngestServer } from '@z4j/ingest-grpc';
import { createRedactor } from '@z4j/redaction';
import type { BrainService, ServiceContext } from '@z4j/runtime';
import { createEventRedaction } from './event-redaction.js';
import { createIngestPipeline } from './ingest-pipeline.js';

/** In-flight batches get this long to commit when ingest drains. */
const DRAIN_GRACE_MS = 10_000;

/**
 * Stateless ingest: verified event batches in, redacted and deduplicated
 * group-commits into the partitioned `events` table and the task projection
 * out. Beside the gateway (`z4j serve`) it is an in-process call; as its own
 * deployment it serves the gateways over a gRPC stream
 * (`Z4J_INGEST_GRPC_BIND_HOST:PORT`), so it scales independently of them.
 */
export function createIngestService(context: ServiceContext): BrainService {
  const { settings, logger } = context;
  // An invalid Z4J_REDACTION_EXTRA_* pattern throws here, stopping start-up with the pattern named.
  const redactor = createRedactor({
    extraKeyPatterns: settings.redactionExtraKeyPatterns,
    extraValuePatterns: settings.redactionExtraValuePatterns,
    disableDefaults: settings.redactionDisableDefaults,
  });
  const pipeline = createIngestPipeline({
    database: context.database,
    redact: createEventRedaction(redactor),
    logger,
    now: context.now,
    metrics: context.metrics,
    eventsPerSecondPerProject: settings.ratelimitEventsPerSecond,
    // Open dashboards refetch their task lists; the publisher coalesces bursts into a few NOTIFYs a second.
    onCommitted: ({ projectIds }) => {
      for (const projectId of projectIds) context.dashboard.changed(projectId, 'task.changed');
    },
    // The embedded database has one session: smaller group commits keep API queries from waiting long behind one.
    ...(context.database.kind === 'embedded' ? { maxBatchEvents: 1_000 } : {}),
  });
  context.seams.ingest = pipeline;
  const serveRemoteGateways = !context.colocated.includes('gateway');
  let server: GrpcIngestServer | undefined;

  return {
    name: 'ingest',
    async start() {
      if (!serveRemoteGateways) return;
      server = createGrpcIngestServer({ sink: pipeline, logger, authToken: ingestStreamToken(settings.secret) });
      const port = await server.listen(settings.ingestGrpcBindHost, settings.ingestGrpcBindPort);
      logger.info({ host: settings.ingestGrpcBindHost, port }, 'ingest:grpc:listening');
    },
    async drain() {
      await server?.close(DRAIN_GRACE_MS);
      await pipeline.close();
    },
  };
}
