import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { generateTotp, openTotpSecret, totpTimeStep } from '@z4j/identity';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness, type ApiHarness, type CookieJar, type TestUser } from '../testing/api-harness.js';

const postgres = await probePostgres();

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (no padding) to bytes: what an authenticator app does with `secret_base32`. */
function base32Decode(text: string): Buffer {
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of text) {
    const index = BASE32.indexOf(char);
    if (index === -1) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** A six-digit code that none of the three steps around `now` accepts. */
function wrongCode(secret: Buffer, now: Date): string {
  const valid = new Set([-30_000, 0, 30_000].map((offset) => generateTotp(secret, new Date(now.getTime() + offset))));
  for (let n = 0; ; n += 1) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

const post = (harness: ApiHarness, path: string, jar: CookieJar, body?: unknown) =>
  harness.request('POST', `/api/v1/auth/mfa/${path}`, { jar, csrf: true, ...(body === undefined ? {} : { body }) });

/** Enrols `user` through the API with a real code; the enrolling session ends up verified. */
async function enrol(harness: ApiHarness, user: TestUser, jar?: CookieJar) {
  const browser = jar ?? (await harness.sessionJar(user));
  const started = await post(harness, 'enroll-start', browser);
  expect(started.status).toBe(200);
  const secret = base32Decode(started.body.secret_base32);
  const completed = await post(harness, 'enroll-complete', browser, { code: generateTotp(secret, harness.clock.now) });
  expect(completed.status).toBe(200);
  return { jar: browser, secret, recoveryCodes: completed.body.recovery_codes as string[] };
}

async function auditActions(harness: ApiHarness, userId: string) {
  const rows = await harness.db
    .selectFrom('audit_log')
    .select(['action', 'result', 'metadata'])
    .where('target_id', '=', userId)
    .orderBy('occurred_at')
    .execute();
  return rows;
}

describeEachDatabase('MFA routes', postgres, ({ skip, test }) => {
  it.skipIf(skip)('enrols with a real code: the secret is sealed, codes are hashed, the session is verified, all audited', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const jar = await harness.sessionJar(user);

    const before = await harness.request('GET', '/api/v1/auth/mfa/status', { jar });
    expect(before.body).toEqual({ enrolled: false, enrolled_at: null, remaining_recovery_codes: 0 });

    const started = await post(harness, 'enroll-start', jar);
    expect(started.status).toBe(200);
    expect(started.body.secret_base32).toMatch(/^[A-Z2-7]{32}$/);
    expect(started.body.provisioning_url).toBe(
      `otpauth://totp/z4j%20(localhost):${encodeURIComponent(user.email)}?secret=${started.body.secret_base32}&issuer=z4j%20(localhost)&algorithm=SHA1&digits=6&period=30`,
    );
    const secret = base32Decode(started.body.secret_base32);

    // At rest: nonce ‖ ciphertext ‖ tag under the HKDF key, bound to this user; neither the bytes nor base32 appear.
    const pending = await harness.db
      .selectFrom('users')
      .select(['mfa_secret_encrypted', 'mfa_enrolled_at'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    const sealed = Buffer.from(pending.mfa_secret_encrypted!);
    expect(pending.mfa_enrolled_at).toBeNull();
    expect(sealed.length).toBe(12 + 20 + 16);
    expect(sealed.includes(secret)).toBe(false);
    expect(sealed.toString('latin1')).not.toContain(started.body.secret_base32);
    const opened = openTotpSecret(sealed, user.id, { secret: TEST_SECRET });
    expect(opened.ok && opened.plaintext.equals(secret)).toBe(true);
    expect(openTotpSecret(sealed, (await harness.createUser()).id, { secret: TEST_SECRET }).ok).toBe(false);

    const wrong = await post(harness, 'enroll-complete', jar, { code: wrongCode(secret, harness.clock.now) });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_mfa_code');
    expect((await harness.request('GET', '/api/v1/auth/mfa/status', { jar })).body.enrolled).toBe(false);

    const done = await post(harness, 'enroll-complete', jar, { code: generateTotp(secret, harness.clock.now) });
    expect(done.status).toBe(200);
    const codes: string[] = done.body.recovery_codes;
    expect(codes).toHaveLength(10);
    for (const code of codes)
      expect(code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{4}$/);

    const enrolled = await harness.db
      .selectFrom('users')
      .select(['mfa_enrolled_at', 'mfa_last_time_step'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(enrolled.mfa_enrolled_at).toEqual(harness.clock.now);
    expect(Number(enrolled.mfa_last_time_step)).toBe(totpTimeStep(harness.clock.now));
    const stored = await harness.db
      .selectFrom('mfa_recovery_codes')
      .select(['code_hash', 'consumed_at'])
      .where('user_id', '=', user.id)
      .execute();
    expect(stored).toHaveLength(10);
    for (const row of stored) {
      expect(row.code_hash).toMatch(/^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
      expect(row.consumed_at).toBeNull();
      for (const code of codes) expect(row.code_hash).not.toContain(code);
    }
    const session = await harness.db
      .selectFrom('sessions')
      .select('mfa_verified_at')
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(session.mfa_verified_at).toEqual(harness.clock.now);

    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar })).status).toBe(200);
    expect((await harness.request('GET', '/api/v1/auth/mfa/status', { jar })).body).toEqual({
      enrolled: true,
      enrolled_at: harness.clock.now.toISOString(),
      remaining_recovery_codes: 10,
    });
    const again = await post(harness, 'enroll-start', jar);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('conflict');

    expect((await auditActions(harness, user.id)).map((row) => [row.action, row.result])).toEqual([
      ['user.mfa_enrollment_started', 'success'],
      ['user.mfa_failed', 'failed'],
      ['user.mfa_enrolled', 'success'],
    ]);
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);
  });

  it.skipIf(skip)('an unverified session gets 401 mfa_required but can verify; a code works once, older steps never', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const { secret } = await enrol(harness, user);
    harness.clock.advance(30_000);

    const jar = await harness.sessionJar(user);
    const blocked = await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar });
    expect(blocked.status).toBe(401);
    expect(blocked.body.error).toBe('mfa_required');
    expect((await post(harness, 'enroll-start', jar)).body.error).toBe('mfa_required');
    expect((await harness.request('GET', '/api/v1/auth/mfa/status', { jar })).status).toBe(200);

    const wrong = await post(harness, 'verify', jar, { code: wrongCode(secret, harness.clock.now) });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'invalid_mfa_code', request_id: expect.any(String) });

    const code = generateTotp(secret, harness.clock.now);
    const verified = await post(harness, 'verify', jar, { code: `${code.slice(0, 3)} ${code.slice(3)}` });
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({ ok: true, used_recovery_code: false });
    expect(verified.setCookies.some((line) => line.includes('z4j_mfa_trust'))).toBe(false);
    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar })).status).toBe(200);

    // The same code from another session (say, read over a shoulder), and a code of the step before: both refused.
    const other = await harness.sessionJar(user);
    const replayed = await post(harness, 'verify', other, { code });
    expect(replayed.status).toBe(401);
    expect(replayed.body.error).toBe('invalid_mfa_code');
    const older = await post(harness, 'verify', other, { code: generateTotp(secret, new Date(harness.clock.now.getTime() - 30_000)) });
    expect(older.status).toBe(401);
    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar: other })).status).toBe(401);

    harness.clock.advance(30_000);
    expect((await post(harness, 'verify', other, { code: generateTotp(secret, harness.clock.now) })).status).toBe(200);
    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar: other })).status).toBe(200);

    const failures = (await auditActions(harness, user.id)).filter((row) => row.action === 'user.mfa_failed');
    expect(failures.map((row) => row.metadata)).toEqual([
      { purpose: 'verify', reason: 'mismatch' },
      { purpose: 'verify', reason: 'replayed' },
      { purpose: 'verify', reason: 'replayed' },
    ]);
    expect((await auditActions(harness, user.id)).filter((row) => row.action === 'user.mfa_verified')).toHaveLength(2);
  });

  it.skipIf(skip)('a recovery code works once, however it is typed', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const { recoveryCodes } = await enrol(harness, user);
    const code = recoveryCodes[3]!;

    const jar = await harness.sessionJar(user);
    const used = await post(harness, 'verify', jar, { code: code.replaceAll('-', '').toLowerCase() });
    expect(used.status).toBe(200);
    expect(used.body).toEqual({ ok: true, used_recovery_code: true });
    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar })).status).toBe(200);
    expect((await harness.request('GET', '/api/v1/auth/mfa/status', { jar })).body.remaining_recovery_codes).toBe(9);
    const consumed = await harness.db
      .selectFrom('mfa_recovery_codes')
      .select('consumed_at')
      .where('user_id', '=', user.id)
      .where('consumed_at', 'is not', null)
      .execute();
    expect(consumed).toEqual([{ consumed_at: harness.clock.now }]);

    const again = await post(harness, 'verify', await harness.sessionJar(user), { code });
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_mfa_code');
    const notACode = await post(harness, 'verify', await harness.sessionJar(user), { code: 'not a code' });
    expect(notACode.status).toBe(401);

    const actions = await auditActions(harness, user.id);
    expect(actions.find((row) => row.action === 'user.mfa_recovery_code_used')?.metadata).toEqual({ remaining: 9 });
    expect(actions.find((row) => row.action === 'user.mfa_verified')?.metadata).toEqual({ method: 'recovery_code' });
    expect(actions.filter((row) => row.action === 'user.mfa_failed').map((row) => row.metadata)).toEqual([
      { purpose: 'verify', reason: 'mismatch' },
      { purpose: 'verify', reason: 'malformed' },
    ]);
  });

  it.skipIf(skip)('fresh MFA: regenerating recovery codes needs a verify within Z4J_MFA_VERIFICATION_TTL_SECONDS', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_MFA_VERIFICATION_TTL_SECONDS: '300' });
    await harness.reset();
    const user = await harness.createUser();
    const { jar, secret, recoveryCodes } = await enrol(harness, user);

    const fresh = await post(harness, 'recovery-codes/regenerate', jar);
    expect(fresh.status).toBe(200);
    expect(fresh.body.recovery_codes).toHaveLength(10);
    expect(fresh.body.recovery_codes.some((code: string) => recoveryCodes.includes(code))).toBe(false);

    harness.clock.advance(301_000);
    const stale = await post(harness, 'recovery-codes/regenerate', jar);
    expect(stale.status).toBe(403);
    expect(stale.body.error).toBe('mfa_reverify_required');
    // Reading is not a sensitive action: the session is still signed in and verified.
    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar })).status).toBe(200);

    expect((await post(harness, 'verify', jar, { code: generateTotp(secret, harness.clock.now) })).status).toBe(200);
    const renewed = await post(harness, 'recovery-codes/regenerate', jar);
    expect(renewed.status).toBe(200);

    // Only the newest set is stored; an older set's code no longer verifies.
    expect(await harness.db.selectFrom('mfa_recovery_codes').select('id').where('user_id', '=', user.id).execute()).toHaveLength(10);
    expect((await post(harness, 'verify', jar, { code: fresh.body.recovery_codes[0] })).status).toBe(401);
    expect((await post(harness, 'verify', jar, { code: renewed.body.recovery_codes[0] })).status).toBe(200);
    expect((await auditActions(harness, user.id)).filter((row) => row.action === 'user.mfa_recovery_codes_regenerated')).toHaveLength(2);
  });

  it.skipIf(skip)('limits verify attempts per client IP (Z4J_MFA_VERIFICATION_RATE_PER_MIN)', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_MFA_VERIFICATION_RATE_PER_MIN: '3' });
    await harness.reset();
    const user = await harness.createUser();
    const { secret } = await enrol(harness, user);
    harness.clock.advance(30_000);
    const jar = await harness.sessionJar(user);
    const attempt = (ip: string, code: string) =>
      harness.request('POST', '/api/v1/auth/mfa/verify', { jar, csrf: true, ip, body: { code } });

    for (let i = 0; i < 3; i += 1) expect((await attempt('203.0.113.7', wrongCode(secret, harness.clock.now))).status).toBe(401);
    const limited = await attempt('203.0.113.7', generateTotp(secret, harness.clock.now));
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    // The limit is per address; and it slides: a minute later the first address may try again.
    expect((await attempt('198.51.100.2', wrongCode(secret, harness.clock.now))).status).toBe(401);
    harness.clock.advance(61_000);
    expect((await attempt('203.0.113.7', generateTotp(secret, harness.clock.now))).status).toBe(200);
  });

  it.skipIf(skip)('disable needs the password and a current code, then clears the secret, codes and devices', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const { jar, secret } = await enrol(harness, user);
    await harness.db
      .insertInto('trusted_devices')
      .values({ user_id: user.id, cookie_id_hash: 'a'.repeat(64), expires_at: new Date(harness.clock.now.getTime() + 86_400_000) })
      .execute();
    harness.clock.advance(30_000);
    const code = generateTotp(secret, harness.clock.now);

    const badPassword = await post(harness, 'disable', jar, { password: 'not the password at all', code });
    expect(badPassword.status).toBe(401);
    expect(badPassword.body.error).toBe('invalid_credentials');
    const badCode = await post(harness, 'disable', jar, { password: user.password, code: wrongCode(secret, harness.clock.now) });
    expect(badCode.status).toBe(401);
    expect(badCode.body.error).toBe('invalid_credentials');
    const missing = await post(harness, 'disable', jar, { code });
    expect(missing.status).toBe(422);

    const disabled = await post(harness, 'disable', jar, { password: user.password, code });
    expect(disabled.status).toBe(204);
    const row = await harness.db
      .selectFrom('users')
      .select(['mfa_secret_encrypted', 'mfa_enrolled_at', 'mfa_last_time_step'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ mfa_secret_encrypted: null, mfa_enrolled_at: null, mfa_last_time_step: null });
    expect(await harness.db.selectFrom('mfa_recovery_codes').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
    expect(await harness.db.selectFrom('trusted_devices').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
    expect((await harness.request('GET', '/api/v1/auth/mfa/status', { jar })).body).toEqual({
      enrolled: false,
      enrolled_at: null,
      remaining_recovery_codes: 0,
    });

    expect((await post(harness, 'disable', jar, { password: user.password, code })).status).toBe(409);
    expect((await post(harness, 'verify', jar, { code })).status).toBe(409);
    const actions = await auditActions(harness, user.id);
    expect(actions.filter((entry) => entry.action === 'user.mfa_failed').map((entry) => entry.metadata)).toEqual([
      { purpose: 'disable', reason: 'password' },
      { purpose: 'disable', reason: 'code_mismatch' },
    ]);
    expect(actions.find((entry) => entry.action === 'user.mfa_disabled')?.metadata).toEqual({
      recovery_codes_deleted: 10,
      trusted_devices_deleted: 1,
    });
    // A new enrolment starts from scratch.
    expect((await post(harness, 'enroll-start', jar)).status).toBe(200);
  });

  it.skipIf(skip)('disable is a sensitive action: it needs fresh MFA', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_MFA_VERIFICATION_TTL_SECONDS: '60' });
    await harness.reset();
    const user = await harness.createUser();
    const { jar, secret } = await enrol(harness, user);
    harness.clock.advance(90_000);
    const stale = await post(harness, 'disable', jar, { password: user.password, code: generateTotp(secret, harness.clock.now) });
    expect(stale.status).toBe(403);
    expect(stale.body.error).toBe('mfa_reverify_required');
  });

  it.skipIf(skip)('enforcement: past the grace an unenrolled user is held at 403 mfa_enrollment_required but can enrol', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_MFA_ENFORCE_FOR_ALL: 'true', Z4J_MFA_ENROLLMENT_GRACE_DAYS: '7' });
    await harness.reset();
    const late = await harness.createUser();
    const early = await harness.createUser();
    const day = 86_400_000;
    await harness.db
      .updateTable('users')
      .set({ mfa_enforcement_started_at: new Date(harness.clock.now.getTime() - 8 * day) })
      .where('id', '=', late.id)
      .execute();
    await harness.db
      .updateTable('users')
      .set({ mfa_enforcement_started_at: new Date(harness.clock.now.getTime() - day) })
      .where('id', '=', early.id)
      .execute();

    const earlyJar = await harness.sessionJar(early);
    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar: earlyJar })).status).toBe(200);

    const jar = await harness.sessionJar(late);
    const held = await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar });
    expect(held.status).toBe(403);
    expect(held.body.error).toBe('mfa_enrollment_required');
    expect((await harness.request('GET', '/api/v1/auth/mfa/status', { jar })).status).toBe(200);
    await enrol(harness, late, jar);
    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar })).status).toBe(200);
  });

  it.skipIf(skip)('every MFA write needs the CSRF header, and API keys cannot reach MFA routes', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const jar = await harness.sessionJar(user);
    for (const path of ['enroll-start', 'enroll-complete', 'verify', 'disable', 'recovery-codes/regenerate']) {
      const reply = await harness.request('POST', `/api/v1/auth/mfa/${path}`, { jar, body: { code: '123456', password: 'x' } });
      expect(reply.status, path).toBe(403);
      expect(reply.body.error, path).toBe('csrf_failed');
    }
    const wrongToken = await harness.request('POST', '/api/v1/auth/mfa/enroll-start', { jar, headers: { 'x-csrf-token': 'nope' } });
    expect(wrongToken.body.error).toBe('csrf_failed');
    expect(
      (await harness.db.selectFrom('users').select('mfa_secret_encrypted').where('id', '=', user.id).executeTakeFirstOrThrow())
        .mfa_secret_encrypted,
    ).toBeNull();

    const key = await harness.createApiKey(user, ['admin:*']);
    const viaKey = await harness.request('GET', '/api/v1/auth/mfa/status', { headers: { authorization: `Bearer ${key}` } });
    expect(viaKey.status).toBe(403);
    expect((await harness.request('GET', '/api/v1/auth/mfa/status')).status).toBe(401);
  });
});
