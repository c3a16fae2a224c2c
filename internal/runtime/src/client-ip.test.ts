import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientIp, createTrustedProxies } from './client-ip.js';
import { createSlidingWindowLimiter } from './sliding-window-limiter.js';

function request(remoteAddress: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('clientIp', () => {
  const trusted = createTrustedProxies(['10.0.0.0/8', '::1']);

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    expect(clientIp(request('203.0.113.9', '1.2.3.4'), trusted)).toBe('203.0.113.9');
    expect(clientIp(request('::ffff:203.0.113.9', '1.2.3.4'), createTrustedProxies([]))).toBe('203.0.113.9');
  });

  it('takes the first untrusted hop from the right behind trusted proxies', () => {
    expect(clientIp(request('10.1.2.3', '198.51.100.7'), trusted)).toBe('198.51.100.7');
    expect(clientIp(request('10.1.2.3', '6.6.6.6, 198.51.100.7, 10.9.9.9'), trusted)).toBe('198.51.100.7');
    expect(clientIp(request('::1', '198.51.100.7'), trusted)).toBe('198.51.100.7');
    expect(clientIp(request('::ffff:10.1.2.3', '198.51.100.7'), trusted)).toBe('198.51.100.7');
  });

  it('falls back to the peer on garbage in the header', () => {
    expect(clientIp(request('10.1.2.3', 'not-an-ip'), trusted)).toBe('10.1.2.3');
  });
});

describe('createSlidingWindowLimiter', () => {
  it('allows `limit` hits per window per key and slides', () => {
    let now = 0;
    const limiter = createSlidingWindowLimiter({ limit: 2, windowMs: 1_000, now: () => now });
    expect([limiter.hit('a'), limiter.hit('a'), limiter.hit('a'), limiter.hit('b')]).toEqual([true, true, false, true]);
    now = 999;
    expect(limiter.hit('a')).toBe(false);
    now = 1_001;
    expect(limiter.hit('a')).toBe(true);
  });

  it('bounds the number of tracked keys', () => {
    const limiter = createSlidingWindowLimiter({ limit: 1, windowMs: 60_000, maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd', 'e']) limiter.hit(key);
    expect(limiter.size()).toBe(3);
  });
});
