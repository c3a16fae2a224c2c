import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import { countDefaultPartitionRows, dropExpiredEventPartitions, ensureEventPartitions } from '@z4j/db';
import type { Logger } from '@z4j/logger';

/** Daily partitions kept ready ahead of time, today included. */
export const PARTITION_DAYS_AHEAD = 8;

export interface PartitionMaintenanceOptions {
  readonly db: Kysely<Database>;
  readonly retentionDays: number;
  readonly now: () => Date;
  readonly logger: Logger;
}

export interface PartitionMaintenanceResult {
  readonly created: string[];
  readonly dropped: string[];
  readonly defaultRows: number;
}

/**
 * One pass of events-partition upkeep: create today … today+7, drop daily
 * partitions past `Z4J_EVENT_RETENTION_DAYS`, and warn when rows landed in
 * `events_default` (they mean a partition was missing when they arrived).
 */
export async function runPartitionMaintenance(options: PartitionMaintenanceOptions): Promise<PartitionMaintenanceResult> {
  const today = options.now();
  const created = await ensureEventPartitions(options.db, today, PARTITION_DAYS_AHEAD);
  const dropped = await dropExpiredEventPartitions(options.db, today, options.retentionDays);
  const defaultRows = await countDefaultPartitionRows(options.db);
  if (created.length > 0 || dropped.length > 0) options.logger.info({ created, dropped }, 'workers:partitions:changed');
  if (defaultRows > 0) options.logger.warn({ defaultRows }, 'workers:partitions:default_not_empty');
  return { created, dropped, defaultRows };
}
