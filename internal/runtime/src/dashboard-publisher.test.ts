import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@z4j/logger';
import { DASHBOARD_CHANNEL, createDashboardPublisher } from './dashboard-publisher.js';

describe('createDashboardPublisher', () => {
  afterEach(() => vi.useRealTimers());

  it('turns a burst into a leading and a trailing NOTIFY per project and topic', async () => {
    vi.useFakeTimers();
    const sent: { channel: string; payload: string }[] = [];
    const publisher = createDashboardPublisher({
      publish: async (channel, payload) => {
        sent.push({ channel, payload });
      },
      workerId: 'w1',
      logger: createLogger({ level: 'silent', json: true }),
      windowMs: 250,
    });
    for (let i = 0; i < 10_000; i += 1) publisher.changed('p1', 'task.changed');
    publisher.changed('p2', 'task.changed');
    publisher.changed('p1', 'agent.changed');
    expect(sent.map((entry) => JSON.parse(entry.payload) as unknown)).toEqual([
      { p: 'p1', t: 'task.changed', w: 'w1' },
      { p: 'p2', t: 'task.changed', w: 'w1' },
      { p: 'p1', t: 'agent.changed', w: 'w1' },
    ]);
    expect(sent.every((entry) => entry.channel === DASHBOARD_CHANNEL)).toBe(true);
    await vi.advanceTimersByTimeAsync(250);
    // Only p1/task.changed changed again inside its window: one trailing NOTIFY.
    expect(sent).toHaveLength(4);
    expect(JSON.parse(sent[3]!.payload)).toEqual({ p: 'p1', t: 'task.changed', w: 'w1' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent).toHaveLength(4);
    publisher.changed('p1', 'task.changed');
    expect(sent).toHaveLength(5);
    await publisher.close();
  });

  it('flushes a pending trailing change on close', async () => {
    vi.useFakeTimers();
    const sent: string[] = [];
    const publisher = createDashboardPublisher({
      publish: async (_channel, payload) => {
        sent.push(payload);
      },
      workerId: 'w1',
      logger: createLogger({ level: 'silent', json: true }),
    });
    publisher.changed('p1', 'command.changed');
    publisher.changed('p1', 'command.changed');
    await publisher.close();
    expect(sent).toHaveLength(2);
    publisher.changed('p1', 'command.changed');
    expect(sent).toHaveLength(2);
  });
});
