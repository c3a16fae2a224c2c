import type { BrainService, ServiceContext } from '@z4j/runtime';

/**
 * Stateless ingest: verified frames in, batched writes to the partitioned
 * `events` table and the task projection out. This slice runs the service
 * shell; the write path lands with the agent data-path issue.
 */
export function createIngestService(context: ServiceContext): BrainService {
  context.logger.debug('ingest:created');
  return { name: 'ingest' };
}
