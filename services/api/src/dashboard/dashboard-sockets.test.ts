import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DASHBOARD_CHANNEL } from '@z4j/runtime';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness, type ApiHarness, type CookieJar } from '../testing/api-harness.js';
import { createDashboardSockets, type DashboardSockets } from './dashboard-sockets.js';

const postgres = await probePostgres();
const ORIGIN = 'http://localhost:7700';

interface Client {
  readonly ws: WebSocket;
  readonly messages: unknown[];
  readonly closed: Promise<number>;
  next(): Promise<unknown>;
}

function connect(port: number, jar: CookieJar | undefined, origin = ORIGIN): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/dashboard`, {
    headers: { origin, ...(jar?.header() ? { cookie: jar.header()! } : {}) },
  });
  const messages: unknown[] = [];
  const waiters: ((message: unknown) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const message: unknown = JSON.parse(data.toString('utf8'));
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else messages.push(message);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        closed,
        next: () => (messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((done) => waiters.push(done))),
      }),
    );
    ws.once('error', reject);
  });
}

describeEachDatabase('/ws/dashboard', postgres, ({ skip, test }) => {
  let server: Server | undefined;
  let sockets: DashboardSockets | undefined;
  afterEach(async () => {
    await sockets?.drain();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  async function serve(harness: ApiHarness): Promise<number> {
    sockets = createDashboardSockets(harness.deps);
    await sockets.start();
    server = createServer((_request, response) => response.end());
    server.on('upgrade', (request, socket, head) => sockets!.upgrade(request, socket, head));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  it.skipIf(skip)('authenticates, checks the Origin and the membership, then pushes coalesced change events', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const port = await serve(harness);
    const member = await harness.createUser({ memberships: { alpha: 'viewer' } });
    const alphaId = await harness.createProject('alpha');
    const betaId = await harness.createProject('beta');
    const jar = await harness.sessionJar(member);

    expect(await (await connect(port, undefined)).closed).toBe(4401);
    expect(await (await connect(port, jar, 'https://evil.example.net')).closed).toBe(4403);
    const foreign = await connect(port, jar);
    foreign.ws.send(JSON.stringify({ type: 'subscribe', project_id: betaId }));
    expect(await foreign.closed).toBe(4403);
    const rude = await connect(port, jar);
    rude.ws.send(JSON.stringify({ type: 'hello' }));
    expect(await rude.closed).toBe(4400);

    const client = await connect(port, jar);
    client.ws.send(JSON.stringify({ type: 'subscribe', project_id: alphaId }));
    expect(await client.next()).toEqual({ type: 'ready' });
    client.ws.send(JSON.stringify({ type: 'ping' }));
    expect(await client.next()).toEqual({ type: 'pong' });

    // A burst of 1,000 change NOTIFYs becomes one push now and one trailing push, not 1,000.
    for (let i = 0; i < 1000; i += 1)
      await harness.deps.notify(DASHBOARD_CHANNEL, JSON.stringify({ p: alphaId, t: 'task.changed', w: 'x' }));
    await harness.deps.notify(DASHBOARD_CHANNEL, JSON.stringify({ p: betaId, t: 'task.changed', w: 'x' }));
    expect(await client.next()).toEqual({ type: 'event', topic: 'task.changed' });
    expect(await client.next()).toEqual({ type: 'event', topic: 'task.changed' });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(client.messages).toEqual([]);
    // Malformed NOTIFYs are ignored, not fatal.
    await harness.deps.notify(DASHBOARD_CHANNEL, 'not json');
    await harness.deps.notify(DASHBOARD_CHANNEL, JSON.stringify({ p: alphaId, t: 'agent.changed' }));
    expect(await client.next()).toEqual({ type: 'event', topic: 'agent.changed' });
    client.ws.close();
  });

  it.skipIf(skip)('turns command status NOTIFYs into command.changed for the command’s project', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    await harness.db.deleteFrom('commands').execute();
    const port = await serve(harness);
    const admin = await harness.createUser({ isAdmin: true });
    const alphaId = await harness.createProject('alpha');
    const command = await harness.db
      .insertInto('commands')
      .values({
        project_id: alphaId,
        action: 'cancel_task',
        target_type: 'task',
        target_id: 'celery:1',
        timeout_at: new Date(Date.now() + 60_000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const client = await connect(port, await harness.sessionJar(admin));
    client.ws.send(JSON.stringify({ type: 'subscribe', project_id: alphaId }));
    expect(await client.next()).toEqual({ type: 'ready' });
    await harness.deps.notify('z4j_command_updates', command.id);
    expect(await client.next()).toEqual({ type: 'event', topic: 'command.changed' });
    client.ws.close();
  });

  it.skipIf(skip)('refuses a session that still owes its MFA code', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const port = await serve(harness);
    const user = await harness.createUser({ memberships: { alpha: 'viewer' } });
    await harness.db
      .updateTable('users')
      .set({ mfa_enrolled_at: new Date(), mfa_secret_encrypted: Buffer.from('sealed') })
      .where('id', '=', user.id)
      .execute();
    expect(await (await connect(port, await harness.sessionJar(user, { mfaVerifiedAt: null }))).closed).toBe(4401);
  });
});
