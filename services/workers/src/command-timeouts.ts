import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';

/** The error a timed-out command carries (surfaces as 504 command_timeout to API callers). */
export const COMMAND_TIMEOUT_ERROR = 'timed out';

export interface CommandTimeoutSweepOptions {
  readonly db: Kysely<Database>;
  readonly now: Date;
}

/**
 * One pass of the command_timeout_worker (§9): every pending or dispatched
 * command whose `timeout_at` has passed becomes `timeout`, in one UPDATE
 * (served by the partial index `commands_live_timeout_at_idx`). Returns the
 * ids it changed, for the `z4j_command_updates` NOTIFYs.
 *
 * Safe on every replica at once: a row another sweep (or a late result)
 * changed first no longer matches when the UPDATE re-checks it under its row
 * lock, so each id is returned by exactly one sweep. A result arriving after
 * this is "late": the gateway ignores and counts it.
 */
export async function sweepCommandTimeouts(options: CommandTimeoutSweepOptions): Promise<string[]> {
  const rows = await options.db
    .updateTable('commands')
    .set({ status: 'timeout', completed_at: options.now, error: COMMAND_TIMEOUT_ERROR })
    .where('status', 'in', ['pending', 'dispatched'])
    .where('timeout_at', '<', options.now)
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}
