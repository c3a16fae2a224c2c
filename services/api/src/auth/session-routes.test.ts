import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { CookieJar, createApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('auth session routes', postgres, ({ skip, test }) => {
  it.skipIf(skip)('lists the own live sessions with the current one marked', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const user = await harness.createUser();
    const other = await harness.createUser();
    await harness.sessionJar(other);
    const browser = new CookieJar();
    await harness.request('POST', '/api/v1/auth/login', {
      jar: browser,
      ip: '192.0.2.10',
      headers: { 'user-agent': 'Firefox/140' },
      body: { email: user.email, password: user.password },
    });
    harness.clock.advance(1000);
    await harness.sessionJar(user);
    const revoked = await harness.sessionJar(user);
    await harness.request('POST', '/api/v1/auth/logout', { jar: revoked, csrf: true });

    const list = await harness.request('GET', '/api/v1/auth/sessions', { jar: browser });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(2);
    const current = list.body.find((session: { current: boolean }) => session.current);
    expect(current).toEqual({
      id: expect.any(String),
      issued_at: expect.stringMatching(/Z$/),
      last_seen_at: expect.stringMatching(/Z$/),
      ip: '192.0.2.10',
      user_agent: 'Firefox/140',
      current: true,
    });
    expect(list.body.filter((session: { current: boolean }) => !session.current)).toHaveLength(1);

    // An idle-expired session is not "live" even before a sweep revokes it.
    const idleSince = new Date(harness.clock.now.getTime() - harness.deps.settings.sessionIdleTimeoutSeconds * 1000 - 1000);
    await harness.db.updateTable('sessions').set({ last_seen_at: idleSince }).where('id', '!=', current.id).execute();
    const later = await harness.request('GET', '/api/v1/auth/sessions', { jar: browser });
    expect(later.body.map((session: { current: boolean }) => session.current)).toEqual([true]);
  });

  it.skipIf(skip)(
    'revokes an own session (204, audited), answers 404 for another user’s, and signs out when it is the current one',
    async () => {
      const harness = createApiHarness(test().database.db);
      await harness.reset();
      const user = await harness.createUser();
      const other = await harness.createUser();
      const browser = await harness.sessionJar(user);
      const phone = await harness.sessionJar(user);
      await harness.sessionJar(other);
      const ids = async (userId: string) =>
        (await harness.db.selectFrom('sessions').select('id').where('user_id', '=', userId).orderBy('issued_at').execute()).map(
          (row) => row.id,
        );
      const [foreignId] = await ids(other.id);
      const list = await harness.request('GET', '/api/v1/auth/sessions', { jar: browser });
      const phoneId: string = list.body.find((session: { current: boolean }) => !session.current).id;
      const browserId: string = list.body.find((session: { current: boolean }) => session.current).id;
      const revoke = (id: string, options: { csrf?: boolean } = { csrf: true }) =>
        harness.request('POST', `/api/v1/auth/sessions/${id}/revoke`, { jar: browser, ...options });

      const noCsrf = await revoke(phoneId, {});
      expect(noCsrf.status).toBe(403);
      expect(noCsrf.body.error).toBe('csrf_failed');

      expect((await revoke(foreignId!)).status).toBe(404);
      expect((await revoke('not-a-uuid')).status).toBe(404);
      expect((await revoke('00000000-0000-4000-8000-000000000000')).status).toBe(404);
      // The other user's session is untouched.
      const foreign = await harness.db.selectFrom('sessions').select('revoked_at').where('id', '=', foreignId!).executeTakeFirstOrThrow();
      expect(foreign.revoked_at).toBeNull();

      expect((await revoke(phoneId)).status).toBe(204);
      expect((await harness.request('GET', '/api/v1/auth/me', { jar: phone })).status).toBe(401);
      expect((await harness.request('GET', '/api/v1/auth/me', { jar: browser })).status).toBe(200);
      // Revoking again is a no-op.
      expect((await revoke(phoneId)).status).toBe(204);

      const current = await revoke(browserId);
      expect(current.status).toBe(204);
      expect(browser.get('z4j_session')).toBeUndefined();

      const audit = await harness.db
        .selectFrom('audit_log')
        .select(['target_id', 'metadata'])
        .where('action', '=', 'user.session.revoked')
        .where('user_id', '=', user.id)
        .orderBy('occurred_at')
        .execute();
      expect(audit).toEqual([
        { target_id: phoneId, metadata: { current: false } },
        { target_id: browserId, metadata: { current: true } },
      ]);
    },
  );
});
