import { describe, expect, it } from 'vitest';
import { collectAdapterHealth, inspectShape } from './adapter-health.js';
import type { EngineAdapter } from './engine-adapter.js';

const base: Omit<EngineAdapter, 'engine' | 'queueDepths' | 'workerDetails'> = {
  capabilities: new Set(),
  start: () => undefined,
  stop: () => undefined,
  execute: async () => undefined,
};

describe('collectAdapterHealth', () => {
  it('reports depths and workers per engine as JSON strings in the Celery-inspect shape the brain reads', async () => {
    const health = await collectAdapterHealth(
      [
        {
          ...base,
          engine: 'fake',
          queueDepths: async () => ({ mail: 3, '': 1, bad: -1 }),
          workerDetails: async () => [
            { name: 'fake@h', pid: 9, concurrency: 4, queues: ['mail'], active: [{ id: 'j1' }], loadAverage: [0.5, 0.25, 0.1] },
          ],
        },
      ],
      () => undefined,
    );
    expect(JSON.parse(health['fake.queue_depths']!)).toEqual({ mail: 3 });
    expect(JSON.parse(health['fake.worker_details']!)).toEqual({
      'fake@h': {
        stats: { pid: 9, pool: { 'max-concurrency': 4 }, loadavg: [0.5, 0.25, 0.1] },
        active: [{ id: 'j1' }],
        active_queues: [{ name: 'mail' }],
        registered: [],
      },
    });
  });

  it('leaves out what failed or timed out and reports it, keeping the rest', async () => {
    const errors: string[] = [];
    const health = await collectAdapterHealth(
      [
        { ...base, engine: 'slow', queueDepths: () => new Promise(() => undefined), workerDetails: async () => [] },
        {
          ...base,
          engine: 'broken',
          queueDepths: async () => ({ q: 1 }),
          workerDetails: () => {
            throw new Error('sync failure');
          },
        },
      ],
      (engine, what) => errors.push(`${engine}.${what}`),
      50,
    );
    expect(Object.keys(health).sort()).toEqual(['broken.queue_depths', 'slow.worker_details']);
    expect(errors.sort()).toEqual(['broken.worker_details', 'slow.queue_depths']);
  });

  it('omits stats the adapter does not know', () => {
    expect(inspectShape({ name: 'w' })).toEqual({ stats: {}, active: [], active_queues: [], registered: [] });
  });
});
