import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { COMMAND_TIMEOUT_ERROR, sweepCommandTimeouts } from './command-timeouts.js';

const postgres = await probePostgres();

describeEachDatabase('command timeout sweep', postgres, ({ skip, test }) => {
  it.skipIf(skip)('times out live commands past timeout_at in one pass, once, and leaves the rest alone', async () => {
    const db = test().database.db;
    const slug = `p-${randomBytes(4).toString('hex')}`;
    const project = await db.insertInto('projects').values({ slug, name: slug }).returning('id').executeTakeFirstOrThrow();
    const now = new Date('2031-05-01T12:00:00Z');
    const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
    const rows = await db
      .insertInto('commands')
      .values(
        (
          [
            ['pending', -5],
            ['dispatched', -1],
            ['pending', 30],
            ['completed', -5],
            ['failed', -5],
          ] as const
        ).map(([status, timeoutIn]) => ({
          project_id: project.id,
          action: 'retry_task',
          target_type: 'task',
          status,
          issued_at: at(timeoutIn - 60),
          timeout_at: at(timeoutIn),
        })),
      )
      .returning(['id', 'status'])
      .execute();

    const timedOut = await sweepCommandTimeouts({ db, now });
    expect(new Set(timedOut)).toEqual(new Set([rows[0]!.id, rows[1]!.id]));
    const after = await db
      .selectFrom('commands')
      .select(['id', 'status', 'error', 'completed_at'])
      .where('project_id', '=', project.id)
      .execute();
    const byId = new Map(after.map((row) => [row.id, row]));
    for (const row of rows.slice(0, 2)) {
      expect(byId.get(row.id)).toMatchObject({ status: 'timeout', error: COMMAND_TIMEOUT_ERROR, completed_at: now });
    }
    expect(rows.slice(2).map((row) => byId.get(row.id)?.status)).toEqual(['pending', 'completed', 'failed']);

    // Already swept: nothing to announce again.
    expect(await sweepCommandTimeouts({ db, now })).toEqual([]);
  });
});
