import type { Agent } from '@z4j/agent';
import type { CommandIssuer } from './brain-commands.js';
import { taskRow, type BrainScope, type TaskRow, type TaskState } from './brain-reads.js';
import type { ConformanceAgentCredentials, ConformanceBrain } from './conformance-brain.js';
import type { EngineFixture, EngineJob, EngineJobState, EnqueuedJob } from './conformance-harness.js';
import type { TappedEvent } from './event-tap.js';
import { pollUntil } from './poll-until.js';

/**
 * What every check of the suite works with, set up once per suite: the brain (replaced when the outage check
 * restarts it), the fixture (validated), the agent running the tapped adapter, and what the agent took in.
 */
export interface SuiteContext {
  brain: ConformanceBrain;
  readonly fixture: EngineFixture;
  readonly engine: string;
  readonly agent: Agent;
  readonly credentials: ConformanceAgentCredentials;
  readonly apiToken: string;
  readonly events: readonly TappedEvent[];
}

/** Reads scoped to the suite's project and engine, on the brain running now. */
export function scopeOf(context: SuiteContext): BrainScope {
  return { db: context.brain.db, projectId: context.credentials.project_id, engine: context.engine };
}

/** The suite's agent as the target of commands, on the brain running now. */
export function issuerOf(context: SuiteContext): CommandIssuer {
  return {
    brain: context.brain,
    apiToken: context.apiToken,
    agentId: context.credentials.agent_id,
    projectId: context.credentials.project_id,
  };
}

/**
 * The engine's record of the job once it is in one of `states` (or the last one read, for the caller's assertion to
 * show).
 *
 * @example
 * const job = await engineJobIn(context, taskId, ['succeeded']);
 * expect(job.state).toBe('succeeded');
 */
export function engineJobIn(context: SuiteContext, taskId: string, states: readonly EngineJobState[]): Promise<EngineJob> {
  return pollUntil(
    () => context.fixture.job(taskId),
    (job) => states.includes(job.state),
  );
}

/** The brain's task row once it is in one of `states` (or the last one read). */
export function taskIn(context: SuiteContext, taskId: string, states: readonly TaskState[]): Promise<TaskRow | undefined> {
  return pollUntil(
    () => taskRow(scopeOf(context), taskId),
    (row) => row !== undefined && states.includes(row.state),
  );
}

/** The brain's state for a task whose job the engine finished (§2: success and failure are final). */
export function finishedTaskState(job: EngineJob): TaskState | undefined {
  if (job.state === 'succeeded') return 'success';
  if (job.state === 'failed') return 'failure';
  return undefined;
}

/** What `reconcile_task` must answer as `engine_state` for a job in each engine state (§3.1). */
export const RECONCILED_ENGINE_STATE: Readonly<Record<EngineJobState, string>> = {
  pending: 'pending',
  running: 'started',
  succeeded: 'success',
  failed: 'failure',
  cancelled: 'unknown',
  gone: 'unknown',
};

/** States after which an engine no longer runs a job: where a cancelled or purged job must end. */
export const STOPPED_STATES: readonly EngineJobState[] = ['failed', 'cancelled', 'gone'];

/** Adds `count` parked jobs and waits until the brain has a task row for each, so their later states can be seen. */
export async function parkJobs(context: SuiteContext, label: string, count: number): Promise<EnqueuedJob[]> {
  const jobs: EnqueuedJob[] = [];
  for (let n = 0; n < count; n += 1) jobs.push(await context.fixture.park({ n: `${label}-${n}` }));
  for (const job of jobs) await taskIn(context, job.taskId, ['received', 'pending']);
  return jobs;
}
