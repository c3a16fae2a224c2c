import { expect, it } from 'vitest';
import { createNotifier } from '@z4j/db';
import { decodeHmacSecret, deriveProjectSecret, hashAgentToken } from '@z4j/protocol';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { AGENT_REVOKED_CHANNEL, listAgents, mintAgent, revokeAgent } from './agent-enrolment.js';

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
});
