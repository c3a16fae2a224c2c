import { CommandError, consoleLogger, type AgentLogger, type CommandAction, type EngineAdapter, type EventSink } from '@z4j/agent';
import type PgBoss from 'pg-boss';
import { BossSchedules } from './boss-schedules.js';
import { queueResolver, sendJob, type CommandContext } from './command-context.js';
import { cancelTask, reconcileTask, retryTask, submitTask } from './job-commands.js';
import { LocalWorkers, type PgBossWorkHandler } from './local-workers.js';
import { bulkRetry, purgeQueue, queueDepths } from './queue-commands.js';
import { RunningJobs } from './running-jobs.js';

/**
 * What {@link createPgBossAdapter} takes.
 *
 * @example
 * createPgBossAdapter({ boss, queues: ['mail', 'reports'] })
 */
export interface PgBossAdapterOptions {
  /** Your pg-boss v10 instance. The adapter never starts or stops it. Required. */
  readonly boss: PgBoss;
  /**
   * The queues to report and command. Default: every queue pg-boss has (`getQueues()`, looked up again each time, so
   * queues created later are included), except pg-boss's internal `__pgboss__*` queues.
   */
  readonly queues?: readonly string[];
  /** pg-boss's `schema` option, which the adapter's paging and purge SQL runs against. Default `pgboss`. */
  readonly schema?: string;
  /** Engine name on events and commands. Default `pg-boss`. */
  readonly engine?: string;
  /** Scheduler name for pg-boss's cron schedules, or false to leave schedules out. Default `pg-boss`. */
  readonly scheduler?: string | false;
  /** How often the schedules are reported again, in ms. Default 900 000 (15 minutes, like the Python agent). */
  readonly scheduleSnapshotIntervalMs?: number;
  /** Jobs per statement for purge_queue and bulk_retry. Default 500. */
  readonly chunkSize?: number;
  /** How long cancel_task waits for an active job's handler to settle after its signal aborts, in ms. Default 10 000. */
  readonly cancelWaitMs?: number;
  /** The `worker` of this process's task events and worker details. Default `pg-boss@<host>:<pid>`. */
  readonly workerName?: string;
  /** Where the adapter logs problems it can only report (a failed schedule snapshot). Default: the console. */
  readonly logger?: AgentLogger;
}

/**
 * The engine adapter plus the pg-boss calls whose jobs it reports. pg-boss has no event stream for job
 * transitions, so the adapter learns them where they happen: `send` reports `task.received`, and the handlers
 * registered through `work` report `task.started`, then `task.succeeded`, `task.retried` or `task.failed`.
 *
 * @example
 * const adapter = createPgBossAdapter({ boss });
 * await adapter.work('mail', async ([job], { signal }) => sendMail(job.data, { signal }));
 * await adapter.send('mail', { to: 'a@b.c' });
 */
export interface PgBossAdapter extends EngineAdapter {
  /**
   * `boss.send(queue, data, options)`, reporting `task.received` (`args: [data]`) for the job it created. Resolves
   * with the pg-boss job id (null, and no event, when pg-boss created no job). Default `data`: `{}`.
   *
   * @example
   * const jobId = await adapter.send('mail', { to: 'a@b.c' }, { retryLimit: 3 });
   */
  send(queue: string, data?: object, options?: PgBoss.SendOptions): Promise<string | null>;
  /**
   * `boss.work(queue, options, handler)` with the handler wrapped to report its jobs (see {@link PgBossWorkHandler}:
   * the jobs always come with metadata, and the context carries an AbortSignal for cancel_task and expiration).
   * Resolves with pg-boss's worker id.
   *
   * @example
   * await adapter.work('mail', { batchSize: 5 }, async (jobs, { signal }) => Promise.all(jobs.map((job) => send(job.data, signal))));
   */
  work<T = object>(queue: string, handler: PgBossWorkHandler<T>): Promise<string>;
  work<T = object>(queue: string, options: PgBoss.WorkOptions, handler: PgBossWorkHandler<T>): Promise<string>;
  /** `boss.offWork(queue)` / `boss.offWork({ id })`, and drops those workers from the heartbeat's worker details. */
  offWork(value: string | { readonly id: string }): Promise<void>;
  /**
   * `boss.schedule(queue, cron, data, options)`, then a fresh `schedule.snapshot` while the agent runs.
   *
   * @example
   * await adapter.schedule('reports', '0 3 * * *', { scope: 'all' }, { tz: 'Europe/Paris' });
   */
  schedule(queue: string, cron: string, data?: object, options?: PgBoss.ScheduleOptions): Promise<void>;
  /** `boss.unschedule(queue)`, then a fresh `schedule.snapshot` while the agent runs. */
  unschedule(queue: string): Promise<void>;
}

const CAPABILITIES: ReadonlySet<CommandAction> = new Set<CommandAction>([
  'submit_task',
  'retry_task',
  'cancel_task',
  'bulk_retry',
  'purge_queue',
  'reconcile_task',
]);

/**
 * An {@link EngineAdapter} for pg-boss (v10), to hand to `createAgent({ adapters: [...] })`. It reports the jobs sent
 * and worked through it as task events, queue depths and this process's workers in heartbeats, pg-boss's cron
 * schedules as `schedule.snapshot` events, and runs the brain's commands (submit, retry, cancel, bulk retry, purge
 * with the confirm token, reconcile). pg-boss has no queue pause, so `pause_queue`/`resume_queue` are not
 * advertised. See README.md for the event and cancellation contracts.
 *
 * @throws {Error} for an invalid `schema`, `chunkSize` or duplicate `queues`.
 * @example
 * const boss = new PgBoss(process.env.DATABASE_URL!);
 * await boss.start();
 * const adapter = createPgBossAdapter({ boss });
 * const agent = createAgent({ adapters: [adapter], env: agentOptionsFromEnv(process.env) });
 * await agent.start();
 * await adapter.work('mail', async ([job]) => sendMail(job.data));
 */
export function createPgBossAdapter(options: PgBossAdapterOptions): PgBossAdapter {
  const { boss } = options;
  const schema = options.schema ?? 'pgboss';
  // pg-boss splices the schema into its SQL unquoted, after the same check; so does the adapter.
  if (!/^[A-Za-z_]\w{0,49}$/.test(schema)) throw new Error(`createPgBossAdapter: invalid schema name ${JSON.stringify(schema)}`);
  if (options.queues && new Set(options.queues).size !== options.queues.length) {
    throw new Error('createPgBossAdapter: a queue is listed twice');
  }
  const chunkSize = options.chunkSize ?? 500;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new Error('createPgBossAdapter: chunkSize must be a positive integer');
  const logger = options.logger ?? consoleLogger();
  const running = new RunningJobs();
  let sink: EventSink | undefined;
  const workers = new LocalWorkers(boss, running, () => sink, options.workerName);
  const resolver = queueResolver(boss, options.queues);
  const context = (): CommandContext => ({
    boss,
    schema,
    running,
    sink,
    worker: workers.name,
    chunkSize,
    cancelWaitMs: options.cancelWaitMs ?? 10_000,
    ...resolver,
  });
  const scheduler = options.scheduler === false ? undefined : new BossSchedules(options.scheduler ?? 'pg-boss', context, logger);

  function work<T>(queue: string, ...args: [PgBossWorkHandler<T>] | [PgBoss.WorkOptions, PgBossWorkHandler<T>]): Promise<string> {
    const [workOptions, handler] = args.length === 1 ? [{}, args[0]] : args;
    return workers.work(queue, workOptions, handler);
  }

  return {
    engine: options.engine ?? 'pg-boss',
    capabilities: CAPABILITIES,
    scheduler,
    async start(eventSink) {
      sink = eventSink;
      await scheduler?.start(eventSink, options.scheduleSnapshotIntervalMs ?? 900_000);
    },
    queueDepths: () => queueDepths(context()),
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
        default:
          throw new CommandError('unsupported', `the pg-boss adapter does not run ${action}`);
      }
    },
    async stop() {
      scheduler?.stop();
      sink = undefined;
    },
    send: (queue, data = {}, sendOptions = {}) => sendJob({ boss, sink }, queue, data, sendOptions),
    work,
    offWork: (value) => workers.offWork(value),
    async schedule(queue, cron, data, scheduleOptions) {
      await boss.schedule(queue, cron, data, scheduleOptions);
      await scheduler?.report('command');
    },
    async unschedule(queue) {
      await boss.unschedule(queue);
      await scheduler?.report('command');
    },
  };
}
