import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { verifyAuditChain } from '@z4j/audit';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { TEST_SECRET, createApiHarness } from '../testing/api-harness.js';

const postgres = await probePostgres();

describeEachDatabase('membership routes', postgres, ({ kind, skip, test }) => {
  it.skipIf(skip)('a project admin adds, lists, changes and removes members, each write audited', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ email: 'admin@example.com', memberships: { alpha: 'admin' } });
    const ann = await harness.createUser({ email: 'ann@example.com' });
    const bob = await harness.createUser({ email: 'bob@example.com' });
    await harness.db.updateTable('users').set({ display_name: 'Ann' }).where('id', '=', ann.id).execute();
    const jar = await harness.sessionJar(admin);

    const byEmail = await harness.request('POST', '/api/v1/projects/alpha/memberships', {
      jar,
      csrf: true,
      body: { email: ' ANN@Example.COM ', role: 'viewer' },
    });
    expect(byEmail.status).toBe(201);
    expect(byEmail.body).toMatchObject({ user_id: ann.id, email: 'ann@example.com', display_name: 'Ann', role: 'viewer' });
    const again = await harness.request('POST', '/api/v1/projects/alpha/memberships', {
      jar,
      csrf: true,
      body: { user_id: ann.id, role: 'admin' },
    });
    expect(again.status).toBe(409);
    const byId = await harness.request('POST', '/api/v1/projects/alpha/memberships', {
      jar,
      csrf: true,
      body: { user_id: bob.id, role: 'operator' },
    });
    expect(byId.status).toBe(201);
    const unknown = await harness.request('POST', '/api/v1/projects/alpha/memberships', {
      jar,
      csrf: true,
      body: { email: 'nobody@example.com', role: 'viewer' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('user not found');

    const listed = await harness.request('GET', '/api/v1/projects/alpha/memberships', { jar });
    expect(listed.status).toBe(200);
    expect(listed.body.next_cursor).toBeNull();
    expect(listed.body.items.map((member: { email: string; role: string }) => [member.email, member.role])).toEqual([
      ['admin@example.com', 'admin'],
      ['ann@example.com', 'viewer'],
      ['bob@example.com', 'operator'],
    ]);

    const membershipId: string = byEmail.body.id;
    const promoted = await harness.request('PATCH', `/api/v1/projects/alpha/memberships/${membershipId}`, {
      jar,
      csrf: true,
      body: { role: 'operator' },
    });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ id: membershipId, role: 'operator', email: 'ann@example.com' });

    const removed = await harness.request('DELETE', `/api/v1/projects/alpha/memberships/${membershipId}`, { jar, csrf: true });
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    expect(await harness.db.selectFrom('memberships').select('id').where('id', '=', membershipId).execute()).toEqual([]);
    expect((await harness.request('DELETE', `/api/v1/projects/alpha/memberships/${membershipId}`, { jar, csrf: true })).status).toBe(404);

    const audit = await harness.db
      .selectFrom('audit_log')
      .select(['action', 'user_id', 'metadata'])
      .where('target_id', '=', membershipId)
      .orderBy('occurred_at')
      .execute();
    expect(audit).toEqual([
      { action: 'membership.created', user_id: admin.id, metadata: { user_id: ann.id, email: 'ann@example.com', role: 'viewer' } },
      {
        action: 'membership.updated',
        user_id: admin.id,
        metadata: { user_id: ann.id, email: 'ann@example.com', role: 'operator', previous_role: 'viewer' },
      },
      { action: 'membership.deleted', user_id: admin.id, metadata: { user_id: ann.id, email: 'ann@example.com', role: 'operator' } },
    ]);
    expect((await verifyAuditChain(harness.db, { secrets: [TEST_SECRET] })).problems).toEqual([]);
  });

  it.skipIf(skip)('answers 422 naming each bad field', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const jar = await harness.sessionJar(admin);
    const fields = async (method: string, path: string, body: unknown) => {
      const reply = await harness.request(method, path, { jar, csrf: true, body });
      expect(reply.status).toBe(422);
      return (reply.body.details.errors as { field: string }[]).map((error) => error.field);
    };
    expect(await fields('POST', '/api/v1/projects/alpha/memberships', { role: 'owner' })).toEqual(['body.role']);
    expect(await fields('POST', '/api/v1/projects/alpha/memberships', { role: 'viewer' })).toEqual(['body']);
    expect(
      await fields('POST', '/api/v1/projects/alpha/memberships', { email: 'a@example.com', user_id: admin.id, role: 'viewer' }),
    ).toEqual(['body']);
    expect(await fields('POST', '/api/v1/projects/alpha/memberships', { email: 'not-an-email', role: 'viewer' })).toEqual(['body.email']);
    expect(await fields('POST', '/api/v1/projects/alpha/memberships', { user_id: 'nope', role: 'viewer' })).toEqual(['body.user_id']);
    const membership = await harness.db.selectFrom('memberships').select('id').where('user_id', '=', admin.id).executeTakeFirstOrThrow();
    expect(await fields('PATCH', `/api/v1/projects/alpha/memberships/${membership.id}`, { role: 'root' })).toEqual(['body.role']);
    expect((await harness.request('GET', '/api/v1/projects/alpha/memberships?limit=0', { jar })).body.details.errors[0].field).toBe(
      'query.limit',
    );
    expect((await harness.request('GET', '/api/v1/projects/alpha/memberships?cursor=garbage', { jar })).body.details.errors[0].field).toBe(
      'query.cursor',
    );
  });

  it.skipIf(skip)("refuses to demote or remove the project's last active admin", async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ memberships: { alpha: 'admin' } });
    const jar = await harness.sessionJar(admin);
    const own = await harness.db.selectFrom('memberships').select('id').where('user_id', '=', admin.id).executeTakeFirstOrThrow();

    const demote = await harness.request('PATCH', `/api/v1/projects/alpha/memberships/${own.id}`, {
      jar,
      csrf: true,
      body: { role: 'viewer' },
    });
    expect(demote.status).toBe(409);
    expect(demote.body.error).toBe('conflict');
    expect((await harness.request('DELETE', `/api/v1/projects/alpha/memberships/${own.id}`, { jar, csrf: true })).status).toBe(409);
    // Re-stating the same role is not a demotion.
    expect(
      (await harness.request('PATCH', `/api/v1/projects/alpha/memberships/${own.id}`, { jar, csrf: true, body: { role: 'admin' } })).status,
    ).toBe(200);

    // An admin membership of a deactivated user does not keep the project administered.
    const dormant = await harness.createUser();
    await harness.request('POST', '/api/v1/projects/alpha/memberships', { jar, csrf: true, body: { user_id: dormant.id, role: 'admin' } });
    await harness.db.updateTable('users').set({ is_active: false }).where('id', '=', dormant.id).execute();
    expect((await harness.request('DELETE', `/api/v1/projects/alpha/memberships/${own.id}`, { jar, csrf: true })).status).toBe(409);

    // With a second active admin, the first may step down; then the second is the last one.
    const second = await harness.createUser();
    const added = await harness.request('POST', '/api/v1/projects/alpha/memberships', {
      jar,
      csrf: true,
      body: { user_id: second.id, role: 'admin' },
    });
    expect(added.status).toBe(201);
    const steppedDown = await harness.request('PATCH', `/api/v1/projects/alpha/memberships/${own.id}`, {
      jar,
      csrf: true,
      body: { role: 'operator' },
    });
    expect(steppedDown.status).toBe(200);
    const secondJar = await harness.sessionJar(second);
    const last = await harness.request('DELETE', `/api/v1/projects/alpha/memberships/${added.body.id}`, { jar: secondJar, csrf: true });
    expect(last.status).toBe(409);
    const roles = await harness.db
      .selectFrom('memberships')
      .select(['user_id', 'role'])
      .where('role', '=', 'admin')
      .where('user_id', 'in', [admin.id, second.id])
      .execute();
    expect(roles).toEqual([{ user_id: second.id, role: 'admin' }]);
  });

  it.skipIf(skip)('viewers cannot write, non-members get 404, and ids of another project are 404', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const viewer = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const admin = await harness.createUser({ memberships: { alpha: 'admin', beta: 'admin' } });
    const outsider = await harness.createUser({ memberships: { gamma: 'admin' } });
    const viewerJar = await harness.sessionJar(viewer);
    const adminJar = await harness.sessionJar(admin);

    expect((await harness.request('GET', '/api/v1/projects/alpha/memberships', { jar: viewerJar })).status).toBe(403);
    const write = await harness.request('POST', '/api/v1/projects/alpha/memberships', {
      jar: viewerJar,
      csrf: true,
      body: { user_id: outsider.id, role: 'admin' },
    });
    expect(write.status).toBe(403);

    const outsiderJar = await harness.sessionJar(outsider);
    const hidden = await harness.request('GET', '/api/v1/projects/alpha/memberships', { jar: outsiderJar });
    expect(hidden.status).toBe(404);
    expect(hidden.body.message).toBe('project not found');

    const betaMembership = await harness.db
      .selectFrom('memberships')
      .innerJoin('projects', 'projects.id', 'memberships.project_id')
      .select('memberships.id')
      .where('projects.slug', '=', 'beta')
      .executeTakeFirstOrThrow();
    const crossPatch = await harness.request('PATCH', `/api/v1/projects/alpha/memberships/${betaMembership.id}`, {
      jar: adminJar,
      csrf: true,
      body: { role: 'viewer' },
    });
    expect(crossPatch.status).toBe(404);
    expect(crossPatch.body.message).toBe('membership not found');
    expect(
      (await harness.request('DELETE', `/api/v1/projects/alpha/memberships/${betaMembership.id}`, { jar: adminJar, csrf: true })).status,
    ).toBe(404);
    expect((await harness.request('DELETE', '/api/v1/projects/alpha/memberships/not-a-uuid', { jar: adminJar, csrf: true })).status).toBe(
      404,
    );
    expect(
      (await harness.request('DELETE', `/api/v1/projects/alpha/memberships/${randomUUID()}`, { jar: adminJar, csrf: true })).status,
    ).toBe(404);
    expect(await harness.db.selectFrom('memberships').select('role').where('id', '=', betaMembership.id).executeTakeFirstOrThrow()).toEqual(
      {
        role: 'admin',
      },
    );
  });

  it.skipIf(skip)('pages through members with next_cursor, each exactly once', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const admin = await harness.createUser({ email: 'a-admin@example.com', memberships: { alpha: 'admin' } });
    const alphaId = await harness.createProject('alpha');
    for (let index = 0; index < 6; index += 1) {
      const user = await harness.createUser({ email: `member${index}@example.com` });
      await harness.db.insertInto('memberships').values({ user_id: user.id, project_id: alphaId, role: 'viewer' }).execute();
    }
    const jar = await harness.sessionJar(admin);
    const walked = await harness.walkPages('/api/v1/projects/alpha/memberships', { jar, limit: 3, maxPages: 10 });
    const seen: string[] = walked.items.map((member: { email: string }) => member.email);
    const pages = walked.pages;
    expect(seen).toEqual(['a-admin@example.com', ...Array.from({ length: 6 }, (_, index) => `member${index}@example.com`)]);
    expect(pages).toBe(3);
  });

  // Multi-connection behaviour: PGlite has one connection, so only real Postgres can race two transactions.
  it.skipIf(skip || kind !== 'postgres')('two admins demoting each other at once: exactly one wins', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const first = await harness.createUser({ memberships: { alpha: 'admin' } });
    const second = await harness.createUser({ memberships: { alpha: 'admin' } });
    const ids = await harness.db.selectFrom('memberships').select(['id', 'user_id']).execute();
    const idOf = (userId: string) => ids.find((row) => row.user_id === userId)!.id;
    const [firstJar, secondJar] = [await harness.sessionJar(first), await harness.sessionJar(second)];
    const replies = await Promise.all([
      harness.request('PATCH', `/api/v1/projects/alpha/memberships/${idOf(second.id)}`, {
        jar: firstJar,
        csrf: true,
        body: { role: 'viewer' },
      }),
      harness.request('PATCH', `/api/v1/projects/alpha/memberships/${idOf(first.id)}`, {
        jar: secondJar,
        csrf: true,
        body: { role: 'viewer' },
      }),
    ]);
    // The loser is refused by the last-admin check (409), or, if the winner committed before it was authorised,
    // because it is no longer an admin (403). Either way the project keeps exactly one admin.
    const [winner, loser] = replies.map((reply) => reply.status).sort();
    expect(winner).toBe(200);
    expect([403, 409]).toContain(loser);
    const admins = await harness.db.selectFrom('memberships').select('id').where('role', '=', 'admin').execute();
    expect(admins).toHaveLength(1);
  });
});
