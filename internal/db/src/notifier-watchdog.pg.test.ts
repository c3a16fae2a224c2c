import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, probePostgres, type TestDatabase } from '@z4j/testing';
import { createNotifier, type ListenerRebuildReason, type Notifier, type NotifierEvent } from './notifier.js';

const postgres = await probePostgres();

/** Bounded polling for effects that happen on another connection (at most ~10 s). */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A real TCP proxy in front of Postgres. `freeze()` keeps its current
 * connections open but stops moving bytes either way: a half-open connection,
 * the failure no socket event reports. New connections still pass.
 */
async function startTcpProxy(target: { host: string; port: number }) {
  const pairs: { client: Socket; upstream: Socket; frozen: boolean }[] = [];
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    const pair = { client, upstream, frozen: false };
    pairs.push(pair);
    upstream.connect(target.port, target.host);
    client.on('data', (chunk) => {
      if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!pair.frozen) client.write(chunk);
    });
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('error', () => to.destroy());
      from.on('end', () => {
        if (!pair.frozen) to.end();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    freeze() {
      for (const pair of pairs) pair.frozen = true;
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe.skipIf(!postgres.available)('notifier listener watchdog (real Postgres)', () => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await openTestDatabase('postgres');
  });
  afterAll(async () => {
    await test?.dispose();
  });

  function watched(options: { heartbeatMs: number; timeoutMs: number; maxAgeMs: number }, database = test.database) {
    const rebuilds: ListenerRebuildReason[] = [];
    const events: NotifierEvent[] = [];
    const notifier = createNotifier(database, {
      watchdog: options,
      metrics: { listenerRebuilds: { inc: ({ reason }) => void rebuilds.push(reason) } },
      onEvent: (event) => events.push(event),
    });
    let restored = 0;
    notifier.onListenerRestored(() => (restored += 1));
    return { notifier, rebuilds, events, restored: () => restored };
  }

  async function listenerPids(notifier: Notifier): Promise<number[]> {
    const rows = await sql<{ pid: number }>`
      select pid from pg_stat_activity where application_name = ${notifier.listenerApplicationName ?? ''}`.execute(test.database.db);
    return rows.rows.map((row) => row.pid);
  }

  async function roundTrip(listener: Notifier, publisher: Notifier, received: string[], payload: string): Promise<void> {
    await publisher.publish('z4j_watchdog_test', payload);
    await until(() => received.includes(payload), `"${payload}" to arrive`);
  }

  it('rebuilds a LISTEN connection the server terminated, re-LISTENs every channel and runs the restored handlers', async () => {
    const { notifier, rebuilds, restored } = watched({ heartbeatMs: 200, timeoutMs: 1_000, maxAgeMs: 600_000 });
    const publisher = createNotifier(test.database);
    try {
      const received: string[] = [];
      await notifier.subscribe('z4j_watchdog_test', (payload) => received.push(payload));
      await roundTrip(notifier, publisher, received, 'before');
      const [before] = await listenerPids(notifier);
      expect(before).toBeGreaterThan(0);

      await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${notifier.listenerApplicationName ?? ''}`.execute(
        test.database.db,
      );
      await until(() => rebuilds.length > 0, 'the rebuild');
      expect(rebuilds).toEqual(['connection_lost']);
      expect(restored()).toBe(1);
      const after = await listenerPids(notifier);
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(before);
      await roundTrip(notifier, publisher, received, 'after');
    } finally {
      await notifier.close();
      await publisher.close();
    }
  });

  it('rebuilds a half-open LISTEN connection when its own heartbeat stops coming back', async () => {
    const url = new URL(test.url as string);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    // The LISTEN connection goes through the proxy; publishes (heartbeats included) go straight to the server.
    const viaProxy = new pg.Pool({ connectionString: url.toString(), application_name: 'z4j-proxied' });
    const { notifier, rebuilds, events, restored } = watched(
      { heartbeatMs: 100, timeoutMs: 500, maxAgeMs: 600_000 },
      { ...test.database, pool: viaProxy },
    );
    const publisher = createNotifier(test.database);
    try {
      const received: string[] = [];
      await notifier.subscribe('z4j_watchdog_test', (payload) => received.push(payload));
      await roundTrip(notifier, publisher, received, 'before');

      proxy.freeze();
      await publisher.publish('z4j_watchdog_test', 'lost');
      await until(() => rebuilds.length > 0, 'the heartbeat timeout');
      expect(rebuilds).toEqual(['heartbeat_timeout']);
      expect(events.some((event) => event.type === 'listener_lost')).toBe(false);
      expect(restored()).toBe(1);
      expect(received).not.toContain('lost');
      await roundTrip(notifier, publisher, received, 'after');
      // Closing never waits on the frozen connection's goodbye for more than its grace period.
      const closing = Date.now();
      await notifier.close();
      expect(Date.now() - closing).toBeLessThan(3_000);
    } finally {
      await notifier.close();
      await publisher.close();
      await proxy.close();
      await viaProxy.end();
    }
  });

  it('recycles the LISTEN connection at its max age without losing a NOTIFY', async () => {
    const { notifier, rebuilds } = watched({ heartbeatMs: 100, timeoutMs: 2_000, maxAgeMs: 700 });
    const publisher = createNotifier(test.database);
    try {
      const received: string[] = [];
      await notifier.subscribe('z4j_watchdog_test', (payload) => received.push(payload));
      const [first] = await listenerPids(notifier);
      const sent: string[] = [];
      for (let index = 0; rebuilds.length < 2; index += 1) {
        sent.push(`n-${index}`);
        await publisher.publish('z4j_watchdog_test', `n-${index}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(rebuilds.slice(0, 2)).toEqual(['max_age', 'max_age']);
      await until(() => sent.every((payload) => received.includes(payload)), 'every payload');
      // A retired connection lingers briefly (still delivering), then closes: never more than the old and the new.
      await until(async () => !(await listenerPids(notifier)).includes(first as number), 'the first listener to close');
      expect((await listenerPids(notifier)).length).toBeLessThanOrEqual(2);
    } finally {
      await notifier.close();
      await publisher.close();
    }
  });

  it('lets subscribe() join a rebuild in progress and LISTEN on the new connection', async () => {
    const { notifier, rebuilds } = watched({ heartbeatMs: 200, timeoutMs: 2_000, maxAgeMs: 600_000 });
    const publisher = createNotifier(test.database);
    try {
      const first: string[] = [];
      await notifier.subscribe('z4j_watchdog_test', (payload) => first.push(payload));
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${notifier.listenerApplicationName ?? ''}`.execute(
        test.database.db,
      );
      const second: string[] = [];
      await notifier.subscribe('z4j_watchdog_other', (payload) => second.push(payload));
      await publisher.publish('z4j_watchdog_other', 'second');
      await until(() => second.includes('second'), 'the new channel');
      // Whichever noticed first (the failed LISTEN or the connection's error) started it; the other joined it.
      expect(rebuilds).toHaveLength(1);
      expect(['connection_lost', 'listen_failed']).toContain(rebuilds[0]);
      await roundTrip(notifier, publisher, first, 'first');
    } finally {
      await notifier.close();
      await publisher.close();
    }
  });
});
