import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { sweepAgentHealth } from './agent-health.js';

const postgres = await probePostgres();

describeEachDatabase('agent health sweep', postgres, ({ skip, test }) => {
  it.skipIf(skip)('marks online agents and worker slots offline once their last heartbeat is older than the timeout', async () => {
    const db = test().database.db;
    const slug = `p-${randomBytes(4).toString('hex')}`;
    const project = await db.insertInto('projects').values({ slug, name: slug }).returning('id').executeTakeFirstOrThrow();
    const now = new Date('2031-05-01T12:00:00Z');
    const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);
    const agent = (name: string, state: 'online' | 'offline', lastSeen: Date | null) => ({
      project_id: project.id,
      name,
      token_hash: randomBytes(32).toString('hex'),
      state,
      last_seen_at: lastSeen,
    });
    const [stale, fresh, silent, alreadyOffline] = await db
      .insertInto('agents')
      .values([
        agent('stale', 'online', ago(31)),
        agent('fresh', 'online', ago(5)),
        agent('silent', 'online', null),
        agent('gone', 'offline', ago(3_600)),
      ])
      .returning('id')
      .execute();
    await db
      .insertInto('agent_workers')
      .values([
        { agent_id: stale!.id, project_id: project.id, worker_id: 'w-stale', state: 'online', last_seen_at: ago(40) },
        { agent_id: fresh!.id, project_id: project.id, worker_id: 'w-fresh', state: 'online', last_seen_at: ago(1) },
      ])
      .execute();

    const swept = await sweepAgentHealth({ db, now, offlineTimeoutSeconds: 30 });
    expect(new Set(swept.agents)).toEqual(new Set([stale!.id, silent!.id]));
    expect(swept.projectIds).toEqual([project.id]);
    expect(swept.workers).toBe(1);
    const states = await db.selectFrom('agents').select(['id', 'state']).where('project_id', '=', project.id).execute();
    expect(Object.fromEntries(states.map((row) => [row.id, row.state]))).toEqual({
      [stale!.id]: 'offline',
      [fresh!.id]: 'online',
      [silent!.id]: 'offline',
      [alreadyOffline!.id]: 'offline',
    });
    const workers = await db.selectFrom('agent_workers').select(['worker_id', 'state']).where('project_id', '=', project.id).execute();
    expect(Object.fromEntries(workers.map((row) => [row.worker_id, row.state]))).toEqual({ 'w-stale': 'offline', 'w-fresh': 'online' });
    expect(await sweepAgentHealth({ db, now, offlineTimeoutSeconds: 30 })).toEqual({ agents: [], projectIds: [], workers: 0 });
  });
});
