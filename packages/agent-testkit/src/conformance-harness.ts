import type { EngineAdapter } from '@z4j/agent';
import type { JsonObject } from '@z4j/protocol';
import type { ConformanceBrain } from './conformance-brain.js';

/**
 * The jobs the suite asks a fixture for, by what the job's processor does when a worker of the fixture's work queue
 * runs it. Every fixture implements exactly this, whatever its engine calls it:
 *
 *   ok         resolves with the payload it was enqueued with;
 *   flaky      throws an Error on its first attempt; the engine retries it by itself (once), and it resolves with the
 *              payload;
 *   doomed     throws `new RangeError('always fails')` on every attempt; the engine allows it exactly two attempts;
 *   fail-once  throws an Error on its first attempt and the engine does not retry it (it fails for good); run again
 *              (retried by hand), it resolves with the payload;
 *   long       runs until the AbortSignal the adapter hands its processor aborts, then rejects without further
 *              attempts (the adapter's cancellation contract).
 *
 * @example
 * await fixture.enqueue('flaky', { n: 1 });
 */
export type JobKind = 'ok' | 'flaky' | 'doomed' | 'fail-once' | 'long';

/**
 * A job's state in the engine's own records, in words every engine has: `pending` (waiting, delayed, paused, …),
 * `running`, `succeeded`, `failed`, `cancelled` (the engine keeps a cancelled job as such), `gone` (the engine no longer
 * has it: removed, purged, deleted).
 *
 * @example
 * const state: EngineJobState = 'failed';
 */
export type EngineJobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'gone';

/** The job as the engine records it; read through the engine's own API, never through the adapter. */
export interface EngineJob {
  readonly state: EngineJobState;
  /** The engine's own word for the state (`completed`, `created`, …), shown when an assertion fails. */
  readonly raw: string;
  /** Attempts the engine made after the first (0 for a job that ran once or never ran). */
  readonly retries: number;
  /** The engine's failure message of a failed job (`'always fails'` for a doomed one), else null. */
  readonly error: string | null;
}

/** A job the fixture created through the engine's own API, as the adapter will report it. */
export interface EnqueuedJob {
  /** The task id the adapter gives the job. */
  readonly taskId: string;
  /** The `task_name` the adapter reports for it. */
  readonly taskName: string;
  readonly queue: string;
  /** The `args` the adapter reports for it (the brain's `tasks.args`). */
  readonly args: readonly unknown[];
}

/**
 * A schedule of the engine's own scheduler that the fixture created before the agent started, and how to read its
 * state in the engine. Required when the adapter has a scheduler.
 */
export interface ScheduleFixture {
  /** The schedule's name as the adapter reports it (the brain's `schedules.name`). */
  readonly name: string;
  readonly taskName: string;
  readonly kind: 'cron' | 'interval';
  readonly expression: string;
  /** Whether the engine has it enabled, keeps it disabled, or no longer has it. */
  state(): Promise<'enabled' | 'disabled' | 'missing'>;
}

/**
 * One engine with the adapter under test, set up by {@link AdapterHarness.setup}: a work queue that local workers
 * consume (running {@link JobKind} processors) and a parked queue that nothing consumes, so its jobs stay pending.
 *
 * @example
 * const fixture: EngineFixture = { adapter, queue: 'work', parkedQueue: 'parked', enqueue, park, submitParameters, job, stop };
 */
export interface EngineFixture {
  /** The adapter under test, not started (the suite's agent starts it). */
  readonly adapter: EngineAdapter;
  /** The queue the fixture's workers consume. */
  readonly queue: string;
  /** A queue no worker consumes. */
  readonly parkedQueue: string;
  /** Adds a job of `kind` to the work queue through the engine's (or the adapter's wrapped) API. */
  enqueue(kind: JobKind, payload: JsonObject): Promise<EnqueuedJob>;
  /** Adds an `ok` job to the parked queue. */
  park(payload: JsonObject): Promise<EnqueuedJob>;
  /** The `submit_task` parameters (`name`, `args`, `kwargs`, `queue`) that make the adapter add a job of `kind` to the work queue. */
  submitParameters(kind: JobKind, payload: JsonObject): JsonObject;
  /** The engine's record of the job behind a task id (read through the engine, not the adapter). */
  job(taskId: string): Promise<EngineJob>;
  /** Whether the engine has the queue paused. Required when the adapter advertises pause_queue or resume_queue. */
  isPaused?(queue: string): Promise<boolean>;
  /** Required when the adapter has a scheduler. */
  readonly schedule?: ScheduleFixture;
  /** Closes workers and connections and removes what the fixture created. */
  stop(): Promise<void>;
}

/**
 * What {@link defineAdapterConformanceSuite} needs to run the suite against one adapter.
 *
 * @example
 * defineAdapterConformanceSuite({
 *   name: 'BullMQ on Redis',
 *   available: postgres.available && redis.available,
 *   startBrain: startConformanceBrain,
 *   setup: () => createBullMQFixture(),
 * });
 */
export interface AdapterHarness {
  /** Names the suite (`<name>: adapter conformance`). */
  readonly name: string;
  /**
   * Whether the engine and the brain's Postgres answer. False skips the suite: compute it with probes that throw under
   * `CI=true` (`probePostgres`, `probeRedis`), so CI fails rather than skips.
   */
  readonly available: boolean;
  /** Starts the real brain the agent connects to. */
  startBrain(): Promise<ConformanceBrain>;
  /** Sets up the engine and the adapter; called once, before the agent starts. */
  setup(): Promise<EngineFixture>;
}
