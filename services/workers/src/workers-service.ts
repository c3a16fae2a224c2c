import type { BrainService, ServiceContext } from '@z4j/runtime';
import { sql } from 'kysely';
import { sweepAuditRetention } from '@z4j/audit';
import { COMMAND_UPDATES_CHANNEL } from '@z4j/db';
import { sweepAgentHealth } from './agent-health.js';
import { sweepCommandTimeouts } from './command-timeouts.js';
import { runPartitionMaintenance } from './partition-maintenance.js';
import { sweepQueueDepthSamples } from './queue-depth-retention.js';
import { createPeriodicTask, type PeriodicTask } from './periodic-task.js';

/** Hourly, like the original's partition creator. */
const PARTITION_INTERVAL_MS = 3_600_000;

/**
 * Background loops of the brain: events-partition upkeep, command timeouts
 * (`Z4J_COMMAND_TIMEOUT_SWEEP_SECONDS`), agent health
 * (`Z4J_AGENT_HEALTH_SWEEP_SECONDS`) and, on the embedded database, the
 * `Z4J_WAL_CHECKPOINT_INTERVAL_SECONDS` checkpoint, audit retention
 * (`Z4J_AUDIT_RETENTION_*`) and the queue depth history (7 days, hourly). Schedule sweeps join it with their issue. Every
 * sweep is a guarded UPDATE or takes a try-lock, safe to run on every replica
 * at once.
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
    createPeriodicTask({
      name: 'command-timeouts',
      intervalMs: settings.commandTimeoutSweepSeconds * 1000,
      logger,
      run: async () => {
        const timedOut = await sweepCommandTimeouts({ db: database.db, now: context.now() });
        if (timedOut.length === 0) return;
        logger.info({ commands: timedOut.length }, 'workers:commands:timed_out');
        // After the commit; one round trip per 1000 ids. A lost NOTIFY only delays a `?wait=true` caller to its deadline read.
        await context.notifier
          .publishMany(COMMAND_UPDATES_CHANNEL, timedOut)
          .catch((error: unknown) => logger.warn({ err: error, commands: timedOut.length }, 'workers:commands:update_notify_failed'));
      },
    }),
    createPeriodicTask({
      name: 'agent-health',
      intervalMs: settings.agentHealthSweepSeconds * 1000,
      logger,
      run: async () => {
        const swept = await sweepAgentHealth({
          db: database.db,
          now: context.now(),
          offlineTimeoutSeconds: settings.agentOfflineTimeoutSeconds,
        });
        for (const projectId of swept.projectIds) context.dashboard.changed(projectId, 'agent.changed');
        if (swept.agents.length > 0 || swept.workers > 0)
          logger.info({ agents: swept.agents.length, workers: swept.workers }, 'workers:agents:marked_offline');
      },
    }),
    createPeriodicTask({
      name: 'queue-depth-retention',
      intervalMs: PARTITION_INTERVAL_MS,
      logger,
      run: async () => {
        await sweepQueueDepthSamples({ db: database.db, now: context.now() });
      },
    }),
    createPeriodicTask({
      name: 'audit-retention',
      intervalMs: settings.auditRetentionSweepIntervalSeconds * 1000,
      logger,
      run: async () => {
        // One replica sweeps at a time (a session advisory try-lock inside); the chain's verifier treats the
        // pruned prefix as retention, not tampering.
        const deleted = await sweepAuditRetention(database.db, {
          now: context.now(),
          retentionDays: settings.auditRetentionDays,
          batchSize: settings.auditRetentionSweepBatchSize,
          maxPerPass: settings.auditRetentionSweepMaxPerPass,
        });
        if (deleted > 0) logger.info({ deleted }, 'workers:audit:retention_swept');
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
