import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { hashPassword, mintTrustedDevice, needsRehash, verifyPassword } from '@z4j/identity';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { CookieJar, TEST_SECRET, createApiHarness, type ApiHarness, type TestUser } from '../testing/api-harness.js';

const postgres = await probePostgres();

const login = (harness: ApiHarness, body: unknown, options: { jar?: CookieJar; ip?: string } = {}) =>
  harness.request('POST', '/api/v1/auth/login', { body, ...options });

/** The newest audit rows of one action (audit_log survives `reset()`, so tests filter by their own user). */
async function auditRows(harness: ApiHarness, action: string, userId: string | null) {
  return harness.db
    .selectFrom('audit_log')
    .select(['action', 'result', 'outcome', 'user_id', 'target_id', 'metadata', 'source_ip'])
    .where('action', '=', action)
    .$if(userId === null, (query) => query.where('user_id', 'is', null))
    .$if(userId !== null, (query) => query.where('user_id', '=', userId))
    .orderBy('occurred_at', 'desc')
    .execute();
}

async function enrolMfa(harness: ApiHarness, user: TestUser): Promise<void> {
  await harness.db
    .updateTable('users')
    .set({ mfa_enrolled_at: harness.clock.now, mfa_secret_encrypted: Buffer.alloc(48, 1) })
    .where('id', '=', user.id)
    .execute();
}

describeEachDatabase('POST /auth/login', postgres, ({ skip, test }) => {
  it.skipIf(skip)('signs in: user view, HttpOnly Lax session cookie + CSRF cookie, last_login_at, audit', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser({ email: 'ann@example.com', memberships: { payments: 'operator' } });
    const jar = new CookieJar();
    const reply = await login(harness, { email: '  Ann@Example.COM ', password: user.password }, { jar, ip: '10.0.0.7' });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      user: {
        id: user.id,
        email: 'ann@example.com',
        display_name: null,
        first_name: null,
        last_name: null,
        is_admin: false,
        timezone: 'UTC',
        mfa_enrolled: false,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
      mfa_required: false,
    });
    const session = reply.setCookies.find((line) => line.startsWith('z4j_session='));
    const csrf = reply.setCookies.find((line) => line.startsWith('z4j_csrf='));
    expect(session).toMatch(/; Path=\/(;|$)/);
    expect(session).toMatch(/; HttpOnly(;|$)/);
    expect(session).toMatch(/; SameSite=Lax(;|$)/);
    expect(session).not.toMatch(/Secure|Max-Age/);
    expect(csrf).toMatch(/; SameSite=Strict(;|$)/);
    expect(csrf).not.toMatch(/HttpOnly/);

    // The cookies work: a signed-in read and a CSRF-checked write.
    expect((await harness.request('GET', '/api/v1/auth/me', { jar })).status).toBe(200);
    expect((await harness.request('PATCH', '/api/v1/auth/me', { jar, csrf: true, body: { first_name: 'Ann' } })).status).toBe(200);

    const row = await harness.db
      .selectFrom('users')
      .select(['last_login_at', 'failed_login_count'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ last_login_at: harness.clock.now, failed_login_count: 0 });
    const sessions = await harness.db
      .selectFrom('sessions')
      .select(['ip_at_issue', 'mfa_verified_at'])
      .where('user_id', '=', user.id)
      .execute();
    expect(sessions).toEqual([{ ip_at_issue: '10.0.0.7', mfa_verified_at: null }]);
    expect(await auditRows(harness, 'user.login', user.id)).toEqual([
      expect.objectContaining({ result: 'success', outcome: 'allow', target_id: user.id, source_ip: '10.0.0.7' }),
    ]);
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);
  });

  it.skipIf(skip)('over HTTPS uses the __Host- names with Secure; remember-me adds Max-Age', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_PUBLIC_URL: 'https://z4j.example.com' });
    await harness.reset();
    const user = await harness.createUser();
    const jar = new CookieJar();
    const reply = await login(harness, { email: user.email, password: user.password, remember_me: true }, { jar });
    expect(reply.status).toBe(200);
    const session = reply.setCookies.find((line) => line.startsWith('__Host-z4j_session='));
    const csrf = reply.setCookies.find((line) => line.startsWith('__Host-z4j_csrf='));
    for (const line of [session, csrf]) {
      expect(line).toMatch(/; Secure(;|$)/);
      expect(line).toMatch(/; Path=\/(;|$)/);
      expect(line).toMatch(/; Max-Age=2592000(;|$)/);
    }
    expect(session).toMatch(/; HttpOnly(;|$)/);
    expect(reply.setCookies.some((line) => line.startsWith('z4j_session='))).toBe(false);
    expect((await harness.request('GET', '/api/v1/auth/me', { jar })).status).toBe(200);
    const row = await harness.db.selectFrom('sessions').select('remember_me').where('user_id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.remember_me).toBe(true);
  });

  it.skipIf(skip)('answers unknown email, wrong password, inactive and locked accounts with the identical 401', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_LOGIN_LOCKOUT_THRESHOLD: '3', Z4J_LOG_LOGIN_EMAIL: 'true' });
    await harness.reset();
    const user = await harness.createUser();
    const inactive = await harness.createUser();
    await harness.db.updateTable('users').set({ is_active: false }).where('id', '=', inactive.id).execute();
    const locked = await harness.createUser();
    await harness.db
      .updateTable('users')
      .set({ locked_until: new Date(harness.clock.now.getTime() + 60_000), failed_login_count: 3 })
      .where('id', '=', locked.id)
      .execute();

    const replies = [
      await login(harness, { email: 'nobody-at-all@example.com', password: user.password }),
      await login(harness, { email: 'not an email', password: user.password }),
      await login(harness, { email: user.email, password: 'wrong password entirely' }),
      await login(harness, { email: inactive.email, password: inactive.password }),
      await login(harness, { email: locked.email, password: locked.password }),
    ];
    for (const reply of replies) {
      expect(reply.status).toBe(401);
      expect(reply.setCookies).toEqual([]);
      expect({ ...reply.body, request_id: 'x' }).toEqual({
        error: 'invalid_credentials',
        message: 'invalid email or password',
        request_id: 'x',
      });
    }

    const reasons = async (userId: string | null) => (await auditRows(harness, 'user.login', userId)).map((row) => row.metadata);
    // Z4J_LOG_LOGIN_EMAIL is on here, so the unknown email is recorded; a known user is recorded by id only.
    expect((await reasons(null)).slice(0, 2)).toEqual([
      { reason: 'unknown_user', email: 'not an email' },
      { reason: 'unknown_user', email: 'nobody-at-all@example.com' },
    ]);
    expect(await reasons(user.id)).toEqual([{ reason: 'bad_password', failed_count: 1 }]);
    expect(await reasons(inactive.id)).toEqual([{ reason: 'inactive' }]);
    expect(await reasons(locked.id)).toEqual([{ reason: 'locked' }]);
  });

  it.skipIf(skip)('keeps the attempted email out of the audit row unless Z4J_LOG_LOGIN_EMAIL is set', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    await login(harness, { email: 'private-person@example.com', password: 'whatever it may be' });
    const [newest] = await auditRows(harness, 'user.login', null);
    expect(newest?.metadata).toEqual({ reason: 'unknown_user' });
  });

  it.skipIf(skip)(
    'locks after Z4J_LOGIN_LOCKOUT_THRESHOLD failures, even for the right password, and unlocks after the duration',
    async () => {
      const harness = createApiHarness(test().database.db, {
        Z4J_LOGIN_LOCKOUT_THRESHOLD: '3',
        Z4J_LOGIN_LOCKOUT_DURATION_SECONDS: '60',
      });
      await harness.reset();
      const user = await harness.createUser();
      const wrong = () => login(harness, { email: user.email, password: 'not the right one' });

      expect((await wrong()).status).toBe(401);
      expect((await wrong()).status).toBe(401);
      const wrongReply = await wrong();
      const state = await harness.db
        .selectFrom('users')
        .select(['failed_login_count', 'locked_until', 'last_failed_login_at'])
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(state).toEqual({
        failed_login_count: 3,
        locked_until: new Date(harness.clock.now.getTime() + 60_000),
        last_failed_login_at: harness.clock.now,
      });
      expect(await auditRows(harness, 'user.login.locked', user.id)).toEqual([
        expect.objectContaining({ result: 'locked', outcome: 'deny', metadata: expect.objectContaining({ failed_count: 3 }) }),
      ]);

      const lockedReply = await login(harness, { email: user.email, password: user.password });
      expect(lockedReply.status).toBe(401);
      expect(lockedReply.body.error).toBe(wrongReply.body.error);
      expect(lockedReply.body.message).toBe(wrongReply.body.message);

      harness.clock.advance(59_000);
      expect((await login(harness, { email: user.email, password: user.password })).status).toBe(401);
      harness.clock.advance(2_000);
      expect((await login(harness, { email: user.email, password: user.password })).status).toBe(200);
      const reset = await harness.db
        .selectFrom('users')
        .select(['failed_login_count', 'locked_until'])
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(reset).toEqual({ failed_login_count: 0, locked_until: null });
    },
  );

  it.skipIf(skip)('starts a fresh count after a lock ran out instead of locking again at the first failure', async () => {
    const harness = createApiHarness(test().database.db, {
      Z4J_LOGIN_LOCKOUT_THRESHOLD: '3',
      Z4J_LOGIN_LOCKOUT_DURATION_SECONDS: '60',
    });
    await harness.reset();
    const user = await harness.createUser();
    for (let attempt = 0; attempt < 3; attempt += 1) await login(harness, { email: user.email, password: 'not the right one' });
    harness.clock.advance(61_000);
    await login(harness, { email: user.email, password: 'not the right one' });
    const state = await harness.db
      .selectFrom('users')
      .select(['failed_login_count', 'locked_until'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(state).toEqual({ failed_login_count: 1, locked_until: null });
    expect((await login(harness, { email: user.email, password: user.password })).status).toBe(200);
  });

  it.skipIf(skip)('holds Z4J_LOGIN_MIN_DURATION_MS for known and unknown emails and for success', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_LOGIN_MIN_DURATION_MS: '150' });
    await harness.reset();
    const user = await harness.createUser();
    const timed = async (body: unknown) => {
      const started = performance.now();
      const reply = await login(harness, body);
      return { reply, ms: performance.now() - started };
    };
    const known = await timed({ email: user.email, password: 'not the right one' });
    const unknown = await timed({ email: 'nobody-here@example.com', password: 'not the right one' });
    const success = await timed({ email: user.email, password: user.password });
    expect([known.reply.status, unknown.reply.status, success.reply.status]).toEqual([401, 401, 200]);
    // Lower bounds the handler guarantees by construction (it pads to the floor), not speed claims.
    expect(known.ms).toBeGreaterThanOrEqual(150);
    expect(unknown.ms).toBeGreaterThanOrEqual(150);
    expect(success.ms).toBeGreaterThanOrEqual(150);
  });

  it.skipIf(skip)('waits the per-failure backoff (Z4J_LOGIN_BACKOFF_*) before answering, for unknown emails too', async () => {
    // base 0.05 s × 2^1 for the first failure = 0.1 s, the cap.
    const harness = createApiHarness(test().database.db, {
      Z4J_LOGIN_BACKOFF_BASE_SECONDS: '0.05',
      Z4J_LOGIN_BACKOFF_MAX_SECONDS: '0.1',
    });
    await harness.reset();
    const user = await harness.createUser();
    for (const email of [user.email, 'nobody-here@example.com']) {
      const started = performance.now();
      expect((await login(harness, { email, password: 'not the right one' })).status).toBe(401);
      expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    }
  });

  it.skipIf(skip)('limits sign-in attempts to 20 per minute per client address (429)', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    for (let attempt = 0; attempt < 20; attempt += 1) {
      expect((await login(harness, { email: 'x@example.com', password: 'guess guess guess' }, { ip: '10.9.9.9' })).status).toBe(401);
    }
    const limited = await login(harness, { email: user.email, password: user.password }, { ip: '10.9.9.9' });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect((await login(harness, { email: user.email, password: user.password }, { ip: '10.9.9.10' })).status).toBe(200);
    harness.clock.advance(61_000);
    expect((await login(harness, { email: user.email, password: user.password }, { ip: '10.9.9.9' })).status).toBe(200);
  });

  it.skipIf(skip)('rejects a non-JSON body (login CSRF through an HTML form) and validates the fields', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const form = await harness.request('POST', '/api/v1/auth/login', {
      rawBody: JSON.stringify({ email: user.email, password: user.password }),
      headers: { 'content-type': 'text/plain' },
    });
    expect(form.status).toBe(415);
    const invalid = await login(harness, { email: user.email, remember_me: 'yes' });
    expect(invalid.status).toBe(422);
    expect(invalid.body.details.errors.map((error: { field: string }) => error.field)).toEqual(['body.password', 'body.remember_me']);
  });

  it.skipIf(skip)(
    'with MFA enrolled: mfa_required and an unverified session, unless a valid trusted-device cookie comes along',
    async () => {
      const harness = createApiHarness(test().database.db);
      await harness.reset();
      const user = await harness.createUser();
      const other = await harness.createUser();
      await enrolMfa(harness, user);
      const device = async (owner: TestUser, extra: { revoked_at?: Date; expires_at?: Date } = {}) => {
        const minted = mintTrustedDevice();
        await harness.db
          .insertInto('trusted_devices')
          .values({
            user_id: owner.id,
            cookie_id_hash: minted.deviceHash,
            expires_at: new Date(harness.clock.now.getTime() + 86_400_000),
            ...extra,
          })
          .execute();
        return minted.deviceId;
      };
      const loginWith = async (deviceId?: string) => {
        const jar = new CookieJar();
        if (deviceId) jar.cookies.set('z4j_mfa_trust', deviceId);
        const reply = await login(harness, { email: user.email, password: user.password }, { jar });
        return { reply, jar };
      };

      const plain = await loginWith();
      expect(plain.reply.body).toMatchObject({ mfa_required: true, user: { mfa_enrolled: true } });
      // Pending MFA: `me` answers, everything else wants the code first.
      const me = await harness.request('GET', '/api/v1/auth/me', { jar: plain.jar });
      expect(me.body.mfa).toEqual({ enrolled: true, verified_this_session: false });
      expect((await harness.request('GET', '/api/v1/auth/sessions', { jar: plain.jar })).body.error).toBe('mfa_required');

      const expired = await device(user, { expires_at: new Date(harness.clock.now.getTime() - 1000) });
      const revoked = await device(user, { revoked_at: harness.clock.now });
      const foreign = await device(other);
      for (const deviceId of [expired, revoked, foreign, 'made-up-device-id']) {
        expect((await loginWith(deviceId)).reply.body.mfa_required).toBe(true);
      }

      const good = await device(user);
      const trusted = await loginWith(good);
      expect(trusted.reply.body.mfa_required).toBe(false);
      expect((await harness.request('GET', '/api/v1/auth/me', { jar: trusted.jar })).body.mfa).toEqual({
        enrolled: true,
        verified_this_session: true,
      });
      expect((await harness.request('GET', '/api/v1/auth/sessions', { jar: trusted.jar })).status).toBe(200);
      const used = await auditRows(harness, 'user.mfa_trusted_device_used', user.id);
      expect(used).toHaveLength(1);
      const stored = await harness.db
        .selectFrom('trusted_devices')
        .select(['id', 'last_seen_at'])
        .where('user_id', '=', user.id)
        .where('last_seen_at', 'is not', null)
        .execute();
      expect(stored).toEqual([{ id: used[0]?.target_id, last_seen_at: harness.clock.now }]);
    },
  );

  it.skipIf(skip)('starts the MFA enrolment grace at the first sign-in under enforcement, once', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_MFA_ENFORCE_FOR_ADMINS: 'true' });
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });
    const member = await harness.createUser();
    const startedAt = async (user: TestUser) =>
      (await harness.db.selectFrom('users').select('mfa_enforcement_started_at').where('id', '=', user.id).executeTakeFirstOrThrow())
        .mfa_enforcement_started_at;

    const firstLogin = harness.clock.now;
    expect((await login(harness, { email: admin.email, password: admin.password })).status).toBe(200);
    expect((await login(harness, { email: member.email, password: member.password })).status).toBe(200);
    expect(await startedAt(admin)).toEqual(firstLogin);
    expect(await startedAt(member)).toBeNull();
    harness.clock.advance(3_600_000);
    await login(harness, { email: admin.email, password: admin.password });
    expect(await startedAt(admin)).toEqual(firstLogin);

    // Past the grace the session still signs in, but only `me`, logout and the MFA routes answer.
    harness.clock.advance(8 * 86_400_000);
    const jar = new CookieJar();
    expect((await login(harness, { email: admin.email, password: admin.password }, { jar })).status).toBe(200);
    expect((await harness.request('GET', '/api/v1/auth/me', { jar })).status).toBe(200);
    expect((await harness.request('GET', '/api/v1/auth/sessions', { jar })).body.error).toBe('mfa_enrollment_required');
  });

  it.skipIf(skip)('rehashes a password stored with other argon2 costs, and replaces the browser’s previous session', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const oldHash = await hashPassword(user.password, { argon2MemoryCost: 4096, argon2TimeCost: 2, argon2Parallelism: 1 });
    await harness.db.updateTable('users').set({ password_hash: oldHash }).where('id', '=', user.id).execute();

    const jar = await harness.sessionJar(user);
    const previous = jar.get('z4j_session');
    expect((await login(harness, { email: user.email, password: user.password }, { jar })).status).toBe(200);
    const stored = await harness.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(stored.password_hash).not.toBe(oldHash);
    expect(needsRehash(stored.password_hash, harness.deps.passwords.costs)).toBe(false);
    expect(await verifyPassword(stored.password_hash, user.password)).toBe(true);
    expect((await auditRows(harness, 'user.login', user.id))[0]?.metadata).toMatchObject({ password_rehashed: true });

    const stale = new CookieJar();
    stale.cookies.set('z4j_session', previous!);
    expect((await harness.request('GET', '/api/v1/auth/me', { jar: stale })).status).toBe(401);
    expect((await harness.request('GET', '/api/v1/auth/me', { jar })).status).toBe(200);
    const revoked = await harness.db
      .selectFrom('sessions')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('user_id', '=', user.id)
      .where('revocation_reason', '=', 'replaced_by_login')
      .executeTakeFirstOrThrow();
    expect(revoked.n).toBe(1);
  });
});
