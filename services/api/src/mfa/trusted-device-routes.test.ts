import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { MAX_TRUSTED_DEVICES_PER_USER, generateTotp, generateTotpSecret, sealTotpSecret, totpTimeStep } from '@z4j/identity';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness, type ApiHarness, type TestUser } from '../testing/api-harness.js';

const postgres = await probePostgres();
const DAY = 86_400_000;

/** An enrolled user straight in the database (the enrolment flow itself is covered in mfa-routes.test.ts). */
async function enrolledUser(harness: ApiHarness): Promise<{ user: TestUser; secret: Buffer }> {
  const user = await harness.createUser();
  const secret = generateTotpSecret();
  await harness.db
    .updateTable('users')
    .set({
      mfa_secret_encrypted: sealTotpSecret(secret, user.id, TEST_SECRET),
      mfa_enrolled_at: harness.clock.now,
      mfa_last_time_step: totpTimeStep(harness.clock.now) - 1,
    })
    .where('id', '=', user.id)
    .execute();
  return { user, secret };
}

async function addDevice(harness: ApiHarness, userId: string, createdAt: Date, expiresAt = new Date(createdAt.getTime() + 30 * DAY)) {
  const row = await harness.db
    .insertInto('trusted_devices')
    .values({
      user_id: userId,
      cookie_id_hash: createHash('sha256').update(`${userId}-${createdAt.toISOString()}-${Math.random()}`).digest('hex'),
      created_at: createdAt,
      expires_at: expiresAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

describeEachDatabase('MFA trusted devices', postgres, ({ skip, test }) => {
  it.skipIf(skip)('remember_device sets an HttpOnly SameSite=Strict cookie and stores only its hash; list, rename, revoke', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const { user, secret } = await enrolledUser(harness);
    const jar = await harness.sessionJar(user);
    const userAgent = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0';

    const verified = await harness.request('POST', '/api/v1/auth/mfa/verify', {
      jar,
      csrf: true,
      headers: { 'user-agent': userAgent },
      body: { code: generateTotp(secret, harness.clock.now), remember_device: true },
    });
    expect(verified.status).toBe(200);
    const cookie = verified.setCookies.find((line) => line.startsWith('z4j_mfa_trust='));
    expect(cookie).toBeDefined();
    const attributes = cookie!.split(';').map((part) => part.trim());
    expect(attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/', `Max-Age=${30 * 86_400}`]));
    expect(attributes).not.toContain('Secure');
    const deviceId = jar.get('z4j_mfa_trust')!;
    expect(deviceId).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const stored = await harness.db.selectFrom('trusted_devices').selectAll().where('user_id', '=', user.id).execute();
    expect(stored).toHaveLength(1);
    const device = stored[0]!;
    expect(device.cookie_id_hash).toBe(createHash('sha256').update(deviceId).digest('hex'));
    expect(JSON.stringify(stored)).not.toContain(deviceId);
    expect(device.label).toBe(userAgent);
    expect(device.expires_at).toEqual(new Date(harness.clock.now.getTime() + 30 * DAY));

    const listed = await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      {
        id: device.id,
        label: userAgent,
        created_at: harness.clock.now.toISOString(),
        last_seen_at: harness.clock.now.toISOString(),
        expires_at: device.expires_at.toISOString(),
      },
    ]);

    const path = `/api/v1/auth/mfa/trusted-devices/${device.id}`;
    const renamed = await harness.request('PATCH', path, { jar, csrf: true, body: { label: '  Work laptop ' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: device.id, label: 'Work laptop' });
    expect((await harness.request('PATCH', path, { jar, csrf: true, body: { label: null } })).body.label).toBeNull();
    expect((await harness.request('PATCH', path, { jar, csrf: true, body: { label: '' } })).status).toBe(422);
    expect((await harness.request('PATCH', path, { jar, body: { label: 'x' } })).status).toBe(403);

    const revoked = await harness.request('POST', `${path}/revoke`, { jar, csrf: true });
    expect(revoked.status).toBe(204);
    // It was this browser's own device: the now useless cookie goes too.
    expect(jar.get('z4j_mfa_trust')).toBeUndefined();
    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar })).body).toEqual([]);
    expect((await harness.request('POST', `${path}/revoke`, { jar, csrf: true })).status).toBe(204);
    expect((await harness.request('PATCH', path, { jar, csrf: true, body: { label: 'again' } })).status).toBe(404);
    const audits = await harness.db
      .selectFrom('audit_log')
      .select(['action', 'target_id'])
      .where('target_type', '=', 'trusted_device')
      .execute();
    expect(audits).toEqual([{ action: 'user.mfa_trusted_device_revoked', target_id: device.id }]);
  });

  it.skipIf(skip)("another user's device, an unknown id and a malformed id are all 404; expired devices are not listed", async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const owner = await harness.createUser();
    const other = await harness.createUser();
    const devices = await addDevice(harness, owner.id, harness.clock.now);
    await addDevice(harness, owner.id, new Date(harness.clock.now.getTime() - 40 * DAY));
    const jar = await harness.sessionJar(other);

    expect((await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar })).body).toEqual([]);
    for (const id of [devices, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const patch = await harness.request('PATCH', `/api/v1/auth/mfa/trusted-devices/${id}`, { jar, csrf: true, body: { label: 'mine' } });
      expect(patch.status, id).toBe(404);
      expect(patch.body.error).toBe('not_found');
      expect((await harness.request('POST', `/api/v1/auth/mfa/trusted-devices/${id}/revoke`, { jar, csrf: true })).status, id).toBe(404);
    }
    const untouched = await harness.db
      .selectFrom('trusted_devices')
      .select(['label', 'revoked_at'])
      .where('id', '=', devices)
      .executeTakeFirstOrThrow();
    expect(untouched).toEqual({ label: null, revoked_at: null });

    const ownerList = await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar: await harness.sessionJar(owner) });
    expect(ownerList.body.map((device: { id: string }) => device.id)).toEqual([devices]);
  });

  it.skipIf(skip)(
    `keeps at most ${MAX_TRUSTED_DEVICES_PER_USER} live devices per user: remembering one more revokes the oldest`,
    async () => {
      const harness = createApiHarness(test().database.db);
      await harness.reset();
      const { user, secret } = await enrolledUser(harness);
      const ids: string[] = [];
      for (let i = 0; i < MAX_TRUSTED_DEVICES_PER_USER; i += 1) {
        ids.push(await addDevice(harness, user.id, new Date(harness.clock.now.getTime() - (MAX_TRUSTED_DEVICES_PER_USER - i) * DAY)));
      }
      // An expired device does not count toward the cap (and is not revoked again).
      const expired = await addDevice(harness, user.id, new Date(harness.clock.now.getTime() - 60 * DAY));

      const jar = await harness.sessionJar(user);
      const verified = await harness.request('POST', '/api/v1/auth/mfa/verify', {
        jar,
        csrf: true,
        body: { code: generateTotp(secret, harness.clock.now), remember_device: true },
      });
      expect(verified.status).toBe(200);
      const rows = await harness.db.selectFrom('trusted_devices').select(['id', 'revoked_at']).where('user_id', '=', user.id).execute();
      const revoked = rows.filter((row) => row.revoked_at !== null).map((row) => row.id);
      expect(revoked).toEqual([ids[0]]);
      expect(rows.find((row) => row.id === expired)?.revoked_at).toBeNull();
      const listed = await harness.request('GET', '/api/v1/auth/mfa/trusted-devices', { jar });
      expect(listed.body).toHaveLength(MAX_TRUSTED_DEVICES_PER_USER);
      expect(listed.body[0].created_at).toBe(harness.clock.now.toISOString());
    },
  );

  it.skipIf(skip)('over HTTPS the trust cookie is __Host- prefixed and Secure', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_PUBLIC_URL: 'https://localhost:7700' });
    await harness.reset();
    const { user, secret } = await enrolledUser(harness);
    const jar = await harness.sessionJar(user);
    const verified = await harness.request('POST', '/api/v1/auth/mfa/verify', {
      jar,
      csrf: true,
      body: { code: generateTotp(secret, harness.clock.now), remember_device: true },
    });
    expect(verified.status).toBe(200);
    const cookie = verified.setCookies.find((line) => line.startsWith('__Host-z4j_mfa_trust='));
    expect(cookie?.split(';').map((part) => part.trim())).toEqual(
      expect.arrayContaining(['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']),
    );
  });
});
