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

  it.skipIf(skip)('refuses channel names that are not plain identifiers', async () => {
    const notifier = createNotifier(test().database);
    await expect(notifier.publish('bad channel; drop table x', 'x')).rejects.toThrow(/invalid NOTIFY channel/);
    await notifier.close();
  });
});
