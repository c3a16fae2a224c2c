/**
 * `@z4j/agent-testkit`: the behavioural conformance suite every engine adapter runs against its real engine and a
 * real brain. Private to this repository (it reads the brain's tables); see README.md.
 *
 * @example
 * import { defineAdapterConformanceSuite } from '@z4j/agent-testkit';
 * defineAdapterConformanceSuite({ name: 'BullMQ on Redis', available, startBrain, setup });
 */
export { defineAdapterConformanceSuite } from './define-adapter-conformance-suite.js';
export type { ConformanceSuiteOptions } from './define-adapter-conformance-suite.js';
export type { ConformanceAgentCredentials, ConformanceBrain } from './conformance-brain.js';
export type {
  AdapterHarness,
  EngineFixture,
  EngineJob,
  EngineJobState,
  EnqueuedJob,
  JobKind,
  ScheduleFixture,
} from './conformance-harness.js';
export { pollUntil } from './poll-until.js';
