import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditRow, type AuditRow } from '@z4j/audit';
import { openBrainDatabase, type BrainDatabase } from '@z4j/db';
import { createMigratedTestDatabase, probePostgres, testPostgresOptions } from '@z4j/testing';
import { parseCliArgs } from '../src/cli-args.js';
import { cleanEnv, runZ4j } from './serve-process.js';

const postgres = await probePostgres();
const SECRET = 'test-secret-0123456789-0123456789-0123456789';
const OLD_SECRET = 'old-secret-0123456789-0123456789-0123456789';

describe('parseCliArgs audit', () => {
  it('parses audit verify with the default and an explicit limit', () => {
    expect(parseCliArgs(['audit', 'verify'])).toEqual({ name: 'audit', action: 'verify', limit: 5000 });
    expect(parseCliArgs(['audit', 'verify', '--limit', '1'])).toEqual({ name: 'audit', action: 'verify', limit: 1 });
    expect(parseCliArgs(['audit', 'verify', '--limit=5000'])).toEqual({ name: 'audit', action: 'verify', limit: 5000 });
  });

  it('names what is wrong', () => {
    for (const bad of ['0', '5001', '1.5', 'abc', '', '99999999999']) {
      expect(() => parseCliArgs(['audit', 'verify', `--limit=${bad}`])).toThrow(
        `--limit: expected an integer from 1 to 5000, got "${bad}"`,
      );
    }
    expect(() => parseCliArgs(['audit'])).toThrow(/audit: expected "verify", got nothing/);
    expect(() => parseCliArgs(['audit', 'fork-cleanup'])).toThrow(/audit: expected "verify", got "fork-cleanup"/);
    expect(() => parseCliArgs(['audit', 'verify', 'extra'])).toThrow(/audit verify: unexpected argument "extra"/);
  });
});

describe.skipIf(!postgres.available)('z4j audit verify on Postgres', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'z4j-cwd-'));
  let created: Awaited<ReturnType<typeof createMigratedTestDatabase>>;
  let database: BrainDatabase;
  let rows: AuditRow[];

  const env = (extra: Record<string, string> = {}) =>
    cleanEnv({
      Z4J_HOME: mkdtempSync(join(tmpdir(), 'z4j-home-')),
      Z4J_DATABASE_URL: created.url,
      Z4J_SECRET: SECRET,
      Z4J_SESSION_SECRET: 'test-session-secret-0123456789-0123456789',
      Z4J_PUBLIC_URL: 'https://z4j.example.com',
      ...extra,
    });

  beforeAll(async () => {
    created = await createMigratedTestDatabase();
    database = await openBrainDatabase(testPostgresOptions(created.url));
    rows = [];
    // Two rows from before a secret rotation, two after.
    for (const [index, secret] of [OLD_SECRET, OLD_SECRET, SECRET, SECRET].entries()) {
      rows.push(
        await appendAuditRow(
          database.db,
          { action: 'agent.token.minted', target_type: 'agent', target_id: `worker-${index}`, result: 'success' },
          { secret, now: new Date(Date.UTC(2026, 0, 1, 12, 0, index)) },
        ),
      );
    }
  });

  afterAll(async () => {
    await database?.close();
    await created?.drop();
  });

  it('exits 0 and prints "verified: N" when the chain is intact under the current and previous secrets', async () => {
    const result = await runZ4j(['audit', 'verify'], env({ Z4J_PREVIOUS_SECRETS: OLD_SECRET }), cwd);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('verified: 4\n');
    expect(result.code).toBe(0);

    const limited = await runZ4j(['audit', 'verify', '--limit', '2'], env({ Z4J_PREVIOUS_SECRETS: OLD_SECRET }), cwd);
    expect(limited.stdout).toBe('verified: 2\n(only the oldest 2 rows were checked; newer rows exist)\n');
    expect(limited.code).toBe(0);
  });

  it('exits 1 and names each row that does not verify', async () => {
    const rotatedAway = await runZ4j(['audit', 'verify'], env(), cwd);
    expect(rotatedAway.code).toBe(1);
    const lines = rotatedAway.stdout.trim().split('\n');
    expect(lines[0]).toBe('verified: 4');
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^hmac mismatch at row ${rows[0]!.id}: `)),
      expect.stringMatching(new RegExp(`^hmac mismatch at row ${rows[1]!.id}: `)),
    ]);

    await database.db.transaction().execute(async (trx) => {
      await sql`set local z4j.audit_sweep = 'on'`.execute(trx);
      await trx.updateTable('audit_log').set({ target_id: 'someone-else' }).where('id', '=', rows[3]!.id).execute();
    });
    const tampered = await runZ4j(['audit', 'verify'], env({ Z4J_PREVIOUS_SECRETS: OLD_SECRET }), cwd);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(new RegExp(`^verified: 4\\nhmac mismatch at row ${rows[3]!.id}: [^\\n]+\\n$`));
  });

  it('exits 2 on a bad --limit or a configuration error, saying which', async () => {
    const badLimit = await runZ4j(['audit', 'verify', '--limit', '0'], env(), cwd);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toMatch(/^z4j: --limit: expected an integer from 1 to 5000, got "0"/);

    const noSecret = env();
    delete noSecret.Z4J_SECRET;
    const unconfigured = await runZ4j(['audit', 'verify'], noSecret, cwd);
    expect(unconfigured.code).toBe(2);
    expect(unconfigured.stderr).toMatch(/Z4J_SECRET/);
    expect(unconfigured.stdout).toBe('');
  });
});
