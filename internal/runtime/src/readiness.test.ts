import { describe, expect, it } from 'vitest';
import { createReadiness } from './readiness.js';

describe('createReadiness', () => {
  it('reports starting, then ready while the database answers, then draining for good', async () => {
    let up = true;
    let clock = 0;
    const readiness = createReadiness({
      ping: async () => {
        if (!up) throw new Error('down');
      },
      cacheMs: 1_000,
      now: () => clock,
    });
    expect(await readiness.check()).toEqual({ ready: false, reason: 'starting' });
    readiness.markReady();
    expect(await readiness.check()).toEqual({ ready: true });
    up = false;
    expect(await readiness.check()).toEqual({ ready: true }); // cached within cacheMs
    clock += 1_001;
    expect(await readiness.check()).toEqual({ ready: false, reason: 'database' });
    up = true;
    clock += 1_001;
    expect(await readiness.check()).toEqual({ ready: true });
    readiness.markUnready('migrations_pending');
    expect(await readiness.check()).toEqual({ ready: false, reason: 'migrations_pending' });
    readiness.markDraining();
    readiness.markReady();
    expect(await readiness.check()).toEqual({ ready: false, reason: 'draining' });
  });

  it('treats a ping that never answers as a database failure', async () => {
    const readiness = createReadiness({ ping: () => new Promise(() => undefined), pingTimeoutMs: 20 });
    readiness.markReady();
    expect(await readiness.check()).toEqual({ ready: false, reason: 'database' });
  });
});
