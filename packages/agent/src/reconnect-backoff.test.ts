import { describe, expect, it } from 'vitest';
import { backoffDelayMs, backoffPolicies, classifyClose, ReconnectBackoff } from './reconnect-backoff.js';

describe('classifyClose', () => {
  it('maps auth, protocol and everything else', () => {
    expect([4401, 4403, 401, 403].map(classifyClose)).toEqual(['auth', 'auth', 'auth', 'auth']);
    expect([4400, 4426, 4429].map(classifyClose)).toEqual(['protocol', 'protocol', 'protocol']);
    expect([1000, 1001, 1006, 1011, 4002, 4408, 503].map(classifyClose)).toEqual(Array(7).fill('connection'));
  });
});

describe('backoffDelayMs', () => {
  const policy = { baseMs: 1_000, maxMs: 60_000, floorMs: 0 };

  it('draws uniformly between the floor and a ceiling that doubles per attempt up to the cap', () => {
    expect(backoffDelayMs(policy, 0, () => 0)).toBe(0);
    expect(backoffDelayMs(policy, 0, () => 0.999_999)).toBe(999);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(4_000);
    expect(backoffDelayMs(policy, 6, () => 0.999_999)).toBe(59_999);
    expect(backoffDelayMs(policy, 2_000, () => 0.999_999)).toBe(59_999);
  });

  it('never goes below the floor of a rejected-kind policy', () => {
    expect(backoffDelayMs({ baseMs: 10_000, maxMs: 600_000, floorMs: 10_000 }, 0, () => 0)).toBe(10_000);
    expect(backoffDelayMs({ baseMs: 10_000, maxMs: 600_000, floorMs: 10_000 }, 3, () => 0)).toBe(10_000);
  });
});

describe('ReconnectBackoff', () => {
  it('keeps a streak per kind, uses that kind’s curve, and resets all on success', () => {
    const backoff = new ReconnectBackoff(backoffPolicies(30), () => 0.999_999);
    const connection = [0, 1, 2, 3, 4, 5, 6].map(() => backoff.failed('connection'));
    expect(connection).toEqual([999, 1_999, 3_999, 7_999, 15_999, 29_999, 29_999]);
    expect(backoff.failed('auth')).toBe(10_000);
    expect(backoff.failed('auth')).toBe(19_999);
    expect(backoff.failed('protocol')).toBe(5_000);
    expect(backoff.streaks).toEqual({ connection: 7, auth: 2, protocol: 1 });
    backoff.succeeded();
    expect(backoff.streaks).toEqual({ connection: 0, auth: 0, protocol: 0 });
    expect(backoff.failed('connection')).toBe(999);
  });

  it('gives auth failures a longer curve than connection failures', () => {
    const low = new ReconnectBackoff(backoffPolicies(60), () => 0);
    expect(low.failed('auth')).toBe(10_000);
    expect(low.failed('protocol')).toBe(5_000);
    expect(low.failed('connection')).toBe(0);
    const policies = backoffPolicies(60);
    expect(policies.auth.maxMs).toBe(600_000);
    expect(policies.connection.maxMs).toBe(60_000);
  });
});
