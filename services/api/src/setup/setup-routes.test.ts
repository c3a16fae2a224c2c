import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { ensureFirstBootToken } from '../first-boot.js';
import { TEST_SECRET, createApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('first-boot setup over HTTP', postgres, ({ skip, test }) => {
  async function freshToken(harness: ReturnType<typeof createApiHarness>) {
    const minted = await ensureFirstBootToken({
      db: harness.db,
      secret: TEST_SECRET,
      publicUrl: 'http://localhost:7700',
      ttlSeconds: 900,
      now: () => harness.clock.now,
    });
    if (minted.state !== 'minted') throw new Error(`expected a minted token, got ${minted.state}`);
    return minted.token;
  }

  it.skipIf(skip)('status, wrong token, weak password, success (admin + default project + audit), then refused', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    expect((await harness.request('GET', '/api/v1/setup/status')).body).toEqual({ first_boot: true });
    const token = await freshToken(harness);

    const wrong = await harness.request('POST', '/api/v1/setup/complete', {
      body: { token: 'x'.repeat(43), email: 'admin@example.com', password: 'a long enough passphrase' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'unauthenticated', request_id: expect.any(String) });

    const weak = await harness.request('POST', '/api/v1/setup/complete', {
      body: { token, email: 'admin@example.com', password: 'password' },
    });
    expect(weak.status).toBe(422);
    expect(weak.body.error).toBe('validation_failed');
    expect(weak.body.details.errors[0].field).toBe('body.password');

    const missing = await harness.request('POST', '/api/v1/setup/complete', { body: { token } });
    expect(missing.status).toBe(422);
    expect(missing.body.details.errors.map((error: { field: string }) => error.field)).toEqual(['body.email', 'body.password']);

    const done = await harness.request('POST', '/api/v1/setup/complete', {
      body: { token, email: 'Admin@Example.COM', display_name: 'Ada', password: 'a long enough passphrase' },
    });
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({ user: { email: 'admin@example.com', is_admin: true }, project: { slug: 'default' } });
    const membership = await harness.db
      .selectFrom('memberships')
      .innerJoin('projects', 'projects.id', 'memberships.project_id')
      .select(['memberships.role', 'projects.slug'])
      .where('memberships.user_id', '=', done.body.user.id)
      .execute();
    expect(membership).toEqual([{ role: 'admin', slug: 'default' }]);
    expect(await harness.db.selectFrom('first_boot_tokens').selectAll().execute()).toEqual([]);
    const audit = await harness.db.selectFrom('audit_log').select(['action', 'user_id']).where('user_id', '=', done.body.user.id).execute();
    expect(audit).toEqual([{ action: 'setup.completed', user_id: done.body.user.id }]);
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);

    expect((await harness.request('GET', '/api/v1/setup/status')).body).toEqual({ first_boot: false });
    const again = await harness.request('POST', '/api/v1/setup/complete', {
      body: { token, email: 'b@example.com', password: 'a long enough passphrase' },
    });
    expect(again.status).toBe(409);
  });

  it.skipIf(skip)('limits attempts per IP (Z4J_FIRST_BOOT_ATTEMPTS_PER_IP)', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_FIRST_BOOT_ATTEMPTS_PER_IP: '2' });
    await harness.reset();
    await freshToken(harness);
    const attempt = (ip: string) =>
      harness.request('POST', '/api/v1/setup/complete', {
        ip,
        body: { token: 'guess', email: 'a@example.com', password: 'a long enough passphrase' },
      });
    expect((await attempt('10.0.0.1')).status).toBe(401);
    expect((await attempt('10.0.0.1')).status).toBe(401);
    expect((await attempt('10.0.0.1')).status).toBe(429);
    expect((await attempt('10.0.0.2')).status).toBe(401);
  });

  it.skipIf(skip)('serves the HTML form with security headers, and the form post creates the admin', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const token = await freshToken(harness);
    const page = await harness.request('GET', `/setup?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain(`name="token" value="${token}"`);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const escaped = await harness.request('GET', `/setup?token=${encodeURIComponent('"><script>')}`);
    expect(escaped.text).not.toContain('"><script>');

    const form = new URLSearchParams({ token, email: 'ops@example.com', password: 'a long enough passphrase' });
    const posted = await harness.request('POST', '/setup', {
      rawBody: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(posted.status).toBe(201);
    expect(posted.text).toContain('ready');
    const user = await harness.db.selectFrom('users').select(['email', 'is_admin']).executeTakeFirst();
    expect(user).toEqual({ email: 'ops@example.com', is_admin: true });
  });
});
