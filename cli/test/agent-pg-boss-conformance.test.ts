import type PgBoss from 'pg-boss';
import { createPgBossAdapter, parseTaskId, taskIdOf } from '@z4j/agent-pg-boss';
import { defineAdapterConformanceSuite, type EngineFixture, type EngineJobState, type JobKind } from '@z4j/agent-testkit';
import type { JsonObject } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import { startTestBoss } from '../../packages/agent-pg-boss/src/test-support/test-pg-boss.js';
import { startConformanceBrain } from './test-brain.js';

const postgres = await probePostgres();
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A pg-boss job's name is its queue, so the conformance kind travels in the data, beside the payload. */
interface Work {
  readonly kind: JobKind;
  readonly payload: JsonObject;
}

/**
 * The conformance job kinds as a pg-boss handler (registered through the adapter, which reports its jobs). pg-boss
 * raises `retryCount` as it fetches a retry, so 0 is the first attempt; `fail-once` is sent without retries and
 * runs again only when retried by hand. `long` rejects with the signal's reason when cancelled.
 */
async function handler([job]: PgBoss.JobWithMetadata<Work>[], { signal }: { signal: AbortSignal }): Promise<unknown> {
  if (!job) return null;
  switch (job.data.kind) {
    case 'flaky':
    case 'fail-once':
      if (job.retryCount === 0) throw new Error('first attempt fails');
      return job.data.payload;
    case 'doomed':
      throw new RangeError('always fails');
    case 'long':
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    default:
      return job.data.payload;
  }
}

/** pg-boss's job states in the suite's words (a job it deleted is not found at all). */
const STATES: Readonly<Record<string, EngineJobState>> = {
  created: 'pending',
  retry: 'pending',
  active: 'running',
  completed: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** pg-boss stores a failure as the serialized error. */
function failureMessage(output: unknown): string | null {
  return typeof output === 'object' && output !== null && typeof (output as { message?: unknown }).message === 'string'
    ? (output as { message: string }).message
    : null;
}

/** pg-boss polls at most every 0.5 s per worker, so the work queue gets several one-job workers. */
const WORKERS = 10;

async function createPgBossFixture(): Promise<EngineFixture> {
  // A database of its own: the brain's outage never touches the engine.
  const test = await startTestBoss({ max: 30 });
  const { boss } = test;
  await boss.createQueue('work', { name: 'work' });
  await boss.createQueue('parked', { name: 'parked' });
  await boss.schedule('parked', '0 3 * * *', { kind: 'ok', payload: { n: 'nightly' } } satisfies Work);
  const adapter = createPgBossAdapter({ boss, logger: silent, cancelWaitMs: 5_000 });
  for (let n = 0; n < WORKERS; n += 1) await adapter.work<Work>('work', handler);
  const send = async (queue: string, data: Work, options: PgBoss.SendOptions) => {
    const id = await adapter.send(queue, data, options);
    if (id === null) throw new Error(`pg-boss created no job in ${queue}`);
    return { taskId: taskIdOf(queue, id), taskName: queue, queue, args: [data] };
  };
  return {
    adapter,
    queue: 'work',
    parkedQueue: 'parked',
    // One retry for the kinds pg-boss itself retries; none for the others.
    enqueue: (kind, payload) => send('work', { kind, payload }, { retryLimit: kind === 'flaky' || kind === 'doomed' ? 1 : 0 }),
    park: (payload) => send('parked', { kind: 'ok', payload }, {}),
    submitParameters: (kind, payload) => ({ name: 'work', args: [{ kind, payload }], kwargs: {}, queue: 'work' }),
    async job(taskId) {
      const { queue, jobId } = parseTaskId(taskId);
      const job = await boss.getJobById(queue, jobId, { includeArchive: true });
      if (!job) return { state: 'gone', raw: 'missing', retries: 0, error: null };
      return {
        state: STATES[job.state] ?? 'gone',
        raw: job.state,
        retries: job.retryCount,
        error: job.state === 'failed' ? failureMessage(job.output) : null,
      };
    },
    schedule: {
      name: 'parked',
      taskName: 'parked',
      kind: 'cron',
      expression: '0 3 * * *',
      // pg-boss schedules have no disabled state: a schedule exists or it does not.
      state: async () => ((await boss.getSchedules()).some((schedule) => schedule.name === 'parked') ? 'enabled' : 'missing'),
    },
    stop: () => test.stop(),
  };
}

defineAdapterConformanceSuite({
  name: '@z4j/agent-pg-boss on real Postgres',
  available: postgres.available,
  startBrain: startConformanceBrain,
  setup: createPgBossFixture,
});
