import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@z4j/logger';
import { createPeriodicTask } from './periodic-task.js';

const logger = createLogger({ level: 'silent', json: true, destination: new Writable({ write: (_c, _e, cb) => cb() }) });

describe('createPeriodicTask', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs on its interval and stops cleanly', async () => {
    let runs = 0;
    const task = createPeriodicTask({ name: 't', intervalMs: 1_000, logger, run: async () => void (runs += 1) });
    task.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(runs).toBe(3);
    await task.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(3);
  });

  it('backs off after failures and returns to the normal cadence after a success', async () => {
    const at: number[] = [];
    let failuresLeft = 2;
    const task = createPeriodicTask({
      name: 't',
      intervalMs: 1_000,
      maxBackoffMs: 60_000,
      runImmediately: true,
      logger,
      run: async () => {
        at.push(Date.now());
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('flaky');
        }
      },
    });
    const start = Date.now();
    task.start();
    await vi.advanceTimersByTimeAsync(0); // immediate run fails
    await vi.advanceTimersByTimeAsync(2_000); // 2 s backoff, fails again
    await vi.advanceTimersByTimeAsync(4_000); // 4 s backoff, succeeds
    await vi.advanceTimersByTimeAsync(1_000); // normal cadence
    expect(at.map((t) => t - start)).toEqual([0, 2_000, 6_000, 7_000]);
    await task.stop();
  });

  it('waits for a running tick when stopping', async () => {
    let release!: () => void;
    let finished = false;
    const task = createPeriodicTask({
      name: 't',
      intervalMs: 1_000,
      runImmediately: true,
      logger,
      run: () =>
        new Promise<void>((resolve) => {
          release = () => {
            finished = true;
            resolve();
          };
        }),
    });
    task.start();
    await vi.advanceTimersByTimeAsync(0);
    const stopped = task.stop();
    release();
    await stopped;
    expect(finished).toBe(true);
  });
});
