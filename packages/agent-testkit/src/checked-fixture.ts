import * as v from 'valibot';
import type { EngineFixture, EngineJob, EngineJobState, EnqueuedJob } from './conformance-harness.js';

/**
 * The fixture is where engine-specific code enters the suite, so what it hands over is checked once, here: names
 * and states the suite would otherwise misread (an empty task id, a state outside {@link EngineJobState}) fail with
 * what the fixture returned, rather than as a confusing assertion somewhere later.
 */

const Name = v.pipe(v.string(), v.minLength(1), v.maxLength(200));

const EnqueuedJobSchema = v.object({
  taskId: Name,
  taskName: Name,
  queue: Name,
  args: v.array(v.unknown()),
});

const ENGINE_JOB_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'gone'] as const satisfies readonly EngineJobState[];

const EngineJobSchema = v.object({
  state: v.picklist(ENGINE_JOB_STATES),
  raw: v.string(),
  retries: v.pipe(v.number(), v.integer(), v.minValue(0)),
  error: v.nullable(v.string()),
});

const FixtureShape = v.pipe(
  v.object({ queue: Name, parkedQueue: Name }),
  v.check((fixture) => fixture.queue !== fixture.parkedQueue, 'queue and parkedQueue must be different queues'),
);

const ScheduleShape = v.object({
  name: Name,
  taskName: Name,
  kind: v.picklist(['cron', 'interval']),
  expression: Name,
});

function checked<T>(what: string, schema: v.GenericSchema<unknown, T>, value: unknown): T {
  const outcome = v.safeParse(schema, value);
  if (outcome.success) return outcome.output;
  const issues = outcome.issues.map((issue) => `${v.getDotPath(issue) ?? '(value)'}: ${issue.message}`).join('; ');
  throw new Error(`the fixture's ${what} is not what the conformance suite expects (${issues}): ${JSON.stringify(value)}`);
}

/**
 * The fixture with every value it returns validated. Functions are called as the fixture's own methods.
 *
 * @throws {Error} at once for a malformed fixture; later, from the call that returned a malformed value.
 * @example
 * const fixture = checkedFixture(await harness.setup());
 */
export function checkedFixture(fixture: EngineFixture): EngineFixture {
  checked('queues', FixtureShape, { queue: fixture.queue, parkedQueue: fixture.parkedQueue });
  const schedule = fixture.schedule;
  if (schedule) checked('schedule', ScheduleShape, { ...schedule });
  const job = async (taskId: string): Promise<EngineJob> => checked(`job(${taskId})`, EngineJobSchema, await fixture.job(taskId));
  const enqueued = (what: string, job: EnqueuedJob): EnqueuedJob => {
    checked(what, EnqueuedJobSchema, job);
    return job;
  };
  return {
    adapter: fixture.adapter,
    queue: fixture.queue,
    parkedQueue: fixture.parkedQueue,
    enqueue: async (kind, payload) => enqueued(`enqueue(${kind})`, await fixture.enqueue(kind, payload)),
    park: async (payload) => enqueued('park()', await fixture.park(payload)),
    submitParameters: (kind, payload) => fixture.submitParameters(kind, payload),
    job,
    isPaused: fixture.isPaused ? (queue) => fixture.isPaused!(queue) : undefined,
    schedule,
    stop: () => fixture.stop(),
  };
}
