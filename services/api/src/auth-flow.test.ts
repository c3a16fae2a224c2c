import { expect, it } from 'vitest';
import { generateTotp } from '@z4j/identity';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { ensureFirstBootToken } from './first-boot.js';
import { CookieJar, TEST_SECRET, createApiHarness } from './testing/api-harness.js';

const postgres = await probePostgres();

/**
 * The whole sign-in story over HTTP, as an operator lives it: setup token →
 * admin → login → MFA enrolment → logout → login needs MFA → a recovery code
 * works once → remember-device skips MFA → lockout after the threshold → the
 * timing floor holds for known and unknown emails.
 */
describeEachDatabase('sign-in flow end to end', postgres, ({ skip, test }) => {
  it.skipIf(skip)('setup → login → MFA → recovery code → trusted device → lockout → timing floor', async () => {
    const harness = createApiHarness(test().database.db, {
      Z4J_LOGIN_LOCKOUT_THRESHOLD: '3',
      Z4J_LOGIN_LOCKOUT_DURATION_SECONDS: '900',
      Z4J_LOGIN_MIN_DURATION_MS: '0',
    });
    await harness.reset();
    const email = 'ops@example.com';
    const password = 'a long enough passphrase';

    // 1. First boot: the one-time token becomes the global admin.
    const minted = await ensureFirstBootToken({
      db: harness.db,
      secret: TEST_SECRET,
      publicUrl: 'http://localhost:7700',
      ttlSeconds: 900,
      now: () => harness.clock.now,
    });
    if (minted.state !== 'minted') throw new Error('expected a setup token');
    expect((await harness.request('POST', '/api/v1/setup/complete', { body: { token: minted.token, email, password } })).status).toBe(201);

    // 2. Login.
    const browser = new CookieJar();
    const login = await harness.request('POST', '/api/v1/auth/login', { jar: browser, body: { email, password } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ mfa_required: false, user: { email, is_admin: true } });
    expect((await harness.request('GET', '/api/v1/auth/me', { jar: browser })).body.memberships).toEqual([
      expect.objectContaining({ project_slug: 'default', role: 'admin' }),
    ]);

    // 3. MFA enrolment with a real TOTP code.
    const start = await harness.request('POST', '/api/v1/auth/mfa/enroll-start', { jar: browser, csrf: true });
    expect(start.status).toBe(200);
    const secret = Buffer.from(base32Decode(start.body.secret_base32));
    const complete = await harness.request('POST', '/api/v1/auth/mfa/enroll-complete', {
      jar: browser,
      csrf: true,
      body: { code: generateTotp(secret, harness.clock.now) },
    });
    expect(complete.status).toBe(200);
    const recoveryCodes: string[] = complete.body.recovery_codes;
    expect(recoveryCodes.length).toBeGreaterThan(0);

    // 4. Logout: the old cookie is worthless afterwards.
    expect((await harness.request('POST', '/api/v1/auth/logout', { jar: browser, csrf: true })).status).toBe(204);
    expect((await harness.request('GET', '/api/v1/projects', { jar: browser })).status).toBe(401);

    // 5. Login again: MFA is now required before anything else works.
    const second = new CookieJar();
    const relogin = await harness.request('POST', '/api/v1/auth/login', { jar: second, body: { email, password } });
    expect(relogin.body.mfa_required).toBe(true);
    const blocked = await harness.request('GET', '/api/v1/projects', { jar: second });
    expect(blocked.status).toBe(401);
    expect(blocked.body.error).toBe('mfa_required');

    // 6. A recovery code works once…
    const recovery = await harness.request('POST', '/api/v1/auth/mfa/verify', {
      jar: second,
      csrf: true,
      body: { code: recoveryCodes[0], remember_device: true },
    });
    expect(recovery.status).toBe(200);
    expect(recovery.body).toMatchObject({ ok: true, used_recovery_code: true });
    expect((await harness.request('GET', '/api/v1/projects', { jar: second })).status).toBe(200);
    const third = new CookieJar();
    await harness.request('POST', '/api/v1/auth/login', { jar: third, body: { email, password } });
    const reused = await harness.request('POST', '/api/v1/auth/mfa/verify', { jar: third, csrf: true, body: { code: recoveryCodes[0] } });
    expect(reused.status).toBe(401);

    // 7. …and remember-device (set in step 6) skips MFA on the next login from that browser.
    const trust = [...second.cookies].find(([name]) => name.endsWith('z4j_mfa_trust'));
    expect(trust).toBeDefined();
    const remembered = new CookieJar();
    remembered.cookies.set(trust![0], trust![1]);
    const trustedLogin = await harness.request('POST', '/api/v1/auth/login', { jar: remembered, body: { email, password } });
    expect(trustedLogin.body.mfa_required).toBe(false);
    expect((await harness.request('GET', '/api/v1/projects', { jar: remembered })).status).toBe(200);

    // 8. Lockout: after the threshold even the right password fails, with the same reply as a wrong one.
    const wrong = await harness.request('POST', '/api/v1/auth/login', { body: { email, password: 'wrong password here' } });
    for (let attempt = 1; attempt < 3; attempt += 1)
      await harness.request('POST', '/api/v1/auth/login', { body: { email, password: 'wrong password here' } });
    const locked = await harness.request('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(locked.status).toBe(401);
    expect(locked.body.error).toBe(wrong.body.error);
    expect(locked.body.message).toBe(wrong.body.message);
    harness.clock.advance(901_000);
    expect((await harness.request('POST', '/api/v1/auth/login', { body: { email, password } })).status).toBe(200);

    const actions = await harness.db.selectFrom('audit_log').select('action').execute();
    expect(actions.map((row) => row.action)).toEqual(
      expect.arrayContaining(['setup.completed', 'user.login', 'user.mfa_recovery_code_used']),
    );
  });

  it.skipIf(skip)('holds the login timing floor for known and unknown emails alike', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_LOGIN_MIN_DURATION_MS: '250' });
    await harness.reset();
    const user = await harness.createUser();
    const timed = async (email: string) => {
      const started = performance.now();
      const reply = await harness.request('POST', '/api/v1/auth/login', { body: { email, password: 'not the password at all' } });
      return { reply, ms: performance.now() - started };
    };
    const known = await timed(user.email);
    const unknown = await timed('nobody-here@example.com');
    expect(known.reply.status).toBe(401);
    expect(unknown.reply.body).toEqual({ ...known.reply.body, request_id: unknown.reply.body.request_id });
    // A lower bound the implementation guarantees by construction (it pads to the floor), not a speed claim.
    expect(known.ms).toBeGreaterThanOrEqual(245);
    expect(unknown.ms).toBeGreaterThanOrEqual(245);
  });
});

/** RFC 4648 base32 (what authenticator apps read) back to bytes. */
function base32Decode(text: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}
