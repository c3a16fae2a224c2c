import { describe, expect, it } from 'vitest';
import { readAdapterHealth } from './adapter-health.js';

describe('readAdapterHealth', () => {
  it('reads JSON-string queue depths and Celery worker details, keeping only allow-listed conf keys', () => {
    const health = readAdapterHealth({
      'celery.queue_depths': JSON.stringify({ default: 12, mail: 0 }),
      'celery.worker_details': JSON.stringify({
        'celery@ip-10-0-0-1.ec2.internal': {
          stats: { pid: 42, pool: { 'max-concurrency': 8, processes: [1, 2] }, loadavg: [0.5, 0.4, 0.3] },
          active: [{ id: 't1' }, { id: 't2' }],
          active_queues: [{ name: 'default' }, { name: 'mail' }, { name: 'default' }],
          registered: ['app.add'],
          conf: { broker_url: 'redis://user:secret@redis:6379/0', worker_prefetch_multiplier: 4 },
        },
      }),
      'rq.other': 'ignored',
    });
    expect(health.queueDepths).toEqual([
      { engine: 'celery', queue: 'default', depth: 12 },
      { engine: 'celery', queue: 'mail', depth: 0 },
    ]);
    expect(health.workers).toHaveLength(1);
    expect(health.workers[0]).toMatchObject({
      engine: 'celery',
      name: 'celery@ip-10-0-0-1.ec2.internal',
      hostname: 'ip-10-0-0-1.ec2.internal',
      pid: 42,
      concurrency: 8,
      activeTasks: 2,
      queues: ['default', 'mail'],
      loadAverage: [0.5, 0.4, 0.3],
    });
    expect(health.workers[0]!.metadata.conf).toEqual({ worker_prefetch_multiplier: 4 });
    expect(JSON.stringify(health)).not.toContain('secret');
  });

  it('skips what does not parse instead of failing the heartbeat', () => {
    const health = readAdapterHealth({
      'celery.queue_depths': '{not json',
      'rq.queue_depths': JSON.stringify({ q: -1 }),
      'dramatiq.worker_details': JSON.stringify([1, 2]),
      'huey.worker_details': JSON.stringify({ host: { stats: 'nope' } }),
      nodot: 'x',
    });
    expect(health).toEqual({ queueDepths: [], workers: [] });
  });
});
