import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';

/**
 * The same statements on real Postgres through node-postgres and on the
 * embedded database must produce identical JS values (same classes too:
 * Date, Buffer, postgres-interval), and accept the same JS parameters.
 */

const url = process.env.Z4J_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function connect(): Promise<pg.Client | string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    const reason = `Postgres at ${url.replace(/\/\/[^@]*@/, '//***@')} is not reachable: ${error instanceof Error ? error.message : String(error)}`;
    if (process.env.CI === 'true')
      throw new Error(`${reason} (CI=true: a missing Postgres fails the run; set Z4J_TEST_DATABASE_URL)`, { cause: error });
    return reason;
  }
}

const connected = await connect();
const unavailable = typeof connected === 'string' ? connected : undefined;
if (unavailable) console.warn(`skipping type parity with Postgres: ${unavailable}`);

/** Types that need DDL; created inside a transaction that is rolled back, so the shared test database stays clean. */
const SETUP = `create type parity_mood as enum ('sad', 'happy')`;

const LITERALS = `
  select
    '2024-03-10 12:34:56.789+02'::timestamptz as timestamptz,
    'infinity'::timestamptz as timestamptz_infinity,
    '2024-03-10 12:34:56.789'::timestamp as timestamp,
    '2024-03-10'::date as date,
    array['2024-03-10'::date, null] as date_array,
    array['2024-03-10 01:02:03+00'::timestamptz] as timestamptz_array,
    '12:34:56.5'::time as time,
    '12:34:56+02'::timetz as timetz,
    '1 year 2 mons 3 days 04:05:06.789'::interval as interval,
    9007199254740993::int8 as int8,
    -9007199254740993::int8 as int8_negative,
    (select count(*) from generate_series(1, 3)) as count,
    12345678901234567890.123456789::numeric as numeric,
    'NaN'::numeric as numeric_nan,
    7::int2 as int2, 2147483647::int4 as int4, 1.5::float4 as float4, 2.25::float8 as float8,
    'Infinity'::float8 as float8_infinity,
    123::oid as oid,
    true as bool, false as bool_false,
    '{"a":[1,2,{"b":null}],"c":"x"}'::json as json,
    '{"a":1,"big":12345678901234567890}'::jsonb as jsonb,
    '"just a string"'::jsonb as jsonb_scalar,
    '\\x00ff10'::bytea as bytea,
    array['\\x01'::bytea, '\\x0203'::bytea] as bytea_array,
    array['a', 'b,c', 'd"e', null]::text[] as text_array,
    array[array[1, 2], array[3, 4]]::int4[] as int4_matrix,
    array[1, 2]::int8[] as int8_array,
    array[1.5, 2]::numeric[] as numeric_array,
    array[true, false]::bool[] as bool_array,
    array['{"a":1}'::jsonb] as jsonb_array,
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as uuid,
    array['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid] as uuid_array,
    '192.168.0.1/24'::inet as inet,
    array['10.0.0.1'::inet] as inet_array,
    '10.0.0.0/8'::cidr as cidr,
    '08:00:2b:01:02:03'::macaddr as macaddr,
    'happy'::parity_mood as enum,
    array['sad', 'happy']::parity_mood[] as enum_array,
    'x'::char(3) as bpchar, 'y'::varchar(5) as varchar, 'z'::name as name,
    '(1,2)'::point as point,
    '[1,5)'::int4range as int4range,
    'a fat cat'::tsvector as tsvector,
    null::text as null_text, null::int4 as null_int, null::jsonb as null_jsonb
`;

// Parameters as application code passes them to pg: pg serialises them client-side without knowing the column types.
const PARAMS_SQL = `
  select
    $1::timestamptz as date_to_timestamptz,
    $1::timestamp as date_to_timestamp,
    $1::date as date_to_date,
    $2::bytea as buffer_to_bytea,
    $3::text[] as array_to_text_array,
    $4::int4[] as array_to_int_array,
    $5::jsonb as object_to_jsonb,
    $6::json as string_to_json,
    $7::bool as boolean_param,
    $8::float8 as number_param,
    $9::int8 as bigint_param,
    $10::text as null_param,
    $11::uuid as uuid_param,
    $12::inet as inet_param,
    $13::bytea[] as buffer_array,
    $14::text as date_to_text,
    $15::int4 as string_to_int,
    $16::numeric as string_to_numeric,
    $17::parity_mood as enum_param,
    $18::jsonb as nested_object_to_jsonb
`;
const PARAMS: unknown[] = [
  new Date('2024-03-10T23:30:00.123Z'),
  Buffer.from([0, 1, 254, 255]),
  ['a', 'b,c', 'd"e\\f', null],
  [1, 2, 3],
  { a: 1, nested: { b: [true, null] } },
  '{"raw":"json text"}',
  true,
  1.25,
  10n,
  null,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '::1',
  [Buffer.from([1]), Buffer.from([2, 3])],
  new Date('2024-03-10T23:30:00.123Z'),
  '42',
  '3.14159265358979323846',
  'sad',
  { when: new Date('2024-01-01T00:00:00Z'), list: [1, 'two'] },
];

type Run = (text: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/** Runs `text` on both drivers inside a rolled-back transaction with `SETUP` applied. */
async function both(client: pg.Client, embedded: EmbeddedPostgres, text: string, params?: unknown[]) {
  const run = async (query: Run) => {
    await query('begin');
    try {
      await query(SETUP);
      return (await query(text, params)).rows;
    } finally {
      await query('rollback');
    }
  };
  const fromPg = await run((q, p) => client.query(q, p));
  const fromEmbedded = await run((q, p) => embedded.query(q, p));
  return { fromPg, fromEmbedded };
}

describe.skipIf(unavailable !== undefined)('type parity between node-postgres and the embedded database', () => {
  const client = connected as pg.Client;
  let embedded: EmbeddedPostgres;
  const originalTz = process.env.TZ;

  beforeAll(async () => {
    embedded = await openEmbeddedPostgres();
  });
  afterAll(async () => {
    process.env.TZ = originalTz;
    await embedded?.close();
    await client.end();
  });

  // A non-UTC zone too: pg reads `timestamp` and `date` as local time and sends Dates in local time.
  for (const tz of ['UTC', 'America/St_Johns']) {
    it(`parses every result type the way pg does (TZ=${tz})`, async () => {
      process.env.TZ = tz;
      const { fromPg, fromEmbedded } = await both(client, embedded, LITERALS);
      expect(fromPg).toHaveLength(1);
      const pgRow = fromPg[0]!;
      const embeddedRow = fromEmbedded[0]!;
      expect(Object.keys(embeddedRow)).toEqual(Object.keys(pgRow));
      for (const column of Object.keys(pgRow)) {
        expect.soft(embeddedRow[column], column).toStrictEqual(pgRow[column]);
      }
      // Spot-check that the values really are the pg defaults, not merely equal to each other.
      expect(embeddedRow).toMatchObject({
        int8: '9007199254740993',
        count: '3',
        numeric: '12345678901234567890.123456789',
        int4: 2147483647,
        bool: true,
        jsonb: { a: 1, big: 12345678901234567000 },
        uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        inet: '192.168.0.1/24',
        enum: 'happy',
        enum_array: '{sad,happy}', // pg does not know the enum's array type either
        text_array: ['a', 'b,c', 'd"e', null],
      });
      expect(embeddedRow.timestamptz).toEqual(new Date('2024-03-10T10:34:56.789Z'));
      expect(embeddedRow.date).toBeInstanceOf(Date);
      expect(Buffer.isBuffer(embeddedRow.bytea)).toBe(true);
      // pg's interval is a postgres-interval object; its methods survive because parsing happens on this thread.
      expect((embeddedRow.interval as { toISOString(): string }).toISOString()).toBe('P1Y2M3DT4H5M6.789S');
    });

    it(`accepts the same JS parameters as pg (TZ=${tz})`, async () => {
      process.env.TZ = tz;
      const { fromPg, fromEmbedded } = await both(client, embedded, PARAMS_SQL, PARAMS);
      const pgRow = fromPg[0]!;
      const embeddedRow = fromEmbedded[0]!;
      for (const column of Object.keys(pgRow)) {
        expect.soft(embeddedRow[column], column).toStrictEqual(pgRow[column]);
      }
      expect(embeddedRow.date_to_timestamptz).toEqual(PARAMS[0]);
      expect(embeddedRow.buffer_to_bytea).toStrictEqual(PARAMS[1]);
    });
  }

  it('fails the same way on a parameter pg cannot serialise for the column (JS array into jsonb)', async () => {
    const outcome = (promise: Promise<unknown>) =>
      promise.then(
        () => 'ok',
        (error: { code?: string }) => error.code,
      );
    const text = 'select $1::jsonb as j';
    const fromPg = await outcome(client.query(text, [[1, 2]]));
    const fromEmbedded = await outcome(embedded.query(text, [[1, 2]]));
    expect(fromPg).toBe('22P02');
    expect(fromEmbedded).toBe(fromPg);
  });
});
