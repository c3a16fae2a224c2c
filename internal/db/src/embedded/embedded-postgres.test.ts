import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedPostgres, workerOf, type EmbeddedPostgres } from './embedded-postgres.js';
import { EmbeddedPostgresError } from './embedded-postgres-error.js';

describe('embedded Postgres (in memory)', () => {
  let embedded: EmbeddedPostgres;
  beforeAll(async () => {
    embedded = await openEmbeddedPostgres();
  });
  afterAll(async () => {
    await embedded?.close();
  });

  it('runs parameterised queries and multi-statement scripts', async () => {
    await embedded.exec(`
      create extension if not exists citext;
      create extension if not exists pg_trgm;
      create table people (email citext primary key, name text not null);
      create index people_name_trgm on people using gin (name gin_trgm_ops);`);
    const insert = await embedded.query('insert into people values ($1, $2), ($3, $4)', ['A@x.io', 'Ada', 'b@x.io', 'Bob']);
    expect(insert).toMatchObject({ affectedRows: 2, command: 'INSERT' });
    const found = await embedded.query<{ name: string }>('select name from people where email = $1', ['a@X.IO']);
    expect(found.rows).toEqual([{ name: 'Ada' }]);
    const similar = await embedded.query<{ name: string }>('select name from people where name % $1', ['Adaa']);
    expect(similar.rows).toEqual([{ name: 'Ada' }]);
    expect(await embedded.query('select 1 as a where false')).toEqual({ rows: [], affectedRows: 0, command: 'SELECT' });
  });

  it('does not block the event loop while a long query runs', async () => {
    let ticks = 0;
    let running = true;
    const spin = (): void => {
      ticks++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    // ≈ 1 s on a 2-core machine; on the main thread it would allow no ticks at all until it returned.
    const result = await embedded.query<{ n: string }>('select count(*) as n from generate_series(1, 3000000)');
    running = false;
    expect(result.rows).toEqual([{ n: '3000000' }]);
    expect(ticks).toBeGreaterThan(20);
  });

  it('lets close() finish in-flight queries, is idempotent, and refuses work afterwards', async () => {
    const own = await openEmbeddedPostgres();
    const inFlight = own.query<{ n: string }>('select count(*) as n from generate_series(1, 200000)');
    const closing = own.close();
    expect(own.close()).toBe(closing);
    await expect(own.query('select 1')).rejects.toThrow(/closing/);
    expect((await inFlight).rows).toEqual([{ n: '200000' }]);
    await closing;
    await expect(own.query('select 1')).rejects.toThrow(/closed/);
    await expect(own.exec('select 1')).rejects.toBeInstanceOf(EmbeddedPostgresError);
  });
});

describe('embedded Postgres worker crash', () => {
  it('rejects pending and later calls with a clear error instead of hanging', async () => {
    const embedded = await openEmbeddedPostgres();
    const pending = embedded.query('select count(*) from generate_series(1, 3000000)');
    const pendingError = pending.catch((error: unknown) => error);
    await workerOf(embedded)?.terminate();

    const error = await pendingError;
    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect((error as EmbeddedPostgresError).message).toMatch(/worker exited unexpectedly/);
    expect((error as EmbeddedPostgresError).code).toBeUndefined(); // not a SQLSTATE: classified 'fatal', never retried
    await expect(embedded.query('select 1')).rejects.toThrow(/worker exited unexpectedly/);
    await embedded.close(); // still resolves
  });
});

describe('embedded Postgres startup failure', () => {
  it('rejects the open with the reason instead of hanging', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'z4j-pglite-')), 'not-a-dir');
    writeFileSync(file, '');
    await expect(openEmbeddedPostgres({ dataDir: join(file, 'data') })).rejects.toThrow(/could not open the embedded database .*not-a-dir/);
  });
});

describe('embedded Postgres persistence', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'z4j-pglite-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps data across close and reopen of a data dir', async () => {
    const first = await openEmbeddedPostgres({ dataDir });
    await first.exec('create table notes (id int primary key, body text)');
    await first.query('insert into notes values ($1, $2)', [1, 'persisted']);
    await first.close();

    const second = await openEmbeddedPostgres({ dataDir });
    try {
      expect((await second.query('select id, body from notes')).rows).toEqual([{ id: 1, body: 'persisted' }]);
    } finally {
      await second.close();
    }
  });
});
