import type { BrainService, ServiceContext } from '@z4j/runtime';
import { runPartitionMaintenance } from './partition-maintenance.js';
import { createPeriodicTask, type PeriodicTask } from './periodic-task.js';

/** Hourly, like the original's partition creator. */
const PARTITION_INTERVAL_MS = 3_600_000;

/**
 * Background loops of the brain. This slice runs events-partition upkeep;
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
