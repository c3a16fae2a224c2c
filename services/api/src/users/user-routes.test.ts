import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

/** What a user reply may carry; anything else (password_hash, mfa_secret_encrypted, ...) is a leak. */
const USER_KEYS = [
  'created_at',
  'display_name',
  'email',
  'first_name',
  'force_password_change',
  'id',
  'is_active',
  'is_admin',
  'last_login_at',
  'last_name',
  'locked_until',
  'mfa_enrolled',
  'mfa_enrolled_at',
  'password_changed_at',
  'timezone',
  'updated_at',
];

describeEachDatabase('user admin routes', postgres, ({ kind, skip, test }) => {
  it.skipIf(skip)('a global admin creates, reads and changes users, each write audited, never showing secrets', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });
    await harness.createUser({ email: 'member@example.com', memberships: { alpha: 'operator' } });
    const jar = await harness.sessionJar(admin);

    const created = await harness.request('POST', '/api/v1/users', {
      jar,
      csrf: true,
      body: { email: ' Ops@Example.COM ', password: 'a long enough passphrase', display_name: ' Ops ' },
    });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(USER_KEYS);
    expect(created.body).toMatchObject({
      email: 'ops@example.com',
      display_name: 'Ops',
      is_admin: false,
      is_active: true,
      mfa_enrolled: false,
    });
    const userId: string = created.body.id;
    const hash = await harness.db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirstOrThrow();
    expect(await harness.deps.passwords.verify(hash.password_hash, 'a long enough passphrase')).toBe(true);

    const duplicate = await harness.request('POST', '/api/v1/users', {
      jar,
      csrf: true,
      body: { email: 'OPS@example.com', password: 'another long passphrase' },
    });
    expect(duplicate.status).toBe(409);

    const read = await harness.request('GET', `/api/v1/users/${userId}`, { jar });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: userId, email: 'ops@example.com', memberships: [] });
    const member = await harness.db.selectFrom('users').select('id').where('email', '=', 'member@example.com').executeTakeFirstOrThrow();
    const withMemberships = await harness.request('GET', `/api/v1/users/${member.id}`, { jar });
    expect(withMemberships.body.memberships).toMatchObject([{ project_slug: 'alpha', role: 'operator' }]);
    expect(JSON.stringify(withMemberships.body)).not.toMatch(/password_hash|mfa_secret/);

    const patched = await harness.request('PATCH', `/api/v1/users/${userId}`, {
      jar,
      csrf: true,
      body: { first_name: 'Olive', last_name: 'Ops', is_admin: true },
    });
    expect(patched.status).toBe(200);
    expect(Object.keys(patched.body).sort()).toEqual(USER_KEYS);
    expect(patched.body).toMatchObject({ first_name: 'Olive', last_name: 'Ops', is_admin: true });
    // Nothing to change: no write, no audit row.
    expect((await harness.request('PATCH', `/api/v1/users/${userId}`, { jar, csrf: true, body: { is_admin: true } })).status).toBe(200);

    const listed = await harness.request('GET', '/api/v1/users', { jar });
    for (const item of listed.body.items) expect(Object.keys(item).sort()).toEqual(USER_KEYS);

    const audit = await harness.db
      .selectFrom('audit_log')
      .select(['action', 'user_id', 'project_id', 'metadata'])
      .where('target_id', '=', userId)
      .orderBy('occurred_at')
      .execute();
    expect(audit.map((row) => [row.action, row.user_id, row.project_id])).toEqual([
      ['user.created', admin.id, null],
      ['user.updated', admin.id, null],
    ]);
    expect(audit[1]!.metadata).toMatchObject({
      changes: { first_name: { from: null, to: 'Olive' }, last_name: { from: null, to: 'Ops' }, is_admin: { from: false, to: true } },
    });
    expect(JSON.stringify(audit)).not.toContain('passphrase');
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);
  });

  it.skipIf(skip)('answers 422 naming each bad field', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });
    const jar = await harness.sessionJar(admin);
    const fields = async (method: string, path: string, body: unknown) => {
      const reply = await harness.request(method, path, { jar, csrf: true, body });
      expect(reply.status).toBe(422);
      // One field may break several rules (a short common password); each field is listed once here.
      return [...new Set(reply.body.details.errors.map((error: { field: string }) => error.field))];
    };
    expect(await fields('POST', '/api/v1/users', { email: 'not an email', password: 7, is_admin: 'yes' })).toEqual([
      'body.email',
      'body.password',
      'body.is_admin',
    ]);
    expect(await fields('POST', '/api/v1/users', { email: 'weak@example.com', password: 'password' })).toEqual(['body.password']);
    expect(await fields('POST', '/api/v1/users', { email: 'weakling@example.com', password: 'weakling@example.com!' })).toEqual([
      'body.password',
    ]);
    expect(await fields('PATCH', `/api/v1/users/${admin.id}`, {})).toEqual(['body']);
    expect(await fields('PATCH', `/api/v1/users/${admin.id}`, { is_active: 'no', display_name: 5 })).toEqual([
      'body.display_name',
      'body.is_active',
    ]);
    expect(await fields('POST', `/api/v1/users/${admin.id}/password`, { password: 'short' })).toEqual(['body.password']);
    expect((await harness.request('GET', '/api/v1/users?limit=100000', { jar })).body.details.errors[0].field).toBe('query.limit');
  });

  it.skipIf(skip)('pages through every user exactly once with next_cursor, and ?search= filters by email or display name', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ email: 'root@example.com', isAdmin: true });
    const emails = ['root@example.com'];
    for (let index = 0; index < 9; index += 1) {
      const user = await harness.createUser({ email: `user${String.fromCharCode(106 - index)}${index}@example.com` });
      emails.push(user.email);
    }
    await harness.db.updateTable('users').set({ display_name: 'Jo 100%' }).where('email', '=', 'userj0@example.com').execute();
    const jar = await harness.sessionJar(admin);

    const walked = await harness.walkPages('/api/v1/users', { jar, limit: 3, maxPages: 20 });
    const seen: string[] = walked.items.map((user: { email: string }) => user.email);
    const pages = walked.pages;
    expect(seen).toEqual([...emails].sort());
    expect(new Set(seen).size).toBe(10);
    expect(pages).toBe(4);

    const byEmail = await harness.request('GET', '/api/v1/users?search=ROOT', { jar });
    expect(byEmail.body.items.map((user: { email: string }) => user.email)).toEqual(['root@example.com']);
    const byName = await harness.request('GET', `/api/v1/users?search=${encodeURIComponent('100%')}`, { jar });
    expect(byName.body.items.map((user: { email: string }) => user.email)).toEqual(['userj0@example.com']);
    // LIKE wildcards in the search text match literally.
    expect((await harness.request('GET', `/api/v1/users?search=${encodeURIComponent('user_')}`, { jar })).body.items).toEqual([]);
  });

  it.skipIf(skip)('refuses to demote or deactivate the last active global admin', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });
    const jar = await harness.sessionJar(admin);

    const demote = await harness.request('PATCH', `/api/v1/users/${admin.id}`, { jar, csrf: true, body: { is_admin: false } });
    expect(demote.status).toBe(409);
    expect(demote.body.error).toBe('conflict');
    expect((await harness.request('PATCH', `/api/v1/users/${admin.id}`, { jar, csrf: true, body: { is_active: false } })).status).toBe(409);

    // An inactive admin does not count.
    const dormant = await harness.createUser({ isAdmin: true });
    await harness.db.updateTable('users').set({ is_active: false }).where('id', '=', dormant.id).execute();
    expect((await harness.request('PATCH', `/api/v1/users/${admin.id}`, { jar, csrf: true, body: { is_admin: false } })).status).toBe(409);

    const second = await harness.createUser({ isAdmin: true });
    const stepDown = await harness.request('PATCH', `/api/v1/users/${admin.id}`, { jar, csrf: true, body: { is_admin: false } });
    expect(stepDown.status).toBe(200);
    expect(stepDown.body.is_admin).toBe(false);
    const secondJar = await harness.sessionJar(second);
    expect(
      (await harness.request('PATCH', `/api/v1/users/${second.id}`, { jar: secondJar, csrf: true, body: { is_active: false } })).status,
    ).toBe(409);
  });

  it.skipIf(skip || kind !== 'postgres')('two global admins demoting each other at once: one stays', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const first = await harness.createUser({ isAdmin: true });
    const second = await harness.createUser({ isAdmin: true });
    const [firstJar, secondJar] = [await harness.sessionJar(first), await harness.sessionJar(second)];
    const replies = await Promise.all([
      harness.request('PATCH', `/api/v1/users/${second.id}`, { jar: firstJar, csrf: true, body: { is_admin: false } }),
      harness.request('PATCH', `/api/v1/users/${first.id}`, { jar: secondJar, csrf: true, body: { is_admin: false } }),
    ]);
    // The loser is refused as the last admin (409), or as no longer an admin when the winner committed first (403).
    const [winner, loser] = replies.map((reply) => reply.status).sort();
    expect(winner).toBe(200);
    expect([403, 409]).toContain(loser);
    expect(await harness.db.selectFrom('users').select('id').where('is_admin', '=', true).execute()).toHaveLength(1);
  });

  it.skipIf(skip)('deactivating a user or setting their password ends their sessions', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });
    const ann = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const jar = await harness.sessionJar(admin);

    const annJar = await harness.sessionJar(ann);
    expect((await harness.request('GET', '/api/v1/projects', { jar: annJar })).status).toBe(200);
    const newPassword = await harness.request('POST', `/api/v1/users/${ann.id}/password`, {
      jar,
      csrf: true,
      body: { password: 'a brand new passphrase' },
    });
    expect(newPassword.status).toBe(204);
    expect((await harness.request('GET', '/api/v1/projects', { jar: annJar })).status).toBe(401);
    const row = await harness.db
      .selectFrom('users')
      .select(['password_hash', 'password_changed_at'])
      .where('id', '=', ann.id)
      .executeTakeFirstOrThrow();
    expect(row.password_changed_at).toEqual(harness.clock.now);
    expect(await harness.deps.passwords.verify(row.password_hash, 'a brand new passphrase')).toBe(true);
    const revoked = await harness.db.selectFrom('sessions').select('revocation_reason').where('user_id', '=', ann.id).execute();
    expect(revoked).toEqual([{ revocation_reason: 'password_set_by_admin' }]);

    harness.clock.advance(5_000);
    const later = await harness.sessionJar(ann);
    expect((await harness.request('GET', '/api/v1/projects', { jar: later })).status).toBe(200);
    const deactivated = await harness.request('PATCH', `/api/v1/users/${ann.id}`, { jar, csrf: true, body: { is_active: false } });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.is_active).toBe(false);
    expect((await harness.request('GET', '/api/v1/projects', { jar: later })).status).toBe(401);
    const reasons = await harness.db.selectFrom('sessions').select('revocation_reason').where('user_id', '=', ann.id).execute();
    expect(reasons.map((session) => session.revocation_reason).sort()).toEqual(['deactivated', 'password_set_by_admin']);

    const actions = await harness.db
      .selectFrom('audit_log')
      .select('action')
      .where('target_id', '=', ann.id)
      .orderBy('occurred_at')
      .execute();
    expect(actions.map((audit) => audit.action)).toEqual(['user.password_set', 'user.updated']);
  });

  it.skipIf(skip)('is for global admins in a browser only; unknown ids are 404', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });
    const projectAdmin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const jar = await harness.sessionJar(projectAdmin);

    expect((await harness.request('GET', '/api/v1/users', { jar })).status).toBe(403);
    expect((await harness.request('PATCH', `/api/v1/users/${projectAdmin.id}`, { jar, csrf: true, body: { is_admin: true } })).status).toBe(
      403,
    );
    expect(await harness.db.selectFrom('users').select('is_admin').where('id', '=', projectAdmin.id).executeTakeFirstOrThrow()).toEqual({
      is_admin: false,
    });
    const key = await harness.createApiKey(admin, ['admin:*']);
    expect((await harness.request('GET', '/api/v1/users', { headers: { authorization: `Bearer ${key}` } })).status).toBe(403);

    const adminJar = await harness.sessionJar(admin);
    expect((await harness.request('GET', `/api/v1/users/${randomUUID()}`, { jar: adminJar })).status).toBe(404);
    expect((await harness.request('GET', '/api/v1/users/not-a-uuid', { jar: adminJar })).status).toBe(404);
    expect(
      (await harness.request('PATCH', `/api/v1/users/${randomUUID()}`, { jar: adminJar, csrf: true, body: { display_name: 'x' } })).status,
    ).toBe(404);
    expect(
      (
        await harness.request('POST', `/api/v1/users/${randomUUID()}/password`, {
          jar: adminJar,
          csrf: true,
          body: { password: 'a long passphrase!' },
        })
      ).status,
    ).toBe(404);
  });
});
