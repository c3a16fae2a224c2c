import { describe, expect, it } from 'vitest';
import { mapSchedule } from './schedule-mapping.js';

describe('mapSchedule', () => {
  it('maps a Schedule dict, defaulting engine and scheduler from the event engine', () => {
    const result = mapSchedule(
      {
        id: '9b2f3c1e-7d4a-4f6b-8c2d-1a2b3c4d5e6f',
        name: 'nightly',
        task_name: 'app.cleanup',
        kind: 'cron',
        expression: '0 3 * * *',
        timezone: 'Europe/Paris',
        queue: 'low',
        args: [1],
        kwargs: { full: true },
        enabled: false,
        catch_up: 'fire_one_missed',
        priority: 'high',
        last_run_at: '2026-11-22T03:00:00.000001+00:00',
        total_runs: 12,
        source: 'declarative:django',
        source_hash: 'abc',
      },
      { engine: 'celery-beat' },
    );
    expect(result).toEqual({
      ok: true,
      row: {
        engine: 'celery-beat',
        scheduler: 'celery-beat',
        name: 'nightly',
        taskName: 'app.cleanup',
        kind: 'cron',
        expression: '0 3 * * *',
        timezone: 'Europe/Paris',
        queue: 'low',
        priority: 'high',
        args: '[1]',
        kwargs: '{"full":true}',
        isEnabled: false,
        catchUp: 'fire_one_missed',
        externalId: '9b2f3c1e-7d4a-4f6b-8c2d-1a2b3c4d5e6f',
        lastRunAt: '2026-11-22T03:00:00.000001Z',
        nextRunAt: null,
        totalRuns: 12,
        source: 'declarative:django',
        sourceHash: 'abc',
      },
    });
  });

  it('is lenient about optional fields and strict about what would fire the wrong thing', () => {
    const minimal = mapSchedule(
      { name: 'every-30s', task_name: 'app.ping', kind: 'interval', expression: 30, args: 'x', kwargs: [1], is_enabled: 'yes' },
      { engine: 'rq', scheduler: 'rq-scheduler' },
    );
    expect(minimal).toMatchObject({
      ok: true,
      row: {
        scheduler: 'rq-scheduler',
        expression: '30',
        args: '[]',
        kwargs: '{}',
        isEnabled: true,
        timezone: 'UTC',
        priority: 'normal',
        catchUp: 'skip',
        source: undefined,
        sourceHash: undefined,
      },
    });
    expect(mapSchedule({ name: 'x', task_name: 't', kind: 'weekly', expression: '1' }, { engine: 'e' })).toMatchObject({
      ok: false,
      name: 'x',
    });
    expect(mapSchedule({ name: 'x', kind: 'cron', expression: '* * * * *' }, { engine: 'e' })).toMatchObject({
      ok: false,
      error: 'missing task_name',
    });
    expect(mapSchedule({ name: 'x'.repeat(300), task_name: 't', kind: 'cron', expression: '*' }, { engine: 'e' })).toMatchObject({
      ok: true,
      row: { name: 'x'.repeat(200) },
    });
    expect(mapSchedule('nope', { engine: 'e' })).toMatchObject({ ok: false });
  });
});
