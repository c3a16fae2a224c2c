import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { probePostgres, type TestDatabase } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { countDefaultPartitionRows, dropExpiredEventPartitions, ensureEventPartitions } from './event-partitions.js';

const postgres = await probePostgres();

async function partitions(test: TestDatabase): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'events'::regclass order by c.relname`.execute(test.database.db);
  return result.rows.map((row) => row.name);
}

async function insertEvent(test: TestDatabase, occurredAt: string): Promise<void> {
  await sql`insert into events (project_id, occurred_at, id, agent_id, engine, task_id, kind, payload)
            values (gen_random_uuid(), ${occurredAt}::timestamptz, gen_random_uuid(), null, 'celery', 't1', 'task.started', '{}'::jsonb)`.execute(
    test.database.db,
  );
}

describeEachDatabase('events partitions', postgres, ({ skip, test }) => {
  it.skipIf(skip)('the migration created today … today+6 (UTC) and a default partition', async () => {
    const names = await partitions(test());
    expect(names).toContain('events_default');
    const today = new Date();
    for (let offset = 0; offset < 7; offset += 1) {
      const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + offset));
      expect(names).toContain(`events_${day.toISOString().slice(0, 10).replaceAll('-', '_')}`);
    }
  });

  it.skipIf(skip)('creates exactly the missing daily partitions, idempotently, with UTC-midnight bounds', async () => {
    const created = await ensureEventPartitions(test().database.db, new Date('2020-02-27T15:00:00Z'), 3);
    expect(created).toEqual(['events_2020_02_27', 'events_2020_02_28', 'events_2020_02_29']);
    expect(await ensureEventPartitions(test().database.db, new Date('2020-02-28T00:00:00Z'), 3)).toEqual(['events_2020_03_01']);
    await insertEvent(test(), '2020-02-28T23:59:59.999999Z');
    await insertEvent(test(), '2020-02-29T00:00:00Z');
    const placed = await sql<{ partition: string }>`
      select tableoid::regclass::text as partition from events where occurred_at between '2020-02-28' and '2020-03-01' order by occurred_at`.execute(
      test().database.db,
    );
    expect(placed.rows.map((row) => row.partition)).toEqual(['events_2020_02_28', 'events_2020_02_29']);
  });

  it.skipIf(skip)('moves rows that fell into the default partition into the new daily partition', async () => {
    await insertEvent(test(), '2019-06-10T08:00:00Z');
    expect(await countDefaultPartitionRows(test().database.db)).toBe(1);
    expect(await ensureEventPartitions(test().database.db, new Date('2019-06-10T00:00:00Z'), 1)).toEqual(['events_2019_06_10']);
    expect(await countDefaultPartitionRows(test().database.db)).toBe(0);
    const moved = await sql<{ partition: string }>`
      select tableoid::regclass::text as partition from events where occurred_at = '2019-06-10T08:00:00Z'`.execute(test().database.db);
    expect(moved.rows).toEqual([{ partition: 'events_2019_06_10' }]);
  });

  it.skipIf(skip)('drops only daily partitions past retention, never the default or newer ones', async () => {
    await ensureEventPartitions(test().database.db, new Date('2021-01-01T00:00:00Z'), 5); // 01 … 05
    await insertEvent(test(), '2021-01-02T12:00:00Z');
    // today = 2021-01-05, retention 2 days → cutoff 2021-01-03: drops 01 and 02 (and the older test partitions).
    const dropped = await dropExpiredEventPartitions(test().database.db, new Date('2021-01-05T06:00:00Z'), 2);
    expect(dropped).toEqual(expect.arrayContaining(['events_2021_01_01', 'events_2021_01_02', 'events_2020_02_27', 'events_2019_06_10']));
    expect(dropped).not.toContain('events_2021_01_03');
    const names = await partitions(test());
    expect(names).toEqual(expect.arrayContaining(['events_default', 'events_2021_01_03', 'events_2021_01_04', 'events_2021_01_05']));
    expect(names).not.toContain('events_2021_01_01');
    expect(names).not.toContain('events_2021_01_02');
    // Partitions of the real "today" are far newer than the cutoff and stay.
    expect(names.filter((name) => name > 'events_2022')).not.toHaveLength(0);
  });
});
