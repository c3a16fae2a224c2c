import { CommandError, consoleLogger, type AgentLogger, type CommandAction, type EngineAdapter, type EventSink } from '@z4j/agent';
import type { ConnectionOptions, Queue, Worker } from 'bullmq';
import { CancelledJobs } from './cancelled-jobs.js';
import type { CommandContext } from './command-context.js';
import { cancelTask, reconcileTask, retryTask, submitTask } from './job-commands.js';
import { JobSchedulers } from './job-schedulers.js';
import { LocalWorkers } from './local-workers.js';
import { bulkRetry, pendingCount, purgeQueue, setQueuePaused } from './queue-commands.js';
import { QueueEventSource } from './queue-event-source.js';

/**
 * What {@link createBullMQAdapter} takes.
 *
 * @example
 * createBullMQAdapter({ queues: [mailQueue], workers: [mailWorker] })
 */
export interface BullMQAdapterOptions {
  /** The queues to report and command (unique names). Required, at least one. */
  readonly queues: readonly Queue[];
  /**
   * Workers running in this process. Default: none. They add worker details to heartbeats and make `cancel_task`
   * able to stop their active jobs; events come from the queues either way. Each must consume one of `queues`.
   */
  readonly workers?: readonly Worker[];
  /**
   * Redis connection for the adapter's event-stream readers (one blocking connection per queue). Default: each
   * queue's own connection options; an ioredis instance is duplicated, never blocked on.
   */
  readonly connection?: ConnectionOptions;
  /** Engine name on events and commands. Default `bullmq`. */
  readonly engine?: string;
  /** Scheduler name for the queues' job schedulers, or false to leave job schedulers out. Default `bullmq`. */
  readonly scheduler?: string | false;
  /** How often the job schedulers are reported again, in ms. Default 900 000 (15 minutes, like the Python agent). */
  readonly scheduleSnapshotIntervalMs?: number;
  /** Jobs per chunk for purge_queue and bulk_retry. Default 500. */
  readonly chunkSize?: number;
  /** How long cancel_task waits for an active job's processor to stop after its signal aborts, in ms. Default 10 000. */
  readonly cancelWaitMs?: number;
  /** Where the adapter logs problems it can only report (event stream errors, …). Default: warnings to the console. */
  readonly logger?: AgentLogger;
}

const CAPABILITIES: ReadonlySet<CommandAction> = new Set<CommandAction>([
  'submit_task',
  'retry_task',
  'cancel_task',
  'bulk_retry',
  'purge_queue',
  'pause_queue',
  'resume_queue',
  'reconcile_task',
]);

/**
 * An {@link EngineAdapter} for BullMQ queues, to hand to `createAgent({ adapters: [...] })`. It reports every job
 * transition of the queues as task events (from each queue's Redis event stream, so jobs run by workers in any
 * process are covered), queue depths and local workers in heartbeats, the queues' job schedulers as
 * `schedule.snapshot` events, and runs the brain's commands. See README.md for the cancellation contract.
 *
 * @throws {Error} when `queues` is empty, has duplicate names, or a worker consumes a queue not in `queues`.
 * @example
 * const adapter = createBullMQAdapter({ queues: [queue], workers: [worker] });
 * const agent = createAgent({ adapters: [adapter], env: agentOptionsFromEnv(process.env) });
 * await agent.start();
 */
export function createBullMQAdapter(options: BullMQAdapterOptions): EngineAdapter {
  const queues = new Map<string, Queue>();
  for (const queue of options.queues) {
    if (queues.has(queue.name)) throw new Error(`createBullMQAdapter: queue "${queue.name}" is listed twice`);
    queues.set(queue.name, queue);
  }
  if (queues.size === 0) throw new Error('createBullMQAdapter: give at least one queue');
  for (const worker of options.workers ?? []) {
    if (!queues.has(worker.name)) throw new Error(`createBullMQAdapter: worker of queue "${worker.name}" needs that queue in "queues"`);
  }
  const logger = options.logger ?? consoleLogger();
  const workers = new LocalWorkers(options.workers ?? []);
  const cancelled = new CancelledJobs();
  const sources = new Map<string, QueueEventSource>();
  const scheduler = options.scheduler === false ? undefined : new JobSchedulers(options.scheduler ?? 'bullmq', queues, logger);
  let sink: EventSink | undefined;
  const context = (): CommandContext => ({
    queues,
    workers,
    cancelled,
    sources,
    sink,
    chunkSize: options.chunkSize ?? 500,
    cancelWaitMs: options.cancelWaitMs ?? 10_000,
  });

  const closeSources = async () => {
    const open = [...sources.values()];
    sources.clear();
    await Promise.all(open.map((source) => source.close()));
  };

  return {
    engine: options.engine ?? 'bullmq',
    capabilities: CAPABILITIES,
    scheduler,
    async start(eventSink) {
      sink = eventSink;
      workers.start();
      try {
        await Promise.all(
          [...queues.values()].map(async (queue) => {
            sources.set(
              queue.name,
              await QueueEventSource.open(queue, { sink: eventSink, workers, cancelled, logger, connection: options.connection }),
            );
          }),
        );
        await scheduler?.start(eventSink, options.scheduleSnapshotIntervalMs ?? 900_000);
      } catch (error) {
        await closeSources();
        workers.stop();
        throw error;
      }
    },
    async queueDepths() {
      const depths: Record<string, number> = {};
      await Promise.all([...queues.values()].map(async (queue) => (depths[queue.name] = await pendingCount(queue))));
      return depths;
    },
    async workerDetails() {
      return workers.details();
    },
    async execute(action, target, parameters, signal) {
      switch (action) {
        case 'submit_task':
          return submitTask(context(), parameters);
        case 'retry_task':
          return retryTask(context(), parameters);
        case 'cancel_task':
          return cancelTask(context(), parameters, signal);
        case 'reconcile_task':
          return reconcileTask(context(), parameters);
        case 'bulk_retry':
          return bulkRetry(context(), parameters, signal);
        case 'purge_queue':
          return purgeQueue(context(), target, parameters, signal);
        case 'pause_queue':
        case 'resume_queue':
          return setQueuePaused(context(), target, parameters, action === 'pause_queue');
        default:
          throw new CommandError('unsupported', `the BullMQ adapter does not run ${action}`);
      }
    },
    async stop() {
      scheduler?.stop();
      await closeSources();
      workers.stop();
      sink = undefined;
    },
  };
}
