import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { createLogger } from '@z4j/logger';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { PARTITION_DAYS_AHEAD, runPartitionMaintenance } from './partition-maintenance.js';

const postgres = await probePostgres();
const lines: string[] = [];
const logger = createLogger({
  level: 'info',
  json: true,
  destination: new Writable({
    write: (chunk: Buffer, _e, cb) => {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  }),
});

describeEachDatabase('partition maintenance', postgres, ({ kind, skip, test }) => {
  it.skipIf(skip)('keeps the next days ready, drops expired days, and warns about rows in the default partition', async () => {
    const now = new Date('2031-03-10T12:00:00Z');
    const first = await runPartitionMaintenance({ db: test().database.db, retentionDays: 30, now: () => now, logger });
    expect(first.created).toHaveLength(PARTITION_DAYS_AHEAD);
    expect(first.created[0]).toBe('events_2031_03_10');
    // The partitions the migration made for the real today are years older than this "now": expired.
    expect(first.dropped.length).toBeGreaterThan(0);
    expect(first.defaultRows).toBe(0);

    const again = await runPartitionMaintenance({ db: test().database.db, retentionDays: 30, now: () => now, logger });
    expect(again).toEqual({ created: [], dropped: [], defaultRows: 0 });

    await sql`insert into events (project_id, occurred_at, id, engine, task_id, kind, payload)
              values (gen_random_uuid(), '2040-01-01T00:00:00Z', gen_random_uuid(), 'celery', '', 'unknown', '{}')`.execute(
      test().database.db,
    );
    const warned = await runPartitionMaintenance({ db: test().database.db, retentionDays: 30, now: () => now, logger });
    expect(warned.defaultRows).toBe(1);
    expect(lines.some((line) => line.includes('workers:partitions:default_not_empty'))).toBe(true);
  });

  it.skipIf(skip || kind !== 'embedded')('checkpoints the embedded database (the Z4J_WAL_CHECKPOINT_INTERVAL_SECONDS task)', async () => {
    await expect(sql`checkpoint`.execute(test().database.db)).resolves.toBeDefined();
  });
});
