import type { BrainService, ServiceContext } from '@z4j/runtime';
import { sql } from 'kysely';
import { runPartitionMaintenance } from './partition-maintenance.js';
import { createPeriodicTask, type PeriodicTask } from './periodic-task.js';

/** Hourly, like the original's partition creator. */
const PARTITION_INTERVAL_MS = 3_600_000;

/**
 * Background loops of the brain. This slice runs events-partition upkeep
 * (and, on the embedded database, the `Z4J_WAL_CHECKPOINT_INTERVAL_SECONDS` checkpoint);
 * retention, command timeouts, agent health and schedule sweeps join it with
 * their issues.
 */
export function createWorkersService(context: ServiceContext): BrainService {
  const { settings, logger, database } = context;
  const tasks: PeriodicTask[] = [
    createPeriodicTask({
      name: 'partitions',
      intervalMs: PARTITION_INTERVAL_MS,
      runImmediately: true,
      logger,
      run: async () => {
        await runPartitionMaintenance({ db: database.db, retentionDays: settings.eventRetentionDays, now: context.now, logger });
      },
    }),
  ];
  if (database.kind === 'embedded') {
    // The embedded database has no background checkpointer worth trusting across
    // process kills; flushing on a cadence bounds the WAL replayed at the next open.
    tasks.push(
      createPeriodicTask({
        name: 'embedded-checkpoint',
        intervalMs: settings.walCheckpointIntervalSeconds * 1000,
        logger,
        run: async () => {
          await sql`checkpoint`.execute(database.db);
        },
      }),
    );
  }
  return {
    name: 'workers',
    async start() {
      for (const task of tasks) task.start();
    },
    async drain() {
      await Promise.all(tasks.map((task) => task.stop()));
    },
  };
}
