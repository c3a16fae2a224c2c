import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { sweepQueueDepthSamples } from './queue-depth-retention.js';

const postgres = await probePostgres();

describeEachDatabase('queue depth history retention', postgres, ({ skip, test }) => {
  it.skipIf(skip)('deletes samples older than the kept days and keeps the rest', async () => {
    const db = test().database.db;
    const slug = `p-${randomBytes(4).toString('hex')}`;
    const project = await db.insertInto('projects').values({ slug, name: slug }).returning('id').executeTakeFirstOrThrow();
    const now = new Date('2031-05-08T12:00:00Z');
    const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000);
    await db
      .insertInto('queue_depth_samples')
      .values([8, 7.01, 6.99, 0].map((days) => ({ project_id: project.id, engine: 'bullmq', queue: 'q', minute: daysAgo(days), depth: 1 })))
      .execute();
    expect(await sweepQueueDepthSamples({ db, now, keepDays: 7 })).toBe(2);
    const left = await db
      .selectFrom('queue_depth_samples')
      .select('minute')
      .where('project_id', '=', project.id)
      .orderBy('minute')
      .execute();
    expect(left.map((row) => row.minute.toISOString())).toEqual([daysAgo(6.99).toISOString(), now.toISOString()]);
  });
});
