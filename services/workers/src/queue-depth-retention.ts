import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';

/** How long the per-minute queue depth history is kept (the dashboard shows at most a day of it). */
export const QUEUE_DEPTH_HISTORY_DAYS = 7;

/** Deletes queue depth samples older than `keepDays` before `now`; returns how many went. */
export async function sweepQueueDepthSamples(options: {
  readonly db: Kysely<Database>;
  readonly now: Date;
  readonly keepDays?: number;
}): Promise<number> {
  const cutoff = new Date(options.now.getTime() - (options.keepDays ?? QUEUE_DEPTH_HISTORY_DAYS) * 86_400_000);
  const result = await options.db.deleteFrom('queue_depth_samples').where('minute', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
