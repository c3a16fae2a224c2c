import { expect } from 'vitest';
import { distinctEventCount } from './brain-reads.js';
import type { EnqueuedJob } from './conformance-harness.js';
import { enqueueMixed, expectBrainMatchesEngine } from './lifecycle-checks.js';
import { pollUntil } from './poll-until.js';
import { scopeOf, type SuiteContext } from './suite-context.js';

/**
 * The brain goes away while the engine keeps working, and comes back: the agent must have held every event the
 * adapter emitted meanwhile and deliver each once. No sleeping: the outage lasts exactly as long as the engine takes
 * to finish the jobs added after the agent saw the brain go.
 *
 * "Lost no event" is counted by the brain's own identity of an event: it stores a task event once per task, kind
 * and time (re-sends of an unacked batch collapse onto one row), so the distinct event ids it holds for the
 * outage's tasks must equal the distinct (task, kind, time) the adapter emitted for them.
 */
export async function checkOutage(context: SuiteContext, size: number): Promise<void> {
  const { agent } = context;
  const down = await context.brain.takeDown();
  let jobs: EnqueuedJob[];
  try {
    expect(
      await pollUntil(
        async () => agent.stats().connected,
        (connected) => !connected,
      ),
    ).toBe(false);
    jobs = await enqueueMixed(context, 'outage', size);
    for (const job of jobs) {
      await pollUntil(
        () => context.fixture.job(job.taskId),
        (engineJob) => engineJob.state === 'succeeded' || engineJob.state === 'failed',
      );
    }
    // Every job ran while the brain was down, so their events wait in the agent's buffer.
    const during = agent.stats();
    expect(during.connected).toBe(false);
    expect(during.bufferDepth).toBeGreaterThan(0);
  } finally {
    context.brain = await down.restart();
  }
  const after = await pollUntil(
    async () => agent.stats(),
    (stats) => stats.connected && stats.bufferDepth === 0,
  );
  expect(after).toMatchObject({ connected: true, bufferDepth: 0, droppedEvents: 0 });
  expect(after.sessions).toBeGreaterThanOrEqual(2);

  const taskIds = new Set(jobs.map((job) => job.taskId));
  const emitted = context.events.filter((event) => taskIds.has(event.taskId));
  expect(emitted.filter((event) => !event.accepted)).toEqual([]);
  const identities = new Set(emitted.map((event) => `${event.taskId}\n${event.kind}\n${event.occurredAt.getTime()}`));
  const stored = await pollUntil(
    () => distinctEventCount(scopeOf(context), [...taskIds]),
    (count) => count >= identities.size,
  );
  expect(stored).toBe(identities.size);
  await expectBrainMatchesEngine(context, jobs);
}
