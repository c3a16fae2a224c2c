import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent, type AgentLogger } from '@z4j/agent';
import { CAPABILITY_CHECKS, CONTRACT_ACTIONS, expectRefused, type CapabilityCheck } from './capability-checks.js';
import { checkedFixture } from './checked-fixture.js';
import type { ConformanceBrain } from './conformance-brain.js';
import type { AdapterHarness, EngineFixture } from './conformance-harness.js';
import { tapAdapter } from './event-tap.js';
import {
  checkAutomaticRetry,
  checkFailingJob,
  checkHeartbeats,
  checkHello,
  checkMixedBatch,
  checkSucceedingJob,
} from './lifecycle-checks.js';
import { checkOutage } from './outage-check.js';
import { pollUntil } from './poll-until.js';
import {
  checkScheduleDelete,
  checkScheduleReported,
  checkScheduleResync,
  checkScheduleToggle,
  checkScheduleTrigger,
  scheduleUnderTest,
  type ScheduleUnderTest,
} from './schedule-checks.js';
import type { SuiteContext } from './suite-context.js';

/**
 * How big the suite's runs are.
 *
 * @example
 * defineAdapterConformanceSuite(harness, { batchSize: 100 });
 */
export interface ConformanceSuiteOptions {
  /** Jobs in the mixed batch whose final states must equal the engine's. Default 40. */
  readonly batchSize?: number;
  /** Jobs run while the brain is down. Default 30. */
  readonly outageJobs?: number;
}

const HarnessSchema = v.object({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  available: v.boolean(),
  startBrain: v.function(),
  setup: v.function(),
});

const OptionsSchema = v.object({
  batchSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(10_000)), 40),
  outageJobs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(10_000)), 30),
});

/** Setting up or checking against real services on a loaded 2-core machine: generous, and never reached when green. */
const SETUP_TIMEOUT_MS = 120_000;
const CHECK_TIMEOUT_MS = 120_000;

const silent: AgentLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function parsed<T>(what: string, schema: v.GenericSchema<unknown, T>, value: unknown): T {
  const outcome = v.safeParse(schema, value);
  if (outcome.success) return outcome.output;
  const issues = outcome.issues.map((issue) => `${v.getDotPath(issue) ?? '(value)'}: ${issue.message}`).join('; ');
  throw new Error(`defineAdapterConformanceSuite: invalid ${what} (${issues})`);
}

/**
 * Defines (with vitest's `describe`/`it`) the behavioural conformance suite of one engine adapter: the adapter runs
 * in a real `@z4j/agent` against its real engine and a real brain, and the suite checks, in the brain's tables and
 * in the engine's own records, that
 *
 *   - hello advertises the adapter's engine, exactly its capabilities, and its scheduler;
 *   - lifecycle events arrive with the right states: success, an automatic retry, a failure with exception,
 *     traceback and retry count, and a mixed batch whose every final state and retry count equal the engine's;
 *   - heartbeats carry the adapter's workers and queue depths;
 *   - every capability the adapter advertises works when the brain's command API issues it (one test per action of
 *     the contract; an advertised action the suite cannot exercise fails), and actions it does not advertise are
 *     refused;
 *   - its scheduler, if it has one, reports schedules and runs the brain's schedule commands;
 *   - an outage of the brain while jobs keep running loses no event.
 *
 * The tests of one suite share one brain, agent and fixture and run in order; the outage runs last.
 *
 * @throws {Error} at definition time for a malformed harness or options.
 * @example
 * defineAdapterConformanceSuite({
 *   name: 'BullMQ on Redis',
 *   available: postgres.available && redis.available,
 *   startBrain: startConformanceBrain,
 *   setup: createBullMQFixture,
 * });
 */
export function defineAdapterConformanceSuite(harness: AdapterHarness, options: ConformanceSuiteOptions = {}): void {
  parsed('harness', HarnessSchema, harness);
  const { batchSize, outageJobs } = parsed('options', OptionsSchema, options);

  describe.skipIf(!harness.available)(`${harness.name}: adapter conformance`, () => {
    let brain: ConformanceBrain | undefined;
    let fixture: EngineFixture | undefined;
    let agent: Agent | undefined;
    let context: SuiteContext | undefined;
    const ready = (): SuiteContext => {
      if (!context) throw new Error('the conformance suite did not get set up (see the error in beforeAll)');
      return context;
    };

    beforeAll(async () => {
      brain = await harness.startBrain();
      const credentials = await brain.mintAgent('conformance');
      const apiToken = await brain.mintApiToken('conformance');
      fixture = checkedFixture(await harness.setup());
      const tap = tapAdapter(fixture.adapter);
      agent = createAgent({
        brainUrl: brain.url,
        token: credentials.token,
        hmacSecret: credentials.hmac_secret,
        agentName: 'conformance-host',
        adapters: [tap.adapter],
        logger: silent,
        bufferSize: 20_000,
        // Reconnect soon after the outage check brings the brain back (the default backoff grows to 60 s).
        reconnectBackoffMax: 1,
      });
      await agent.start();
      const running = agent;
      expect(await pollUntil(async () => running.stats().connected, Boolean)).toBe(true);
      context = { brain, fixture, engine: fixture.adapter.engine, agent, credentials, apiToken, events: tap.events };
    }, SETUP_TIMEOUT_MS);

    afterAll(async () => {
      await agent?.stop({ graceMs: 1_000 });
      await fixture?.stop();
      // The outage check replaces the brain: stop the one running now.
      await (context?.brain ?? brain)?.stop();
    }, SETUP_TIMEOUT_MS);

    it('advertises its engine, exactly its capabilities (all of them actions of the contract) and its scheduler', async () => {
      const { adapter } = ready().fixture;
      expect([...adapter.capabilities].filter((action) => !CONTRACT_ACTIONS.includes(action))).toEqual([]);
      await checkHello(ready());
    });

    describe('lifecycle events', () => {
      it(
        'a job that succeeds: received, started, succeeded, with name, queue, args and result',
        () => checkSucceedingJob(ready()),
        CHECK_TIMEOUT_MS,
      );
      it(
        'a job the engine retries by itself: retried, then success, with the engine’s retry count',
        () => checkAutomaticRetry(ready()),
        CHECK_TIMEOUT_MS,
      );
      it(
        'a job that fails every attempt: failure with exception, traceback and the engine’s retry count',
        () => checkFailingJob(ready()),
        CHECK_TIMEOUT_MS,
      );
      it(
        `${batchSize} mixed jobs end in the states and retry counts the engine recorded`,
        () => checkMixedBatch(ready(), batchSize),
        CHECK_TIMEOUT_MS,
      );
      it('heartbeats carry the adapter’s workers and queue depths', () => checkHeartbeats(ready()), CHECK_TIMEOUT_MS);
    });

    describe('capabilities, through the brain’s command API', () => {
      for (const action of CONTRACT_ACTIONS) {
        it(
          action,
          async ({ skip }) => {
            const context = ready();
            const check: CapabilityCheck = CAPABILITY_CHECKS[action];
            if (context.fixture.adapter.capabilities.has(action)) {
              if (!check.exercise) {
                throw new Error(
                  `the adapter advertises ${action}, which the conformance suite cannot exercise: add a check for it to ` +
                    'packages/agent-testkit/src/capability-checks.ts, or stop advertising it',
                );
              }
              await check.exercise(context);
            } else if (check.refusal) {
              await expectRefused(context, action, check);
            } else {
              skip(`not advertised, and no REST endpoint issues ${action}`);
            }
          },
          CHECK_TIMEOUT_MS,
        );
      }
    });

    describe('scheduler', () => {
      const scheduled =
        (check: (context: SuiteContext, under: ScheduleUnderTest) => Promise<void>) =>
        async ({ skip }: { skip: (note?: string) => void }) => {
          const under = scheduleUnderTest(ready());
          if (!under) return skip('the adapter has no scheduler');
          await check(ready(), under);
        };
      it('reports the engine’s schedules to the brain', scheduled(checkScheduleReported), CHECK_TIMEOUT_MS);
      it('fires a schedule now through POST schedules/{id}/trigger', scheduled(checkScheduleTrigger), CHECK_TIMEOUT_MS);
      it(
        'disables and enables a schedule through the API, or refuses both as unsupported',
        scheduled(checkScheduleToggle),
        CHECK_TIMEOUT_MS,
      );
      it('reports every schedule again on schedule.resync', scheduled(checkScheduleResync), CHECK_TIMEOUT_MS);
      it('deletes a schedule on schedule.delete', scheduled(checkScheduleDelete), CHECK_TIMEOUT_MS);
    });

    it(
      `an outage of the brain while ${outageJobs} jobs run loses no event, and every task ends as in the engine`,
      () => checkOutage(ready(), outageJobs),
      CHECK_TIMEOUT_MS,
    );
  });
}
