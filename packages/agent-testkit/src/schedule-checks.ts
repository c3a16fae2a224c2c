import { expect } from 'vitest';
import type { SchedulerAdapter } from '@z4j/agent';
import { controlSchedule, issueFromBrain, type CommandOutcome } from './brain-commands.js';
import { engineEventCount, scheduleRow } from './brain-reads.js';
import type { ScheduleFixture } from './conformance-harness.js';
import { pollUntil } from './poll-until.js';
import { engineJobIn, issuerOf, scopeOf, taskIn, type SuiteContext } from './suite-context.js';

/**
 * The scheduler half of the suite, for adapters with a {@link SchedulerAdapter}: its schedules reach the brain, and
 * the brain's schedule commands (trigger, disable, enable, resync, delete) reach the engine's scheduler. The
 * contract does not list which schedule actions a scheduler supports, so each must either work (the engine's
 * schedule changes as asked) or be refused as `unsupported: …` with the engine's schedule left as it was.
 */

/** The adapter's scheduler and the schedule the fixture created in it. */
export interface ScheduleUnderTest {
  readonly scheduler: SchedulerAdapter;
  readonly schedule: ScheduleFixture;
}

/** The scheduler and the fixture's schedule; a scheduler without one fails (it would go unchecked). */
export function scheduleUnderTest(context: SuiteContext): ScheduleUnderTest | undefined {
  const scheduler = context.fixture.adapter.scheduler;
  if (!scheduler) return undefined;
  const schedule = context.fixture.schedule;
  if (!schedule)
    throw new Error(`the adapter has the scheduler "${scheduler.scheduler}": the fixture must create a schedule (fixture.schedule)`);
  return { scheduler, schedule };
}

async function brainSchedule(context: SuiteContext, schedule: ScheduleFixture) {
  const row = await pollUntil(
    () => scheduleRow(scopeOf(context), schedule.name),
    (found) => found !== undefined,
  );
  expect(row, `the brain's schedule ${schedule.name}`).toBeDefined();
  return row!;
}

/** The schedule the fixture created reached the brain from the adapter's snapshot, as the engine has it. */
export async function checkScheduleReported(context: SuiteContext, { scheduler, schedule }: ScheduleUnderTest) {
  expect(await schedule.state()).toBe('enabled');
  expect(await brainSchedule(context, schedule)).toMatchObject({
    scheduler: scheduler.scheduler,
    task_name: schedule.taskName,
    kind: schedule.kind,
    expression: schedule.expression,
    is_enabled: true,
  });
}

/** `POST schedules/{id}/trigger`: the engine gets a job of the schedule's task now, and the brain sees it. */
export async function checkScheduleTrigger(context: SuiteContext, { schedule }: ScheduleUnderTest) {
  const row = await brainSchedule(context, schedule);
  const outcome = await controlSchedule(issuerOf(context), row.id, 'trigger');
  expect(outcome).toMatchObject({ status: 'completed', error: null });
  const taskId = outcome.result?.task_id;
  expect(taskId, JSON.stringify(outcome.result)).toEqual(expect.any(String));
  expect((await engineJobIn(context, taskId as string, ['pending', 'running', 'succeeded'])).state).not.toBe('gone');
  expect(await taskIn(context, taskId as string, ['received', 'started', 'success'])).toMatchObject({ name: schedule.taskName });
  expect(await schedule.state()).toBe('enabled');
}

/** Either the command worked and the engine's schedule is `changed`, or it was refused and the schedule is `kept`. */
async function expectAppliedOrUnsupported(
  outcome: CommandOutcome,
  schedule: ScheduleFixture,
  changed: 'enabled' | 'disabled',
  kept: 'enabled' | 'disabled',
): Promise<void> {
  if (outcome.status === 'completed') {
    expect(await schedule.state()).toBe(changed);
    return;
  }
  // A schedule action the scheduler cannot do must be refused as unsupported, not fail some other way.
  expect(outcome.status).toBe('failed');
  expect(outcome.error).toMatch(/^unsupported: /);
  expect(await schedule.state()).toBe(kept);
}

/** `POST schedules/{id}/disable`, then `/enable`: the engine's schedule follows, or the scheduler refuses both ways. */
export async function checkScheduleToggle(context: SuiteContext, { schedule }: ScheduleUnderTest) {
  const row = await brainSchedule(context, schedule);
  const disabled = await controlSchedule(issuerOf(context), row.id, 'disable');
  await expectAppliedOrUnsupported(disabled, schedule, 'disabled', 'enabled');
  // The scheduler reports again after a command; the brain's row then says what the engine has.
  if (disabled.status === 'completed') expect(await brainEnabled(context, schedule, false)).toBe(false);
  const enabled = await controlSchedule(issuerOf(context), row.id, 'enable');
  await expectAppliedOrUnsupported(enabled, schedule, 'enabled', 'enabled');
  expect(await brainEnabled(context, schedule, true)).toBe(true);
}

/** The brain's `is_enabled` of the schedule once it is `expected` (or the last one read). */
async function brainEnabled(context: SuiteContext, schedule: ScheduleFixture, expected: boolean): Promise<boolean | undefined> {
  const row = await pollUntil(
    () => scheduleRow(scopeOf(context), schedule.name),
    (found) => found?.is_enabled === expected,
  );
  return row?.is_enabled;
}

/** `schedule.resync` (issued by the brain to every agent): each scheduler reports a fresh snapshot. */
export async function checkScheduleResync(context: SuiteContext, { scheduler }: ScheduleUnderTest) {
  const before = await engineEventCount(scopeOf(context), 'schedule.snapshot');
  const outcome = await issueFromBrain(issuerOf(context), 'schedule.resync', { type: 'agent', id: context.credentials.agent_id }, {});
  expect(outcome).toMatchObject({ status: 'completed', result: { schedulers_drained: 1 } });
  const after = await pollUntil(
    () => engineEventCount(scopeOf(context), 'schedule.snapshot'),
    (count) => count > before,
  );
  expect(after, `schedule.snapshot events of ${scheduler.scheduler} after the resync`).toBeGreaterThan(before);
}

/** `schedule.delete` (no REST endpoint yet; issued as the brain does): gone from the engine, then from the brain. */
export async function checkScheduleDelete(context: SuiteContext, { scheduler, schedule }: ScheduleUnderTest) {
  const row = await brainSchedule(context, schedule);
  const outcome = await issueFromBrain(
    issuerOf(context),
    'schedule.delete',
    { type: 'schedule', id: row.id },
    { schedule_id: schedule.name, schedule_name: schedule.name, scheduler: scheduler.scheduler },
  );
  expect(outcome).toMatchObject({ status: 'completed', result: { deleted: true } });
  expect(await schedule.state()).toBe('missing');
  // The snapshot after the command no longer lists it, and a snapshot is the scheduler's whole inventory.
  expect(
    await pollUntil(
      () => scheduleRow(scopeOf(context), schedule.name),
      (found) => found === undefined,
    ),
  ).toBeUndefined();
}
