import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FakeAgent, probePostgres, taskEvent } from '@z4j/testing';
import { startTestBrain, type TestBrain } from './test-brain.js';

const postgres = await probePostgres();
const ADMIN = { email: 'ops@example.com', password: 'a long enough passphrase' };

/**
 * The dashboard push path of a whole brain: a signed-in browser subscribes to
 * `/ws/dashboard`, an agent connects and sends events, and the browser is told
 * `agent.changed` and `task.changed` (ingest → coalescing publisher → NOTIFY
 * z4j_dashboard → every replica's sockets), then refetches over REST.
 */
describe.skipIf(!postgres.available)('dashboard push', () => {
  let test: TestBrain;
  beforeAll(async () => {
    test = await startTestBrain({
      env: { Z4J_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, Z4J_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password, Z4J_ENVIRONMENT: 'dev' },
    });
    await test.brain.ready;
  });
  afterAll(async () => {
    await test?.stop();
  });

  it('tells a subscribed dashboard about agents and tasks of its project', async () => {
    const login = await fetch(`${test.brain.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
    const projects = (await (await fetch(`${test.brain.url}/api/v1/projects`, { headers: { cookie } })).json()) as {
      items: { id: string; slug: string }[];
    };
    const project = projects.items.find((item) => item.slug === 'default')!;

    const ws = new WebSocket(`${test.brain.url.replace(/^http/, 'ws')}/ws/dashboard`, {
      headers: { cookie, origin: 'http://127.0.0.1:7700' },
    });
    const topics: string[] = [];
    const ready = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as { type: string; topic?: string };
        if (message.type === 'ready') resolve();
        if (message.type === 'event' && message.topic) topics.push(message.topic);
      }),
    );
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'subscribe', project_id: project.id }));
    await ready;

    const minted = await test.mint('dashboard-agent');
    const agent = await FakeAgent.handshake({ url: test.agentUrl, token: minted.token, hmacSecret: minted.hmac_secret });
    const frameId = 'ev_dashboard_1';
    agent.eventBatch([taskEvent('task.received', 'dash-1', new Date()), taskEvent('task.succeeded', 'dash-1', new Date())], frameId);
    await agent.waitForAck(frameId);
    for (let attempt = 0; attempt < 100 && !(topics.includes('task.changed') && topics.includes('agent.changed')); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(topics).toContain('agent.changed');
    expect(topics).toContain('task.changed');
    await agent.close();
    ws.close();
  });
});
