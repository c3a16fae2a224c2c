import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness, type ApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('project routes', postgres, ({ skip, test }) => {
  async function auditActions(harness: ApiHarness, targetId: string): Promise<string[]> {
    const rows = await harness.db
      .selectFrom('audit_log')
      .select('action')
      .where('target_id', '=', targetId)
      .orderBy('occurred_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => row.action);
  }

  it.skipIf(skip)('a global admin creates, lists, reads, changes, archives and restores a project, each write audited', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });
    const jar = await harness.sessionJar(admin);

    const created = await harness.request('POST', '/api/v1/projects', {
      jar,
      csrf: true,
      body: {
        slug: 'billing',
        name: '  Billing  ',
        timezone: 'Europe/Paris',
        retention_days: 14,
        allowed_schedulers: ['z4j-scheduler', 'celery-beat', 'celery-beat'],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      slug: 'billing',
      name: 'Billing',
      description: null,
      environment: 'production',
      timezone: 'Europe/Paris',
      retention_days: 14,
      is_active: true,
      default_scheduler_owner: 'z4j-scheduler',
      allowed_schedulers: ['z4j-scheduler', 'celery-beat'],
      role: 'admin',
    });
    const projectId: string = created.body.id;
    // The creator is the project's first admin member.
    const membership = await harness.db.selectFrom('memberships').select(['user_id', 'role']).where('project_id', '=', projectId).execute();
    expect(membership).toEqual([{ user_id: admin.id, role: 'admin' }]);

    const duplicate = await harness.request('POST', '/api/v1/projects', { jar, csrf: true, body: { slug: 'billing', name: 'Again' } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toBe('conflict');

    const listed = await harness.request('GET', '/api/v1/projects', { jar });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((project: { slug: string }) => project.slug)).toEqual(['billing']);

    const read = await harness.request('GET', '/api/v1/projects/billing', { jar });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: projectId, slug: 'billing', role: 'admin' });

    const patched = await harness.request('PATCH', '/api/v1/projects/billing', {
      jar,
      csrf: true,
      body: { name: 'Billing v2', description: 'Invoices and dunning', allowed_schedulers: null },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: 'Billing v2',
      description: 'Invoices and dunning',
      allowed_schedulers: null,
      retention_days: 14,
    });
    const missing = await harness.request('PATCH', '/api/v1/projects/nope', { jar, csrf: true, body: { name: 'x' } });
    expect(missing.status).toBe(404);

    const archived = await harness.request('DELETE', '/api/v1/projects/billing', { jar, csrf: true });
    expect(archived.status).toBe(200);
    expect(archived.body).toMatchObject({ slug: 'billing', is_active: false });
    expect(
      (await harness.db.selectFrom('projects').select('is_active').where('id', '=', projectId).executeTakeFirstOrThrow()).is_active,
    ).toBe(false);
    // Archiving twice is a no-op (no second audit row).
    expect((await harness.request('DELETE', '/api/v1/projects/billing', { jar, csrf: true })).status).toBe(200);
    expect((await harness.request('GET', '/api/v1/projects', { jar })).body.items).toEqual([]);
    const withArchived = await harness.request('GET', '/api/v1/projects?include_archived=true', { jar });
    expect(withArchived.body.items.map((project: { slug: string }) => project.slug)).toEqual(['billing']);

    const restored = await harness.request('PATCH', '/api/v1/projects/billing', { jar, csrf: true, body: { is_active: true } });
    expect(restored.body.is_active).toBe(true);

    expect(await auditActions(harness, projectId)).toEqual(['project.created', 'project.updated', 'project.archived', 'project.updated']);
    const row = await harness.db
      .selectFrom('audit_log')
      .select(['user_id', 'project_id', 'metadata'])
      .where('target_id', '=', projectId)
      .where('action', '=', 'project.updated')
      .orderBy('occurred_at')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      user_id: admin.id,
      project_id: projectId,
      metadata: { fields: ['name', 'description', 'allowed_schedulers'] },
    });
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);
  });

  it.skipIf(skip)('answers 422 naming each bad field', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const jar = await harness.sessionJar(await harness.createUser({ isAdmin: true }));

    const bad = await harness.request('POST', '/api/v1/projects', {
      jar,
      csrf: true,
      body: { slug: 'Bad Slug', name: '', timezone: 'Mars/Olympus_Mons', retention_days: 0, allowed_schedulers: 'all' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toBe('validation_failed');
    expect(bad.body.details.errors.map((error: { field: string }) => error.field)).toEqual([
      'body.slug',
      'body.name',
      'body.timezone',
      'body.retention_days',
      'body.allowed_schedulers',
    ]);

    const owner = await harness.request('POST', '/api/v1/projects', {
      jar,
      csrf: true,
      body: { slug: 'ok-slug', name: 'Ok', allowed_schedulers: ['celery-beat'] },
    });
    expect(owner.status).toBe(422);
    expect(owner.body.details.errors[0].field).toBe('body.default_scheduler_owner');

    await harness.createProject('alpha');
    const empty = await harness.request('PATCH', '/api/v1/projects/alpha', { jar, csrf: true, body: {} });
    expect(empty.status).toBe(422);
    expect(empty.body.details.errors[0].field).toBe('body');
    const retention = await harness.request('PATCH', '/api/v1/projects/alpha', { jar, csrf: true, body: { retention_days: 1.5 } });
    expect(retention.body.details.errors[0].field).toBe('body.retention_days');
    const archived = await harness.request('GET', '/api/v1/projects?include_archived=yes', { jar });
    expect(archived.body.details.errors[0].field).toBe('query.include_archived');
  });

  it.skipIf(skip)('members see their projects with their role; others get 404; non-admins cannot write', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer', beta: 'operator' } });
    await harness.createProject('gamma');
    const jar = await harness.sessionJar(viewer);

    const listed = await harness.request('GET', '/api/v1/projects', { jar });
    expect(listed.body.items.map((project: { slug: string; role: string }) => [project.slug, project.role])).toEqual([
      ['alpha', 'viewer'],
      ['beta', 'operator'],
    ]);
    expect((await harness.request('GET', '/api/v1/projects/alpha', { jar })).body.role).toBe('viewer');

    const hidden = await harness.request('GET', '/api/v1/projects/gamma', { jar });
    expect(hidden.status).toBe(404);
    expect(hidden.body.message).toBe('project not found');
    expect((await harness.request('GET', '/api/v1/projects/does-not-exist', { jar })).body.message).toBe('project not found');

    expect((await harness.request('PATCH', '/api/v1/projects/alpha', { jar, csrf: true, body: { name: 'Mine now' } })).status).toBe(403);
    expect((await harness.request('DELETE', '/api/v1/projects/alpha', { jar, csrf: true })).status).toBe(403);
    expect((await harness.request('POST', '/api/v1/projects', { jar, csrf: true, body: { slug: 'delta', name: 'Delta' } })).status).toBe(
      403,
    );
    expect(await harness.db.selectFrom('projects').select('name').where('slug', '=', 'alpha').executeTakeFirstOrThrow()).toEqual({
      name: 'alpha',
    });

    // A global admin sees every project, as admin.
    const adminJar = await harness.sessionJar(await harness.createUser({ isAdmin: true }));
    const all = await harness.request('GET', '/api/v1/projects', { jar: adminJar });
    expect(all.body.items.map((project: { slug: string; role: string }) => [project.slug, project.role])).toEqual([
      ['alpha', 'admin'],
      ['beta', 'admin'],
      ['gamma', 'admin'],
    ]);
  });

  it.skipIf(skip)('an API key bound to a project lists and reaches only that project', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const member = await harness.createUser({ memberships: { alpha: 'admin', beta: 'admin' } });
    const alphaId = await harness.createProject('alpha');
    const bound = await harness.createApiKey(member, ['projects:read'], alphaId);
    const auth = { authorization: `Bearer ${bound}` };

    const listed = await harness.request('GET', '/api/v1/projects', { headers: auth });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((project: { slug: string }) => project.slug)).toEqual(['alpha']);
    expect((await harness.request('GET', '/api/v1/projects/alpha', { headers: auth })).status).toBe(200);
    const other = await harness.request('GET', '/api/v1/projects/beta', { headers: auth });
    expect(other.status).toBe(404);
    expect(other.body.message).toBe('project not found');

    // An unbound key sees every project of its user.
    const unbound = await harness.createApiKey(member, ['projects:read']);
    const all = await harness.request('GET', '/api/v1/projects', { headers: { authorization: `Bearer ${unbound}` } });
    expect(all.body.items.map((project: { slug: string }) => project.slug)).toEqual(['alpha', 'beta']);

    // Even a global admin's admin:* key stays inside its project for the global-admin routes that name a slug.
    const admin = await harness.createUser({ isAdmin: true });
    const adminKey = { authorization: `Bearer ${await harness.createApiKey(admin, ['admin:*'], alphaId)}` };
    expect(
      (await harness.request('GET', '/api/v1/projects', { headers: adminKey })).body.items.map((p: { slug: string }) => p.slug),
    ).toEqual(['alpha']);
    const patchOther = await harness.request('PATCH', '/api/v1/projects/beta', { headers: adminKey, body: { name: 'Hijacked' } });
    expect(patchOther.status).toBe(404);
    expect((await harness.request('DELETE', '/api/v1/projects/beta', { headers: adminKey })).status).toBe(404);
    expect((await harness.request('PATCH', '/api/v1/projects/alpha', { headers: adminKey, body: { name: 'Alpha' } })).status).toBe(200);
    const beta = await harness.db.selectFrom('projects').select(['name', 'is_active']).where('slug', '=', 'beta').executeTakeFirstOrThrow();
    expect(beta).toEqual({ name: 'beta', is_active: true });
  });

  it.skipIf(skip)('archiving needs a fresh MFA verification when the admin has MFA', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ isAdmin: true });
    await harness.createProject('alpha');
    await harness.db
      .updateTable('users')
      .set({
        mfa_enrolled_at: new Date(harness.clock.now.getTime() - 86_400_000),
        mfa_secret_encrypted: Buffer.from('sealed-secret-placeholder'),
      })
      .where('id', '=', admin.id)
      .execute();

    const stale = await harness.sessionJar(admin, { mfaVerifiedAt: new Date(harness.clock.now.getTime() - 2 * 3_600_000) });
    const refused = await harness.request('DELETE', '/api/v1/projects/alpha', { jar: stale, csrf: true });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('mfa_reverify_required');

    const fresh = await harness.sessionJar(admin, { mfaVerifiedAt: harness.clock.now });
    expect((await harness.request('DELETE', '/api/v1/projects/alpha', { jar: fresh, csrf: true })).status).toBe(200);
  });
});
