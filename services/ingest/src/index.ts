export { createIngestService } from './ingest-service.js';
export { createIngestPipeline } from './ingest-pipeline.js';
export type { IngestPipeline, IngestPipelineOptions, IngestPipelineStats } from './ingest-pipeline.js';
export { deriveEventId, EVENT_ID_NAMESPACE, trustedAgentEventId } from './event-id.js';
export { normaliseBatch, normaliseEvent, KNOWN_EVENT_KINDS } from './normalise-event.js';
export type { NormalisedBatch, NormalisedEvent, RejectReason } from './normalise-event.js';
