import { expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createNotifier } from './notifier.js';

const postgres = await probePostgres();

describeEachDatabase('notifier', postgres, ({ kind, skip, test }) => {
  it.skipIf(skip)('delivers a published payload to subscribers of that channel only', async () => {
    const a = createNotifier(test().database);
    const b = createNotifier(test().database);
    try {
      const other: string[] = [];
      await a.subscribe('z4j_other', (payload) => other.push(payload));
      let resolveReceived!: (payload: string) => void;
      const received = new Promise<string>((resolve) => (resolveReceived = resolve));
      const unsubscribe = await a.subscribe('z4j_agent_revoked', resolveReceived);
      // On Postgres the publisher is another notifier (another replica); locally it must be the same bus.
      const publisher = kind === 'postgres' ? b : a;
      await publisher.publish('z4j_agent_revoked', 'agent-123');
      expect(await received).toBe('agent-123');
      expect(other).toEqual([]);
      await unsubscribe();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it.skipIf(skip)('publishes many payloads in order, in one call', async () => {
    const listener = createNotifier(test().database);
    const publisher = kind === 'postgres' ? createNotifier(test().database) : listener;
    try {
      const received: string[] = [];
      await listener.subscribe('z4j_command_updates', (payload) => received.push(payload));
      const payloads = Array.from({ length: 1_205 }, (_, index) => `id-${index}`);
      await publisher.publishMany('z4j_command_updates', payloads);
      for (let attempt = 0; attempt < 200 && received.length < payloads.length; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(received).toEqual(payloads);
    } finally {
      await listener.close();
      await publisher.close();
    }
  });

  it.skipIf(skip)('stays in process with Z4J_REGISTRY_BACKEND=local, whatever the database', async () => {
    const a = createNotifier(test().database, { backend: 'local' });
    try {
      expect(a.backend).toBe('local');
      expect(a.listenerApplicationName).toBeUndefined();
      const received = new Promise<string>((resolve) => void a.subscribe('z4j_commands', resolve));
      await a.publish('z4j_commands', '{"c":"x","a":"y"}');
      expect(await received).toBe('{"c":"x","a":"y"}');
      if (kind === 'postgres') {
        const other = createNotifier(test().database);
        expect(other.backend).toBe('postgres_notify');
        expect(other.listenerApplicationName).toMatch(/^z4j-test-listener-[0-9a-f]{8}$/);
        await other.close();
      }
    } finally {
      await a.close();
    }
  });

  it.skipIf(skip)('refuses channel names that are not plain identifiers', async () => {
    const notifier = createNotifier(test().database);
    await expect(notifier.publish('bad channel; drop table x', 'x')).rejects.toThrow(/invalid NOTIFY channel/);
    await notifier.close();
  });
});
