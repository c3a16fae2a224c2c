import { randomBytes } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openBrainDatabase, type BrainDatabase, type Database } from '@z4j/db';
import { openTestDatabase, probePostgres, testPostgresOptions } from '@z4j/testing';
import { batchUpsertTasks } from './event-writer.js';
import { emptyDelta, type TaskDelta, type TaskState } from './task-reduction.js';

const postgres = await probePostgres();

function delta(projectId: string, taskId: string, state: TaskState, micros: number): TaskDelta {
  return {
    ...emptyDelta(projectId, 'celery', taskId),
    name: 'app.add',
    queue: 'default',
    state,
    stateMicros: micros,
    receivedMicros: state === 'received' ? micros : null,
    startedMicros: state === 'started' ? micros : null,
  };
}

/** Runs `work` in a transaction and keeps it open: `held` resolves once `work` is done, `commit()` ends it. */
function holdTransaction(database: BrainDatabase, work: (trx: Transaction<Database>) => Promise<void>) {
  let commit!: () => void;
  const mayCommit = new Promise<void>((resolve) => (commit = resolve));
  let held!: () => void;
  const isHeld = new Promise<void>((resolve) => (held = resolve));
  const done = database.db.transaction().execute(async (trx) => {
    await work(trx);
    held();
    await mayCommit;
  });
  return { held: isHeld, commit, done };
}

/** Whether `promise` is still unsettled after `ms`: it is waiting on a lock. */
async function stillWaitingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
}

async function stateOf(database: BrainDatabase, projectId: string, taskId: string): Promise<string | undefined> {
  const result = await sql<{ state: string }>`select state from tasks where project_id = ${projectId} and task_id = ${taskId}`.execute(
    database.db,
  );
  return result.rows[0]?.state;
}

describe('z4j_ingest_tasks across two transactions', () => {
  it.skipIf(!postgres.available)('a task another transaction is inserting is waited for, then merged by the state rule', async () => {
    const test = await openTestDatabase('postgres');
    const second = await openBrainDatabase(testPostgresOptions(test.url!));
    try {
      const slug = `p-${randomBytes(4).toString('hex')}`;
      const { id: projectId } = await test.database.db
        .insertInto('projects')
        .values({ slug, name: slug })
        .returning('id')
        .executeTakeFirstOrThrow();
      const t0 = (Date.now() - 60_000) * 1000;
      const now = new Date();

      const first = holdTransaction(test.database, (trx) =>
        batchUpsertTasks(trx, [delta(projectId, 'raced', 'received', t0)], new Set(), now),
      );
      await first.held;
      // Waits on the unique index until `first` commits, then locks the row it finds and merges into it.
      const racing = second.db.transaction().execute(async (trx) => {
        await batchUpsertTasks(trx, [delta(projectId, 'raced', 'started', t0 + 1000)], new Set(), now);
      });
      expect(await stillWaitingAfter(racing, 100)).toBe(true);
      first.commit();
      await first.done;
      await racing;
      expect(await stateOf(test.database, projectId, 'raced')).toBe('started');
    } finally {
      await second.close();
      await test.dispose();
    }
  });

  it.skipIf(!postgres.available)('deleting a project deletes its tasks, after an ingest transaction holding it ends', async () => {
    const test = await openTestDatabase('postgres');
    const second = await openBrainDatabase(testPostgresOptions(test.url!));
    try {
      const [kept, deleted] = await Promise.all(
        ['kept', 'deleted'].map(async (name) => {
          const slug = `${name}-${randomBytes(4).toString('hex')}`;
          const row = await test.database.db.insertInto('projects').values({ slug, name: slug }).returning('id').executeTakeFirstOrThrow();
          return row.id;
        }),
      );
      const t0 = (Date.now() - 60_000) * 1000;
      await batchUpsertTasks(
        test.database.db,
        [delta(kept!, 'a', 'received', t0), delta(deleted!, 'b', 'received', t0)],
        new Set(),
        new Date(),
      );

      const ingest = holdTransaction(test.database, (trx) =>
        batchUpsertTasks(trx, [delta(deleted!, 'c', 'received', t0)], new Set(), new Date()),
      );
      await ingest.held;
      const deletion = second.db.deleteFrom('projects').where('id', '=', deleted!).execute();
      expect(await stillWaitingAfter(deletion, 100)).toBe(true);
      ingest.commit();
      await ingest.done;
      await deletion;

      expect(await stateOf(test.database, kept!, 'a')).toBe('received');
      expect(await stateOf(test.database, deleted!, 'b')).toBeUndefined();
      expect(await stateOf(test.database, deleted!, 'c')).toBeUndefined();
      // A late group for the deleted project stores nothing and fails nothing.
      await batchUpsertTasks(
        test.database.db,
        [delta(deleted!, 'd', 'received', t0), delta(kept!, 'e', 'received', t0)],
        new Set(),
        new Date(),
      );
      expect(await stateOf(test.database, deleted!, 'd')).toBeUndefined();
      expect(await stateOf(test.database, kept!, 'e')).toBe('received');
    } finally {
      await second.close();
      await test.dispose();
    }
  });
});

describe('task row ids', () => {
  it.skipIf(!postgres.available)('are uuid v7 carrying the millisecond they were made in', async () => {
    const test = await openTestDatabase('postgres');
    try {
      const result = await sql<{ id: string; at: string }>`
        select id::text, (extract(epoch from clock_timestamp()) * 1000)::int8::text as at
          from generate_series(1, 3), lateral (select z4j_uuid_v7() as id) g`.execute(test.database.db);
      for (const row of result.rows) {
        expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        const millis = parseInt(row.id.replaceAll('-', '').slice(0, 12), 16);
        expect(Math.abs(millis - Number(row.at))).toBeLessThan(1000);
      }
    } finally {
      await test.dispose();
    }
  });
});
