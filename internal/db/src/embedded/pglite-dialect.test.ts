import { Kysely, sql, type Generated } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifySqlError } from '../sqlstate.js';
import { openEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { EmbeddedPostgresError } from './embedded-postgres-error.js';
import { PGliteDialect } from './pglite-dialect.js';

interface Tables {
  widgets: { id: Generated<number>; name: string; qty: number };
}

let embedded: EmbeddedPostgres;
let db: Kysely<Tables>;

beforeAll(async () => {
  embedded = await openEmbeddedPostgres();
  db = new Kysely<Tables>({ dialect: new PGliteDialect({ embedded, ownsEmbedded: true }) });
});
afterAll(async () => {
  await db?.destroy();
});

async function freshWidgets(): Promise<void> {
  await sql`drop table if exists widgets`.execute(db);
  await db.schema
    .createTable('widgets')
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('qty', 'integer', (col) => col.notNull())
    .execute();
}

const names = async (on: Kysely<Tables> = db): Promise<string[]> =>
  (await on.selectFrom('widgets').select('name').orderBy('name').execute()).map((row) => row.name);

describe('PGliteDialect: queries', () => {
  beforeAll(freshWidgets);

  it('inserts with returning, selects, updates and deletes with real affected-row counts', async () => {
    const inserted = await db
      .insertInto('widgets')
      .values([
        { name: 'a', qty: 1 },
        { name: 'b', qty: 2 },
        { name: 'c', qty: 3 },
      ])
      .returning(['id', 'name'])
      .execute();
    expect(inserted.map((row) => row.name)).toEqual(['a', 'b', 'c']);
    expect(typeof inserted[0]?.id).toBe('number');

    const insertResult = await db.insertInto('widgets').values({ name: 'd', qty: 4 }).executeTakeFirstOrThrow();
    expect(insertResult.numInsertedOrUpdatedRows).toBe(1n);

    const updated = await db.updateTable('widgets').set({ qty: 10 }).where('qty', '<=', 2).executeTakeFirstOrThrow();
    expect(updated.numUpdatedRows).toBe(2n);
    const none = await db.updateTable('widgets').set({ qty: 0 }).where('name', '=', 'zzz').executeTakeFirstOrThrow();
    expect(none.numUpdatedRows).toBe(0n);

    const deleted = await db.deleteFrom('widgets').where('name', 'in', ['a', 'c', 'zzz']).executeTakeFirstOrThrow();
    expect(deleted.numDeletedRows).toBe(2n);

    const rows = await db.selectFrom('widgets').select(['name', 'qty']).orderBy('name').execute();
    expect(rows).toEqual([
      { name: 'b', qty: 10 },
      { name: 'd', qty: 4 },
    ]);
    const counted = await db
      .selectFrom('widgets')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(counted.n).toBe('2'); // int8 is a string, as with pg
  });

  it('runs a multi-statement raw script without parameters, as pg does', async () => {
    await sql.raw('create table script_a (x int); create table script_b (y int); insert into script_a values (1)').execute(db);
    const rows = await sql<{ x: number }>`select x from script_a`.execute(db);
    expect(rows.rows).toEqual([{ x: 1 }]);
  });

  it('refuses to stream, and releases the connection afterwards', async () => {
    const stream = db.selectFrom('widgets').selectAll().stream();
    await expect(stream.next()).rejects.toThrow(/not supported on the embedded database/);
    expect(await names()).toEqual(['b', 'd']);
  });
});

describe('PGliteDialect: transactions', () => {
  beforeAll(freshWidgets);

  it('commits and rolls back', async () => {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('widgets').values({ name: 'kept', qty: 1 }).execute();
    });
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('widgets').values({ name: 'discarded', qty: 1 }).execute();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await names()).toEqual(['kept']);
  });

  it('makes a query from outside an open transaction wait for it instead of running inside it', async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto('widgets').values({ name: 'uncommitted', qty: 1 }).execute();

    let outsideSettled = false;
    const outside = names().finally(() => {
      outsideSettled = true;
    });
    // Several worker round-trips inside the transaction while the outside query is queued.
    for (let i = 0; i < 3; i++) expect(await names(trx)).toEqual(['kept', 'uncommitted']);
    expect(outsideSettled).toBe(false);

    await trx.rollback().execute();
    expect(await outside).toEqual(['kept']);
  });

  it('supports savepoints', async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto('widgets').values({ name: 'before-sp', qty: 1 }).execute();
    const sp = await trx.savepoint('sp 1; drop table widgets').execute(); // the name is quoted, not spliced
    await sp.insertInto('widgets').values({ name: 'after-sp', qty: 1 }).execute();
    const back = await sp.rollbackToSavepoint('sp 1; drop table widgets').execute();
    const sp2 = await back.savepoint('sp2').execute();
    await sp2.insertInto('widgets').values({ name: 'in-sp2', qty: 1 }).execute();
    const released = await sp2.releaseSavepoint('sp2').execute();
    await released.commit().execute();
    expect(await names()).toEqual(['before-sp', 'in-sp2', 'kept']);
  });

  it('applies isolation level and access mode', async () => {
    const settings = await db
      .transaction()
      .setIsolationLevel('serializable')
      .setAccessMode('read only')
      .execute(async (trx) => {
        const level = await sql<{ transaction_isolation: string }>`show transaction_isolation`.execute(trx);
        const readOnly = await sql<{ transaction_read_only: string }>`show transaction_read_only`.execute(trx);
        return [level.rows[0]?.transaction_isolation, readOnly.rows[0]?.transaction_read_only];
      });
    expect(settings).toEqual(['serializable', 'on']);
  });
});

describe('PGliteDialect: errors', () => {
  beforeAll(freshWidgets);

  it('surfaces a unique violation with SQLSTATE 23505 and the pg error fields', async () => {
    await db.insertInto('widgets').values({ name: 'dup', qty: 1 }).execute();
    const error = await db
      .insertInto('widgets')
      .values({ name: 'dup', qty: 2 })
      .execute()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect(error).toMatchObject({ code: '23505', constraint: 'widgets_name_key', table: 'widgets', schema: 'public' });
    expect((error as EmbeddedPostgresError).detail).toContain('(name)=(dup)');
    expect(classifySqlError(error)).toBe('conflict');
  });

  it('surfaces a syntax error with SQLSTATE 42601 and its position', async () => {
    await expect(sql`selec 1`.execute(db)).rejects.toMatchObject({ code: '42601', position: '1' });
    await expect(
      db
        .selectFrom('widgets')
        .selectAll()
        .where(sql<boolean>`1 = 1 1`)
        .execute(),
    ).rejects.toMatchObject({ code: '42601' });
  });

  it('reports an aborted transaction as 25P02 and recovers after rollback', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`select 1/0`.execute(trx).catch((error: unknown) => expect(error).toMatchObject({ code: '22012' }));
        await sql`select 1`.execute(trx);
      }),
    ).rejects.toMatchObject({ code: '25P02' });
    expect(await names()).toEqual(['dup']);
  });
});

describe('PGliteDialect: lifecycle', () => {
  it('leaves a database it does not own open on destroy, and refuses queries after destroy', async () => {
    const other = new Kysely<Tables>({ dialect: new PGliteDialect({ embedded }) });
    expect((await sql<{ one: number }>`select 1 as one`.execute(other)).rows).toEqual([{ one: 1 }]);
    await other.destroy();
    await expect(sql`select 1`.execute(other)).rejects.toThrow(/destroyed/);
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
  });

  it('shares one lock between dialects over the same database', async () => {
    const other = new Kysely<Tables>({ dialect: new PGliteDialect({ embedded }) });
    await freshWidgets();
    const trx = await db.startTransaction().execute();
    await trx.insertInto('widgets').values({ name: 'pending', qty: 1 }).execute();
    const outside = names(other);
    await trx.rollback().execute();
    expect(await outside).toEqual([]);
    await other.destroy();
  });
});
