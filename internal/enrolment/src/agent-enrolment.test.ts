import { expect, it } from 'vitest';
import { createNotifier } from '@z4j/db';
import { decodeHmacSecret, deriveProjectSecret, hashAgentToken } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { AGENT_REVOKED_CHANNEL, listAgents, markAgentRevoked, mintAgent, revokeAgent } from './agent-enrolment.js';

const postgres = await probePostgres();
const SECRET = 'test-master-secret-0123456789-abcdefghijklmnop';

describeEachDatabase('agent enrolment', postgres, ({ skip, test }) => {
  it.skipIf(skip)('mints into the default project (creating it), stores only the token hash, and returns the project secret', async () => {
    const db = test().database.db;
    const minted = await mintAgent(db, { projectSlug: 'default', name: 'worker-1', masterSecret: SECRET, now: new Date() });
    expect(minted.token).toMatch(/^[\w-]{43}$/);
    expect(decodeHmacSecret(minted.hmac_secret)).toEqual(deriveProjectSecret(SECRET, minted.project_id));
    const row = await db
      .selectFrom('agents')
      .select(['token_hash', 'project_id'])
      .where('id', '=', minted.agent_id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(hashAgentToken(SECRET, minted.token));
    expect(JSON.stringify(row)).not.toContain(minted.token);
    await expect(mintAgent(db, { projectSlug: 'default', name: 'worker-1', masterSecret: SECRET, now: new Date() })).rejects.toMatchObject({
      code: 'AGENT_NAME_TAKEN',
      status: 409,
    });
    await expect(mintAgent(db, { projectSlug: 'nope', name: 'x', masterSecret: SECRET, now: new Date() })).rejects.toMatchObject({
      code: 'PROJECT_NOT_FOUND',
    });
  });

  it.skipIf(skip)('revokes (idempotently), signals every replica, and lists', async () => {
    const db = test().database.db;
    const minted = await mintAgent(db, { projectSlug: 'default', name: 'worker-2', masterSecret: SECRET, now: new Date() });
    const notifier = createNotifier(test().database);
    try {
      let resolveSignal!: (agentId: string) => void;
      const signalled = new Promise<string>((resolve) => (resolveSignal = resolve));
      await notifier.subscribe(AGENT_REVOKED_CHANNEL, resolveSignal);
      expect(await revokeAgent(db, notifier, minted.agent_id, new Date())).toEqual({ alreadyRevoked: false });
      expect(await signalled).toBe(minted.agent_id);
      expect(await revokeAgent(db, notifier, minted.agent_id, new Date())).toEqual({ alreadyRevoked: true });
      await expect(revokeAgent(db, notifier, '00000000-0000-4000-8000-000000000000', new Date())).rejects.toMatchObject({
        code: 'AGENT_NOT_FOUND',
      });
    } finally {
      await notifier.close();
    }
    const listed = await listAgents(db, 'default');
    expect(listed.find((agent) => agent.agent_id === minted.agent_id)).toMatchObject({ name: 'worker-2', revoked: true, state: 'offline' });
  });
  it.skipIf(skip)('mints by project id inside a caller transaction, which rolls back with it', async () => {
    const db = test().database.db;
    const project = await db.insertInto('projects').values({ slug: 'by-id', name: 'By id' }).returning('id').executeTakeFirstOrThrow();
    const minted = await db
      .transaction()
      .execute((trx) => mintAgent(trx, { projectId: project.id, name: 'worker-a', masterSecret: SECRET, now: new Date() }));
    expect(minted).toMatchObject({ project_id: project.id, project_slug: 'by-id', name: 'worker-a' });

    await expect(
      db.transaction().execute(async (trx) => {
        await mintAgent(trx, { projectId: project.id, name: 'worker-b', masterSecret: SECRET, now: new Date() });
        throw new Error('caller failed after minting');
      }),
    ).rejects.toThrow('caller failed after minting');
    expect((await listAgents(db, 'by-id')).map((agent) => agent.name)).toEqual(['worker-a']);

    await db.updateTable('projects').set({ is_active: false }).where('id', '=', project.id).execute();
    await expect(mintAgent(db, { projectId: project.id, name: 'worker-c', masterSecret: SECRET, now: new Date() })).rejects.toMatchObject({
      code: 'PROJECT_NOT_FOUND',
    });
  });

  it.skipIf(skip)('marks revoked only within the given project, without signalling', async () => {
    const db = test().database.db;
    const minted = await mintAgent(db, { projectSlug: 'default', name: 'worker-scoped', masterSecret: SECRET, now: new Date() });
    const other = await db.insertInto('projects').values({ slug: 'other', name: 'Other' }).returning('id').executeTakeFirstOrThrow();
    await expect(markAgentRevoked(db, minted.agent_id, new Date(), { projectId: other.id })).rejects.toMatchObject({
      code: 'AGENT_NOT_FOUND',
    });
    expect((await listAgents(db, 'default')).find((agent) => agent.agent_id === minted.agent_id)?.revoked).toBe(false);

    const first = await markAgentRevoked(db, minted.agent_id, new Date(), { projectId: minted.project_id });
    expect(first).toEqual({ alreadyRevoked: false, agent: { id: minted.agent_id, name: 'worker-scoped', project_id: minted.project_id } });
    expect((await markAgentRevoked(db, minted.agent_id, new Date())).alreadyRevoked).toBe(true);
  });
});
