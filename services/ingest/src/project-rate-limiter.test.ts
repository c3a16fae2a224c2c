import { describe, expect, it } from 'vitest';
import { ProjectRateLimiter } from './project-rate-limiter.js';

function fakeClock() {
  let now = 0;
  const waits: number[] = [];
  return {
    now: () => now,
    waits,
    // Waiting advances the clock: deterministic, no real sleeping.
    sleep: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
  };
}

describe('ProjectRateLimiter', () => {
  it('passes a burst of one second of events, then delays (never refuses) the rest at the rate', async () => {
    const clock = fakeClock();
    const limiter = new ProjectRateLimiter({ eventsPerSecond: 100, now: clock.now, sleep: clock.sleep });
    expect(limiter.acquire('p', 100)).toBeUndefined();
    const wait = limiter.acquire('p', 50);
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    expect(clock.waits).toEqual([500]);
    // Another project has its own bucket.
    expect(limiter.acquire('q', 100)).toBeUndefined();
    // A batch bigger than the bucket still passes, after its debt is repaid.
    await limiter.acquire('p', 250);
    expect(clock.waits).toEqual([500, 2500]);
    expect(limiter.delayedMs).toBe(3000);
  });

  it('refills over time and is off at 0', async () => {
    const clock = fakeClock();
    const limiter = new ProjectRateLimiter({ eventsPerSecond: 10, now: clock.now, sleep: clock.sleep });
    expect(limiter.acquire('p', 10)).toBeUndefined();
    await clock.sleep(1000);
    expect(limiter.acquire('p', 10)).toBeUndefined();
    expect(new ProjectRateLimiter({ eventsPerSecond: 0, now: clock.now }).acquire('p', 1e9)).toBeUndefined();
  });

  it('release() lets waiting acquires through at once', async () => {
    const limiter = new ProjectRateLimiter({ eventsPerSecond: 1, now: () => 0 });
    expect(limiter.acquire('p', 1)).toBeUndefined();
    const wait = limiter.acquire('p', 3600);
    limiter.release();
    await wait; // would be an hour otherwise
    expect(limiter.acquire('p', 10)).toBeUndefined();
  });
});
