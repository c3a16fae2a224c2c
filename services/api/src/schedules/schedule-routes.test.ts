import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { expect, it } from 'vitest';
import type { Database } from '@z4j/db';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';

const postgres = await probePostgres();

async function insertAgent(
  db: Kysely<Database>,
  projectId: string,
  options: { state?: 'online' | 'offline'; schedulers?: string[]; lastSeenAt?: Date; revoked?: boolean } = {},
): Promise<string> {
  const row = await db
    .insertInto('agents')
    .values({
      project_id: projectId,
      name: `agent-${randomUUID().slice(0, 8)}`,
      token_hash: randomUUID(),
      state: options.state ?? 'online',
      engine_adapters: ['celery'],
      scheduler_adapters: options.schedulers ?? [],
      last_seen_at: options.lastSeenAt ?? new Date(),
      revoked_at: options.revoked ? new Date() : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

async function insertSchedule(
  db: Kysely<Database>,
  projectId: string,
  schedule: { name: string; scheduler?: string; externalId?: string | null; isEnabled?: boolean },
): Promise<string> {
  const row = await db
    .insertInto('schedules')
    .values({
      project_id: projectId,
      engine: 'celery',
      scheduler: schedule.scheduler ?? 'celery-beat',
      name: schedule.name,
      task_name: 'app.tasks.nightly_report',
      kind: 'cron',
      expression: '0 3 * * *',
      external_id: schedule.externalId ?? null,
      is_enabled: schedule.isEnabled ?? true,
      total_runs: 12,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

interface World {
  readonly harness: ApiHarness;
  readonly projectId: string;
  readonly scheduleId: string;
  readonly operator: CookieJar;
  readonly viewer: CookieJar;
}

async function world(db: Kysely<Database>): Promise<World> {
  const harness = createApiHarness(db);
  await harness.reset();
  const operator = await harness.createUser({ memberships: { alpha: 'operator' } });
  const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
  const projectId = await harness.createProject('alpha');
  const scheduleId = await insertSchedule(db, projectId, { name: 'nightly-report', externalId: '42' });
  return { harness, projectId, scheduleId, operator: await harness.sessionJar(operator), viewer: await harness.sessionJar(viewer) };
}

function control(w: World, verb: 'enable' | 'disable' | 'trigger', options: { jar?: CookieJar; scheduleId?: string } = {}) {
  return w.harness.request('POST', `/api/v1/projects/alpha/schedules/${options.scheduleId ?? w.scheduleId}/${verb}`, {
    jar: options.jar ?? w.operator,
    csrf: true,
  });
}

async function isEnabled(w: World): Promise<boolean> {
  return (await w.harness.db.selectFrom('schedules').select('is_enabled').where('id', '=', w.scheduleId).executeTakeFirstOrThrow())
    .is_enabled;
}

describeEachDatabase('schedule routes', postgres, ({ skip, test }) => {
  it.skipIf(skip)("without an online agent running the schedule's scheduler: 404 no_agent, and nothing changes", async () => {
    const w = await world(test().database.db);
    const { harness, projectId } = w;
    const none = await control(w, 'disable');
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ error: 'no_agent', details: { reason: 'no_online_agent', scheduler: 'celery-beat' } });
    // Offline or revoked agents with the scheduler do not count; an online one without it is a different reason.
    await insertAgent(harness.db, projectId, { state: 'offline', schedulers: ['celery-beat'] });
    await insertAgent(harness.db, projectId, { revoked: true, schedulers: ['celery-beat'] });
    expect((await control(w, 'trigger')).body.details.reason).toBe('no_online_agent');
    await insertAgent(harness.db, projectId, { schedulers: ['rq-scheduler'] });
    const wrong = await control(w, 'enable');
    expect([wrong.status, wrong.body.error, wrong.body.details.reason]).toEqual([404, 'no_agent', 'scheduler_not_installed']);
    expect(await isEnabled(w)).toBe(true);
    expect(await harness.db.selectFrom('commands').select('id').execute()).toEqual([]);
  });

  it.skipIf(skip)(
    'disable / enable set is_enabled and send schedule.disable / schedule.enable to the freshest agent running the scheduler',
    async () => {
      const w = await world(test().database.db);
      const { harness, projectId, scheduleId } = w;
      await insertAgent(harness.db, projectId, { schedulers: ['celery-beat'], lastSeenAt: new Date(Date.now() - 60_000) });
      const freshest = await insertAgent(harness.db, projectId, { schedulers: ['rq-scheduler', 'celery-beat'] });
      await insertAgent(harness.db, projectId, { schedulers: ['rq-scheduler'] });

      const disabled = await control(w, 'disable');
      expect(disabled.status).toBe(202);
      expect(disabled.body.schedule).toMatchObject({ id: scheduleId, name: 'nightly-report', is_enabled: false, total_runs: 12 });
      const payload = { schedule_id: 'nightly-report', schedule_name: 'nightly-report', external_id: '42', scheduler: 'celery-beat' };
      expect(disabled.body.command).toMatchObject({
        action: 'schedule.disable',
        target_type: 'schedule',
        target_id: scheduleId,
        agent_id: freshest,
        status: 'pending',
        payload,
      });
      expect(await isEnabled(w)).toBe(false);
      expect(harness.published).toContainEqual({
        channel: 'z4j_commands',
        payload: JSON.stringify({ c: disabled.body.command.id, a: freshest }),
      });
      const audit = await harness.db
        .selectFrom('audit_log')
        .select(['target_type', 'target_id', 'metadata'])
        .where('action', '=', 'command.issue.schedule.disable')
        .execute();
      expect(audit.filter((row) => (row.metadata as { command_id: string }).command_id === disabled.body.command.id)).toEqual([
        {
          target_type: 'schedule',
          target_id: scheduleId,
          metadata: { command_id: disabled.body.command.id, agent_id: freshest, idempotency_key: null },
        },
      ]);

      const enabled = await control(w, 'enable');
      expect(enabled.status).toBe(202);
      expect(enabled.body.schedule.is_enabled).toBe(true);
      expect(enabled.body.command).toMatchObject({ action: 'schedule.enable', payload });
      expect(await isEnabled(w)).toBe(true);
      const stored = await harness.db
        .selectFrom('commands')
        .select(['action', 'payload', 'agent_id'])
        .orderBy('issued_at')
        .orderBy('action')
        .execute();
      expect(stored).toEqual([
        { action: 'schedule.disable', payload, agent_id: freshest },
        { action: 'schedule.enable', payload, agent_id: freshest },
      ]);
    },
  );

  it.skipIf(skip)('trigger sends schedule.trigger_now without touching the schedule, at most 6 times per schedule per minute', async () => {
    const w = await world(test().database.db);
    const { harness, projectId, scheduleId } = w;
    await harness.db.updateTable('schedules').set({ is_enabled: false }).where('id', '=', scheduleId).execute();
    const agentId = await insertAgent(harness.db, projectId, { schedulers: ['celery-beat'] });
    const triggered = await control(w, 'trigger');
    expect(triggered.status).toBe(202);
    expect(triggered.body.command).toMatchObject({
      action: 'schedule.trigger_now',
      target_type: 'schedule',
      target_id: scheduleId,
      agent_id: agentId,
      payload: { schedule_id: 'nightly-report', schedule_name: 'nightly-report', external_id: '42', scheduler: 'celery-beat' },
    });
    expect(await isEnabled(w)).toBe(false);
    for (let index = 1; index < 6; index += 1) expect((await control(w, 'trigger')).status).toBe(202);
    const throttled = await control(w, 'trigger');
    expect([throttled.status, throttled.body.error]).toEqual([429, 'rate_limited']);
    // Per schedule: another one can still be triggered; the window slides.
    const other = await insertSchedule(harness.db, projectId, { name: 'hourly' });
    expect((await control(w, 'trigger', { scheduleId: other })).status).toBe(202);
    harness.clock.advance(61_000);
    expect((await control(w, 'trigger')).status).toBe(202);
  });

  it.skipIf(skip)('viewers read schedules (by name, cursor) but cannot control them; unknown ids are 404', async () => {
    const w = await world(test().database.db);
    const { harness, projectId, scheduleId } = w;
    await insertAgent(harness.db, projectId, { schedulers: ['celery-beat'] });
    for (const verb of ['enable', 'disable', 'trigger'] as const) expect((await control(w, verb, { jar: w.viewer })).status).toBe(403);
    for (const name of ['b-weekly', 'a-daily', 'c-monthly', 'a-daily-2'])
      await insertSchedule(harness.db, projectId, { name, scheduler: 'z4j-scheduler' });

    const names: string[] = (await harness.walkPages('/api/v1/projects/alpha/schedules', { jar: w.viewer, limit: 2 })).items.map(
      (item: { name: string }) => item.name,
    );
    expect(names).toEqual(['a-daily', 'a-daily-2', 'b-weekly', 'c-monthly', 'nightly-report']);
    const filtered = await harness.request('GET', '/api/v1/projects/alpha/schedules?scheduler=celery-beat', { jar: w.viewer });
    expect(filtered.body.items.map((item: { name: string }) => item.name)).toEqual(['nightly-report']);

    const one = await harness.request('GET', `/api/v1/projects/alpha/schedules/${scheduleId}`, { jar: w.viewer });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: scheduleId,
      name: 'nightly-report',
      engine: 'celery',
      scheduler: 'celery-beat',
      kind: 'cron',
      expression: '0 3 * * *',
      args: [],
      kwargs: {},
      is_enabled: true,
      total_runs: 12,
      external_id: '42',
      catch_up: 'skip',
      source: 'dashboard',
    });
    const betaId = await harness.createProject('beta');
    const foreign = await insertSchedule(harness.db, betaId, { name: 'theirs' });
    for (const id of [randomUUID(), 'nope', foreign]) {
      const missing = await harness.request('GET', `/api/v1/projects/alpha/schedules/${id}`, { jar: w.viewer });
      expect([missing.status, missing.body.message]).toEqual([404, 'schedule not found']);
      expect((await control(w, 'enable', { scheduleId: id })).status).toBe(404);
    }
  });
});
