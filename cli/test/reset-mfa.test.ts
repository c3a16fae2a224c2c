import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { openBrainDatabase, type BrainDatabase } from '@z4j/db';
import { createMigratedTestDatabase, probePostgres, testPostgresOptions } from '@z4j/testing';
import { parseCliArgs, USAGE } from '../src/cli-args.js';
import { cleanEnv, runZ4j } from './serve-process.js';

const postgres = await probePostgres();
const SECRET = 'test-secret-0123456789-0123456789-0123456789';

describe('parseCliArgs reset-mfa', () => {
  it('takes one email address; --confirm is accepted and changes nothing', () => {
    expect(parseCliArgs(['reset-mfa', 'ann@example.com'])).toEqual({ name: 'reset-mfa', email: 'ann@example.com' });
    expect(parseCliArgs(['reset-mfa', ' Ann@Example.com ', '--confirm'])).toEqual({ name: 'reset-mfa', email: 'Ann@Example.com' });
    expect(USAGE).toContain('reset-mfa EMAIL');
  });

  it('names what is wrong', () => {
    expect(() => parseCliArgs(['reset-mfa'])).toThrow('reset-mfa: expected the email address of the user');
    expect(() => parseCliArgs(['reset-mfa', 'not-an-email'])).toThrow(
      'email: expected an email address (name@example.com), got "not-an-email"',
    );
    expect(() => parseCliArgs(['reset-mfa', 'a@b.example', 'c@d.example'])).toThrow('reset-mfa: unexpected argument "c@d.example"');
    expect(() => parseCliArgs(['reset-mfa', 'a@b.example', '--force'])).toThrow(/--force/);
  });
});

describe.skipIf(!postgres.available)('z4j reset-mfa on Postgres', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'z4j-cwd-'));
  let created: Awaited<ReturnType<typeof createMigratedTestDatabase>>;
  let database: BrainDatabase;

  const env = () =>
    cleanEnv({
      Z4J_HOME: mkdtempSync(join(tmpdir(), 'z4j-home-')),
      Z4J_DATABASE_URL: created.url,
      Z4J_SECRET: SECRET,
      Z4J_SESSION_SECRET: 'test-session-secret-0123456789-0123456789',
      Z4J_PUBLIC_URL: 'https://z4j.example.com',
    });

  /** A user with everything MFA leaves behind: a sealed secret, codes, remembered devices and live sessions. */
  async function enrolledUser(email: string) {
    const db = database.db;
    const enrolledAt = new Date('2026-01-02T03:04:05.000Z');
    const user = await db
      .insertInto('users')
      .values({
        email,
        password_hash: '$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaA',
        mfa_secret_encrypted: randomBytes(48),
        mfa_enrolled_at: enrolledAt,
        mfa_last_time_step: 59_000_000,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('mfa_recovery_codes')
      .values(Array.from({ length: 10 }, (_, index) => ({ user_id: user.id, code_hash: `hash-${index}` })))
      .execute();
    await db
      .insertInto('trusted_devices')
      .values(
        [0, 1].map((index) => ({ user_id: user.id, cookie_id_hash: `${email}-${index}`, expires_at: new Date(Date.now() + 86_400_000) })),
      )
      .execute();
    const session = (revoked: boolean) => ({
      user_id: user.id,
      csrf_token: randomBytes(16).toString('hex'),
      expires_at: new Date(Date.now() + 86_400_000),
      mfa_verified_at: new Date(),
      ...(revoked ? { revoked_at: new Date(), revocation_reason: 'logout' } : {}),
    });
    await db
      .insertInto('sessions')
      .values([session(false), session(false), session(true)])
      .execute();
    return { id: user.id, enrolledAt };
  }

  beforeAll(async () => {
    created = await createMigratedTestDatabase();
    database = await openBrainDatabase(testPostgresOptions(created.url));
  });

  afterAll(async () => {
    await database?.close();
    await created?.drop();
  });

  it('clears the MFA state, revokes the sessions, audits user.mfa_reset and says what it did', async () => {
    const ann = await enrolledUser('ann@example.com');
    const bob = await enrolledUser('bob@example.com');

    const result = await runZ4j(['reset-mfa', 'ANN@Example.com'], env(), cwd);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.slice(0, 5)).toEqual([
      `reset MFA for ann@example.com (user ${ann.id})`,
      `  MFA was enrolled since ${ann.enrolledAt.toISOString()}; secret and enrolment cleared`,
      '  recovery codes deleted: 10',
      '  remembered devices deleted: 2',
      '  sessions revoked: 2',
    ]);
    expect(lines[5]).toMatch(/^ {2}audit row: user\.mfa_reset [0-9a-f-]{36}$/);

    const db = database.db;
    const user = await db
      .selectFrom('users')
      .select(['mfa_secret_encrypted', 'mfa_enrolled_at', 'mfa_last_time_step'])
      .where('id', '=', ann.id)
      .executeTakeFirstOrThrow();
    expect(user).toEqual({ mfa_secret_encrypted: null, mfa_enrolled_at: null, mfa_last_time_step: null });
    expect(await db.selectFrom('mfa_recovery_codes').select('id').where('user_id', '=', ann.id).execute()).toEqual([]);
    expect(await db.selectFrom('trusted_devices').select('id').where('user_id', '=', ann.id).execute()).toEqual([]);
    const sessions = await db.selectFrom('sessions').select(['revoked_at', 'revocation_reason']).where('user_id', '=', ann.id).execute();
    expect(sessions.map((row) => row.revocation_reason).sort()).toEqual(['logout', 'mfa_reset', 'mfa_reset']);

    // Another user is untouched.
    const other = await db.selectFrom('users').select('mfa_enrolled_at').where('id', '=', bob.id).executeTakeFirstOrThrow();
    expect(other.mfa_enrolled_at).toEqual(bob.enrolledAt);
    expect(await db.selectFrom('mfa_recovery_codes').select('id').where('user_id', '=', bob.id).execute()).toHaveLength(10);
    expect(
      await db.selectFrom('sessions').select('id').where('user_id', '=', bob.id).where('revoked_at', 'is', null).execute(),
    ).toHaveLength(2);

    const audit = await db.selectFrom('audit_log').select(['action', 'target_type', 'target_id', 'user_id', 'metadata']).execute();
    expect(audit).toEqual([
      {
        action: 'user.mfa_reset',
        target_type: 'user',
        target_id: ann.id,
        user_id: null,
        metadata: {
          via: 'cli',
          email: 'ann@example.com',
          was_enrolled: true,
          had_pending_enrolment: false,
          recovery_codes_deleted: 10,
          trusted_devices_deleted: 2,
          sessions_revoked: 2,
        },
      },
    ]);
    expect((await verifyAuditChain(db, { secrets: [SECRET] })).problems).toEqual([]);

    // Running it again is harmless and says there was nothing left.
    const again = await runZ4j(['reset-mfa', 'ann@example.com', '--confirm'], env(), cwd);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('  MFA was not enrolled\n');
    expect(again.stdout).toContain('  sessions revoked: 0\n');
  });

  it('exits 1 with a clear message for an unknown email, and 2 for a missing one', async () => {
    const unknown = await runZ4j(['reset-mfa', 'nobody@example.com'], env(), cwd);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe('z4j: reset-mfa: no user with email nobody@example.com\n');

    const missing = await runZ4j(['reset-mfa'], env(), cwd);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^z4j: reset-mfa: expected the email address of the user\n/);
  });
});
