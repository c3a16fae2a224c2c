import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { CookieJar, createApiHarness, type ApiHarness, type TestUser } from '../testing/api-harness.js';

const postgres = await probePostgres();

async function auditActions(harness: ApiHarness, userId: string) {
  return harness.db
    .selectFrom('audit_log')
    .select(['action', 'result', 'metadata'])
    .where('user_id', '=', userId)
    .orderBy('occurred_at')
    .execute();
}

async function signIn(harness: ApiHarness, user: TestUser, password = user.password): Promise<CookieJar> {
  const jar = new CookieJar();
  const reply = await harness.request('POST', '/api/v1/auth/login', { jar, body: { email: user.email, password } });
  expect(reply.status).toBe(200);
  return jar;
}

/** A copy of a browser's cookies as they are now (a jar forgets what the server deletes). */
function snapshot(jar: CookieJar): CookieJar {
  const copy = new CookieJar();
  for (const [name, value] of jar.cookies) copy.cookies.set(name, value);
  return copy;
}

describeEachDatabase('auth account routes', postgres, ({ skip, test }) => {
  it.skipIf(skip)('GET /auth/me: the user, explicit memberships, MFA state; also for an auth:read API key', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true, memberships: { payments: 'viewer' } });
    await harness.createProject('billing');
    const jar = await signIn(harness, admin);
    const me = await harness.request('GET', '/api/v1/auth/me', { jar });
    expect(me.status).toBe(200);
    const paymentsId = (await harness.db.selectFrom('projects').select('id').where('slug', '=', 'payments').executeTakeFirstOrThrow()).id;
    expect(me.body).toMatchObject({
      id: admin.id,
      email: admin.email,
      is_admin: true,
      mfa_enrolled: false,
      // A global admin sees only the memberships it has; `is_admin` stands for the rest.
      memberships: [{ project_id: paymentsId, project_slug: 'payments', role: 'viewer' }],
      mfa: { enrolled: false, verified_this_session: false },
    });

    const key = await harness.createApiKey(admin, ['auth:read']);
    const viaKey = await harness.request('GET', '/api/v1/auth/me', { headers: { authorization: `Bearer ${key}` } });
    expect(viaKey.status).toBe(200);
    expect(viaKey.body.id).toBe(admin.id);
    const keyWrite = await harness.request('PATCH', '/api/v1/auth/me', {
      headers: { authorization: `Bearer ${key}` },
      body: { first_name: 'Eve' },
    });
    expect(keyWrite.status).toBe(403);
    expect((await harness.request('GET', '/api/v1/auth/me')).status).toBe(401);
  });

  it.skipIf(skip)('PATCH /auth/me: partial profile update, IANA time zone, strict fields, CSRF, audit', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const jar = await signIn(harness, user);

    const noCsrf = await harness.request('PATCH', '/api/v1/auth/me', { jar, body: { first_name: 'Ann' } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error).toBe('csrf_failed');

    const patched = await harness.request('PATCH', '/api/v1/auth/me', {
      jar,
      csrf: true,
      body: { first_name: '  Ann ', last_name: 'Lovelace', timezone: 'europe/paris' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ first_name: 'Ann', last_name: 'Lovelace', display_name: null, timezone: 'Europe/Paris' });

    const cleared = await harness.request('PATCH', '/api/v1/auth/me', { jar, csrf: true, body: { last_name: '', display_name: 'Ada' } });
    expect(cleared.body).toMatchObject({ first_name: 'Ann', last_name: null, display_name: 'Ada', timezone: 'Europe/Paris' });

    const badZone = await harness.request('PATCH', '/api/v1/auth/me', { jar, csrf: true, body: { timezone: 'Mars/Olympus_Mons' } });
    expect(badZone.status).toBe(422);
    expect(badZone.body.details.errors).toEqual([
      { field: 'body.timezone', message: 'must be an IANA time zone such as Europe/Paris or UTC' },
    ]);
    const escalation = await harness.request('PATCH', '/api/v1/auth/me', { jar, csrf: true, body: { is_admin: true } });
    expect(escalation.status).toBe(422);
    expect(escalation.body.details.errors[0].field).toBe('body.is_admin');
    const nullZone = await harness.request('PATCH', '/api/v1/auth/me', { jar, csrf: true, body: { timezone: null } });
    expect(nullZone.status).toBe(422);

    // Nothing changes: no audit row.
    expect((await harness.request('PATCH', '/api/v1/auth/me', { jar, csrf: true, body: { first_name: 'Ann' } })).status).toBe(200);
    const rows = (await auditActions(harness, user.id)).filter((row) => row.action === 'user.profile.updated');
    expect(rows.map((row) => row.metadata)).toEqual([
      { fields: ['first_name', 'last_name', 'timezone'] },
      { fields: ['last_name', 'display_name'] },
    ]);
  });

  it.skipIf(skip)('GET /auth/policy is public and describes Z4J_PASSWORD_MIN_LENGTH', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_PASSWORD_MIN_LENGTH: '14' });
    const reply = await harness.request('GET', '/api/v1/auth/policy');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ min_length: 14, max_length: 1024, rejects_common_passwords: true, hints: expect.any(Array) });
  });

  it.skipIf(skip)('POST /auth/logout revokes the session: the cookie is useless afterwards', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const jar = await signIn(harness, user);
    const before = snapshot(jar);

    const noCsrf = await harness.request('POST', '/api/v1/auth/logout', { jar });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error).toBe('csrf_failed');

    const reply = await harness.request('POST', '/api/v1/auth/logout', { jar, csrf: true });
    expect(reply.status).toBe(204);
    expect(reply.setCookies.filter((line) => /^z4j_(session|csrf)=;/.test(line) && /Max-Age=0/.test(line))).toHaveLength(2);
    expect(jar.get('z4j_session')).toBeUndefined();
    const replayed = await harness.request('GET', '/api/v1/auth/me', { jar: before });
    expect(replayed.status).toBe(401);
    expect((await auditActions(harness, user.id)).map((row) => row.action)).toEqual(['user.login', 'user.logout']);
  });

  it.skipIf(skip)('POST /auth/logout works while the session still owes its MFA code', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    await harness.db
      .updateTable('users')
      .set({ mfa_enrolled_at: harness.clock.now, mfa_secret_encrypted: Buffer.alloc(48, 1) })
      .where('id', '=', user.id)
      .execute();
    const jar = await harness.sessionJar(user);
    expect((await harness.request('PATCH', '/api/v1/auth/me', { jar, csrf: true, body: { first_name: 'A' } })).body.error).toBe(
      'mfa_required',
    );
    expect((await harness.request('POST', '/api/v1/auth/logout', { jar, csrf: true })).status).toBe(204);
  });

  it.skipIf(skip)(
    'POST /auth/change-password: verifies the current one, applies the policy, signs out the other sessions only',
    async () => {
      const harness = createApiHarness(test().database.db);
      await harness.reset();
      const user = await harness.createUser({ email: 'grace@example.com' });
      const bystander = await harness.createUser();
      const bystanderJar = await harness.sessionJar(bystander);
      const laptop = await signIn(harness, user);
      const phone = await harness.sessionJar(user);
      const laptopBefore = snapshot(laptop);
      const newPassword = 'a brand new passphrase for her laptop';
      const change = (body: unknown, jar = laptop) => harness.request('POST', '/api/v1/auth/change-password', { jar, csrf: true, body });

      const wrong = await change({ current_password: 'not my password at all', new_password: newPassword });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toMatchObject({ error: 'invalid_credentials', message: 'invalid email or password' });
      const weak = await change({ current_password: user.password, new_password: 'grace-is-short' });
      expect(weak.status).toBe(422);
      expect(weak.body.details.errors).toEqual([{ field: 'body.new_password', message: 'must not contain your email address' }]);
      const short = await change({ current_password: user.password, new_password: 'short' });
      expect(short.body.details.errors.map((error: { message: string }) => error.message)).toContain('must be at least 12 characters');
      // Nothing has changed yet: every session still works.
      expect((await harness.request('GET', '/api/v1/auth/me', { jar: phone })).status).toBe(200);

      const ok = await change({ current_password: user.password, new_password: newPassword });
      expect(ok.status).toBe(204);
      // The caller got a fresh session in its cookies and stays signed in, including for CSRF-checked writes.
      expect(laptop.get('z4j_session')).not.toBe(laptopBefore.get('z4j_session'));
      expect((await harness.request('GET', '/api/v1/auth/me', { jar: laptop })).status).toBe(200);
      expect((await harness.request('PATCH', '/api/v1/auth/me', { jar: laptop, csrf: true, body: { first_name: 'Grace' } })).status).toBe(
        200,
      );
      // The phone and the caller's previous cookie are signed out; another user is untouched.
      expect((await harness.request('GET', '/api/v1/auth/me', { jar: phone })).status).toBe(401);
      expect((await harness.request('GET', '/api/v1/auth/me', { jar: laptopBefore })).status).toBe(401);
      expect((await harness.request('GET', '/api/v1/auth/me', { jar: bystanderJar })).status).toBe(200);

      const stored = await harness.db.selectFrom('users').select('password_changed_at').where('id', '=', user.id).executeTakeFirstOrThrow();
      expect(stored.password_changed_at).toEqual(harness.clock.now);
      const oldLogin = await harness.request('POST', '/api/v1/auth/login', { body: { email: user.email, password: user.password } });
      expect(oldLogin.status).toBe(401);
      await signIn(harness, user, newPassword);

      const changes = (await auditActions(harness, user.id)).filter((row) => row.action === 'user.password.changed');
      expect(changes.map((row) => [row.result, row.metadata])).toEqual([
        ['failed', { reason: 'bad_current_password' }],
        ['success', { other_sessions_revoked: 1 }],
      ]);
    },
  );

  it.skipIf(skip)('POST /auth/change-password needs a fresh MFA verification when MFA is enrolled', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_MFA_VERIFICATION_TTL_SECONDS: '900' });
    await harness.reset();
    const user = await harness.createUser();
    await harness.db
      .updateTable('users')
      .set({ mfa_enrolled_at: harness.clock.now, mfa_secret_encrypted: Buffer.alloc(48, 1) })
      .where('id', '=', user.id)
      .execute();
    const jar = await harness.sessionJar(user, { mfaVerifiedAt: harness.clock.now });
    harness.clock.advance(901_000);
    const body = { current_password: user.password, new_password: 'another long passphrase here' };
    const stale = await harness.request('POST', '/api/v1/auth/change-password', { jar, csrf: true, body });
    expect(stale.status).toBe(403);
    expect(stale.body.error).toBe('mfa_reverify_required');

    const fresh = await harness.sessionJar(user, { mfaVerifiedAt: harness.clock.now });
    expect((await harness.request('POST', '/api/v1/auth/change-password', { jar: fresh, csrf: true, body })).status).toBe(204);
    // The re-issued session keeps the verification, so the caller is not thrown back to the MFA prompt.
    expect((await harness.request('GET', '/api/v1/auth/me', { jar: fresh })).body.mfa).toEqual({
      enrolled: true,
      verified_this_session: true,
    });
  });
});
