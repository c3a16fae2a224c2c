import { createHmac, randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('invitation routes', postgres, ({ skip, test }) => {
  async function invite(harness: ApiHarness, jar: CookieJar, email: string, role = 'viewer', slug = 'alpha') {
    const reply = await harness.request('POST', `/api/v1/projects/${slug}/invitations`, { jar, csrf: true, body: { email, role } });
    expect(reply.status).toBe(201);
    return reply.body as { invitation: { id: string; email: string; role: string; status: string }; token: string; accept_url: string };
  }

  const preview = (harness: ApiHarness, token: string, ip?: string) =>
    harness.request('GET', `/api/v1/invitations/preview?token=${encodeURIComponent(token)}`, { ip });

  it.skipIf(skip)('a new user previews and accepts with a password: account, membership, acceptance and audit together', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const alphaId = await harness.createProject('alpha');
    const jar = await harness.sessionJar(admin);

    const created = await invite(harness, jar, 'New.Person@Example.COM', 'operator');
    expect(created.invitation).toMatchObject({ email: 'new.person@example.com', role: 'operator', status: 'pending' });
    expect(created.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.accept_url).toBe(`http://localhost:7700/invitations/accept?token=${created.token}`);
    // Only HMAC-SHA256(secret ‖ "z4j-invitation-v1", token) is stored.
    const expectedHash = createHmac('sha256', `${TEST_SECRET}z4j-invitation-v1`).update(created.token).digest('hex');
    const stored = await harness.db.selectFrom('invitations').selectAll().where('id', '=', created.invitation.id).executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(expectedHash);
    expect(stored.expires_at.getTime() - harness.clock.now.getTime()).toBe(7 * 86_400_000);
    expect(JSON.stringify(created.invitation)).not.toContain(expectedHash);

    const pending = await harness.request('GET', '/api/v1/projects/alpha/invitations', { jar });
    expect(pending.body.items.map((item: { id: string }) => item.id)).toEqual([created.invitation.id]);
    expect(pending.body.next_cursor).toBeNull();

    const shown = await preview(harness, created.token);
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual({
      project: { slug: 'alpha', name: 'alpha' },
      email: 'new.person@example.com',
      role: 'operator',
      expires_at: stored.expires_at.toISOString(),
      account_exists: false,
    });

    const noPassword = await harness.request('POST', '/api/v1/invitations/accept', { body: { token: created.token } });
    expect(noPassword.status).toBe(422);
    expect(noPassword.body.details.errors[0].field).toBe('body.password');
    const weak = await harness.request('POST', '/api/v1/invitations/accept', { body: { token: created.token, password: 'password' } });
    expect(weak.status).toBe(422);
    expect(weak.body.details.errors[0].field).toBe('body.password');

    const accepted = await harness.request('POST', '/api/v1/invitations/accept', {
      body: { token: created.token, password: 'a long enough passphrase', display_name: ' New Person ' },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({
      user: { email: 'new.person@example.com', created: true },
      project: { id: alphaId, slug: 'alpha' },
      role: 'operator',
    });
    const userId: string = accepted.body.user.id;
    const user = await harness.db
      .selectFrom('users')
      .select(['email', 'display_name', 'is_admin', 'password_hash'])
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    expect(user).toMatchObject({ email: 'new.person@example.com', display_name: 'New Person', is_admin: false });
    expect(await harness.deps.passwords.verify(user.password_hash, 'a long enough passphrase')).toBe(true);
    const membership = await harness.db
      .selectFrom('memberships')
      .select('role')
      .where('user_id', '=', userId)
      .where('project_id', '=', alphaId)
      .executeTakeFirstOrThrow();
    expect(membership.role).toBe('operator');
    const used = await harness.db
      .selectFrom('invitations')
      .select(['accepted_at', 'accepted_by_user_id'])
      .where('id', '=', created.invitation.id)
      .executeTakeFirstOrThrow();
    expect(used).toEqual({ accepted_at: harness.clock.now, accepted_by_user_id: userId });

    const audit = await harness.db
      .selectFrom('audit_log')
      .select(['action', 'user_id', 'project_id', 'metadata'])
      .where('target_id', '=', created.invitation.id)
      .orderBy('occurred_at')
      .execute();
    expect(audit.map((row) => [row.action, row.user_id, row.project_id])).toEqual([
      ['invitation.created', admin.id, alphaId],
      ['invitation.accepted', userId, alphaId],
    ]);
    expect(audit[1]!.metadata).toMatchObject({ account_created: true, role: 'operator', previous_role: null });
    expect(JSON.stringify(audit)).not.toContain(created.token);
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);

    // A used link is gone: same 404 for preview and accept, and no longer listed.
    expect((await preview(harness, created.token)).status).toBe(404);
    const reuse = await harness.request('POST', '/api/v1/invitations/accept', {
      body: { token: created.token, password: 'another long passphrase' },
    });
    expect(reuse.status).toBe(404);
    expect((await harness.request('GET', '/api/v1/projects/alpha/invitations', { jar })).body.items).toEqual([]);
  });

  it.skipIf(skip)(
    'an existing user must be signed in as the invited account to accept; the role is upgraded, never downgraded',
    async () => {
      const harness = createApiHarness(test().database.db);
      await harness.reset();
      const admin = await harness.createUser({ memberships: { alpha: 'admin', beta: 'admin' } });
      const alphaId = await harness.createProject('alpha');
      const betaId = await harness.createProject('beta');
      const invitee = await harness.createUser({ email: 'carol@example.com' });
      const stranger = await harness.createUser({ email: 'mallory@example.com' });
      const adminJar = await harness.sessionJar(admin);

      const toAlpha = await invite(harness, adminJar, 'carol@example.com', 'admin');
      expect((await preview(harness, toAlpha.token)).body.account_exists).toBe(true);

      const anonymous = await harness.request('POST', '/api/v1/invitations/accept', {
        body: { token: toAlpha.token, password: 'whatever it is now' },
      });
      expect(anonymous.status).toBe(401);
      const strangerJar = await harness.sessionJar(stranger);
      const wrongUser = await harness.request('POST', '/api/v1/invitations/accept', {
        jar: strangerJar,
        csrf: true,
        body: { token: toAlpha.token },
      });
      expect(wrongUser.status).toBe(403);
      expect(wrongUser.body.error).toBe('forbidden');
      const apiKey = await harness.createApiKey(invitee, ['admin:*']);
      const byKey = await harness.request('POST', '/api/v1/invitations/accept', {
        headers: { authorization: `Bearer ${apiKey}` },
        body: { token: toAlpha.token },
      });
      expect(byKey.status).toBe(401);
      const inviteeJar = await harness.sessionJar(invitee);
      const noCsrf = await harness.request('POST', '/api/v1/invitations/accept', { jar: inviteeJar, body: { token: toAlpha.token } });
      expect(noCsrf.status).toBe(403);
      expect(noCsrf.body.error).toBe('csrf_failed');
      expect(await harness.db.selectFrom('memberships').select('id').where('user_id', '=', invitee.id).execute()).toEqual([]);

      // Added as a viewer after the invitation went out: accepting upgrades to the invited admin role.
      await harness.db.insertInto('memberships').values({ user_id: invitee.id, project_id: alphaId, role: 'viewer' }).execute();
      const accepted = await harness.request('POST', '/api/v1/invitations/accept', {
        jar: inviteeJar,
        csrf: true,
        body: { token: toAlpha.token, password: 'ignored for an existing account' },
      });
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ user: { id: invitee.id, created: false }, project: { slug: 'alpha' }, role: 'admin' });
      const passwordHash = await harness.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', invitee.id)
        .executeTakeFirstOrThrow();
      expect(await harness.deps.passwords.verify(passwordHash.password_hash, invitee.password)).toBe(true);

      // Invited as a viewer but already an admin: accepting keeps admin.
      const toBeta = await invite(harness, adminJar, 'carol@example.com', 'viewer', 'beta');
      await harness.db.insertInto('memberships').values({ user_id: invitee.id, project_id: betaId, role: 'admin' }).execute();
      const kept = await harness.request('POST', '/api/v1/invitations/accept', {
        jar: inviteeJar,
        csrf: true,
        body: { token: toBeta.token },
      });
      expect(kept.body.role).toBe('admin');
      const roles = await harness.db.selectFrom('memberships').select(['project_id', 'role']).where('user_id', '=', invitee.id).execute();
      expect(roles.sort((a, b) => a.project_id.localeCompare(b.project_id))).toEqual(
        [
          { project_id: alphaId, role: 'admin' },
          { project_id: betaId, role: 'admin' },
        ].sort((a, b) => a.project_id.localeCompare(b.project_id)),
      );
    },
  );

  it.skipIf(skip)('expired, revoked, replaced and unknown links all get the same 404', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin', beta: 'admin' } });
    let jar = await harness.sessionJar(admin);

    const unknown = await preview(harness, 'x'.repeat(43));
    expect(unknown.status).toBe(404);
    const same = { error: unknown.body.error, message: unknown.body.message };
    expect(same).toEqual({ error: 'not_found', message: 'invitation not found' });

    const expiring = await invite(harness, jar, 'late@example.com');
    harness.clock.advance(7 * 86_400_000 + 1000);
    jar = await harness.sessionJar(admin); // the admin's own session did not survive the week either
    const expired = await preview(harness, expiring.token);
    expect({ status: expired.status, error: expired.body.error, message: expired.body.message }).toEqual({ status: 404, ...same });
    const lateAccept = await harness.request('POST', '/api/v1/invitations/accept', {
      body: { token: expiring.token, password: 'a long enough passphrase' },
    });
    expect({ status: lateAccept.status, error: lateAccept.body.error, message: lateAccept.body.message }).toEqual({ status: 404, ...same });
    expect(await harness.db.selectFrom('users').select('id').where('email', '=', 'late@example.com').execute()).toEqual([]);
    expect((await harness.request('GET', '/api/v1/projects/alpha/invitations', { jar })).body.items).toEqual([]);

    const revoking = await invite(harness, jar, 'gone@example.com');
    const revoked = await harness.request('DELETE', `/api/v1/projects/alpha/invitations/${revoking.invitation.id}`, { jar, csrf: true });
    expect(revoked.status).toBe(204);
    expect((await preview(harness, revoking.token)).body.message).toBe('invitation not found');
    expect(
      (await harness.request('DELETE', `/api/v1/projects/alpha/invitations/${revoking.invitation.id}`, { jar, csrf: true })).status,
    ).toBe(204);
    const revokeAudit = await harness.db.selectFrom('audit_log').select('action').where('target_id', '=', revoking.invitation.id).execute();
    expect(revokeAudit.map((row) => row.action).sort()).toEqual(['invitation.created', 'invitation.revoked']);

    // Inviting the same email again replaces the pending link.
    const first = await invite(harness, jar, 'twice@example.com');
    const second = await invite(harness, jar, 'twice@example.com', 'operator');
    expect((await preview(harness, first.token)).status).toBe(404);
    expect((await preview(harness, second.token)).body.role).toBe('operator');

    // An accepted invitation cannot be revoked; another project's invitation is not found here.
    const used = await invite(harness, jar, 'used@example.com');
    await harness.request('POST', '/api/v1/invitations/accept', { body: { token: used.token, password: 'a long enough passphrase' } });
    expect((await harness.request('DELETE', `/api/v1/projects/alpha/invitations/${used.invitation.id}`, { jar, csrf: true })).status).toBe(
      409,
    );
    const elsewhere = await invite(harness, jar, 'beta-only@example.com', 'viewer', 'beta');
    expect(
      (await harness.request('DELETE', `/api/v1/projects/alpha/invitations/${elsewhere.invitation.id}`, { jar, csrf: true })).status,
    ).toBe(404);
    expect((await harness.request('DELETE', `/api/v1/projects/alpha/invitations/${randomUUID()}`, { jar, csrf: true })).status).toBe(404);
    expect((await preview(harness, elsewhere.token)).status).toBe(200);

    // An archived project's links stop working.
    await harness.db.updateTable('projects').set({ is_active: false }).where('slug', '=', 'beta').execute();
    expect((await preview(harness, elsewhere.token)).status).toBe(404);
  });

  it.skipIf(skip)('only project admins invite; bad bodies name their field; members cannot be invited', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const viewer = await harness.createUser({ email: 'viewer@example.com', memberships: { alpha: 'viewer' } });
    const outsider = await harness.createUser({ memberships: { beta: 'admin' } });
    const jar = await harness.sessionJar(admin);

    const body = { email: 'someone@example.com', role: 'viewer' };
    expect(
      (await harness.request('POST', '/api/v1/projects/alpha/invitations', { jar: await harness.sessionJar(viewer), csrf: true, body }))
        .status,
    ).toBe(403);
    const hidden = await harness.request('POST', '/api/v1/projects/alpha/invitations', {
      jar: await harness.sessionJar(outsider),
      csrf: true,
      body,
    });
    expect(hidden.status).toBe(404);
    expect(hidden.body.message).toBe('project not found');

    const bad = await harness.request('POST', '/api/v1/projects/alpha/invitations', {
      jar,
      csrf: true,
      body: { email: 'nope', role: 'god' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.details.errors.map((error: { field: string }) => error.field)).toEqual(['body.email', 'body.role']);
    const member = await harness.request('POST', '/api/v1/projects/alpha/invitations', {
      jar,
      csrf: true,
      body: { email: 'VIEWER@example.com', role: 'admin' },
    });
    expect(member.status).toBe(409);
    const noToken = await harness.request('GET', '/api/v1/invitations/preview');
    expect(noToken.status).toBe(422);
    expect(noToken.body.details.errors[0].field).toBe('query.token');
    expect((await harness.request('POST', '/api/v1/invitations/accept', { body: {} })).body.details.errors[0].field).toBe('body.token');
  });

  it.skipIf(skip)('lists pending invitations a page at a time', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const jar = await harness.sessionJar(await harness.createUser({ memberships: { alpha: 'admin' } }));
    const emails = ['e@example.com', 'a@example.com', 'd@example.com', 'b@example.com', 'c@example.com'];
    for (const email of emails) await invite(harness, jar, email);
    const walked = await harness.walkPages('/api/v1/projects/alpha/invitations', { jar, limit: 2, maxPages: 10 });
    const seen: string[] = walked.items.map((item: { email: string }) => item.email);
    const pages = walked.pages;
    expect(seen).toEqual([...emails].sort());
    expect(pages).toBe(3);
  });

  it.skipIf(skip)('limits preview and accept per IP (20 a minute)', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    for (let attempt = 0; attempt < 20; attempt += 1) expect((await preview(harness, `guess-${attempt}`, '10.0.0.1')).status).toBe(404);
    const limited = await preview(harness, 'guess-20', '10.0.0.1');
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect((await preview(harness, 'guess', '10.0.0.2')).status).toBe(404);
    // Accept has its own budget.
    expect((await harness.request('POST', '/api/v1/invitations/accept', { ip: '10.0.0.1', body: { token: 'guess' } })).status).toBe(404);
    harness.clock.advance(60_001);
    expect((await preview(harness, 'guess', '10.0.0.1')).status).toBe(404);
  });
});
