import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '@z4j/config';
import { canonicalTimeZone } from './time-zone.js';
import { createUnknownEmailFailures, loginFailureDelayMs, waitUntilElapsed } from './login-timing.js';

function settingsWith(env: Record<string, string>) {
  return resolveConfig(
    {
      env: {
        Z4J_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused',
        Z4J_SECRET: 'timing-test-master-secret-0123456789-abcdefgh',
        Z4J_SESSION_SECRET: 'timing-test-session-secret-0123456789-abcdef',
        Z4J_PUBLIC_URL: 'http://localhost:7700',
        Z4J_ENVIRONMENT: 'dev',
        ...env,
      },
    },
    { homeDir: '/nonexistent', cwd: '/nonexistent' },
  ).settings;
}

describe('loginFailureDelayMs', () => {
  it('doubles per failure from Z4J_LOGIN_BACKOFF_BASE_SECONDS and stops at Z4J_LOGIN_BACKOFF_MAX_SECONDS (defaults 0.5 s, 5 s)', () => {
    const settings = settingsWith({});
    expect([1, 2, 3, 4, 5, 50, 10_000].map((count) => loginFailureDelayMs(count, settings))).toEqual([
      1000, 2000, 4000, 5000, 5000, 5000, 5000,
    ]);
  });

  it('honours the settings, and base 0 turns the backoff off', () => {
    expect(loginFailureDelayMs(2, settingsWith({ Z4J_LOGIN_BACKOFF_BASE_SECONDS: '0.1', Z4J_LOGIN_BACKOFF_MAX_SECONDS: '0.3' }))).toBe(300);
    expect(loginFailureDelayMs(1, settingsWith({ Z4J_LOGIN_BACKOFF_BASE_SECONDS: '0.1', Z4J_LOGIN_BACKOFF_MAX_SECONDS: '0.3' }))).toBe(200);
    expect(loginFailureDelayMs(9, settingsWith({ Z4J_LOGIN_BACKOFF_BASE_SECONDS: '0' }))).toBe(0);
  });
});

describe('waitUntilElapsed', () => {
  it('resolves no earlier than the floor since the start, and at once when it has passed', async () => {
    const started = performance.now();
    await waitUntilElapsed(started, 40);
    // A lower bound the loop guarantees by construction.
    expect(performance.now() - started).toBeGreaterThanOrEqual(40);
    const before = performance.now();
    await waitUntilElapsed(started, 0);
    expect(performance.now() - before).toBeLessThan(1000);
  });
});

describe('createUnknownEmailFailures', () => {
  it('counts per email like an account would, forgets after the reset window and stays bounded', () => {
    const failures = createUnknownEmailFailures({ resetAfterMs: 1000, maxKeys: 2 });
    expect(failures.record('a@example.com', 0)).toBe(1);
    expect(failures.record('a@example.com', 10)).toBe(2);
    expect(failures.record('b@example.com', 20)).toBe(1);
    expect(failures.record('a@example.com', 1009)).toBe(3);
    expect(failures.record('a@example.com', 2009)).toBe(1);
    failures.record('c@example.com', 2010);
    expect(failures.size()).toBe(2);
    // b was the least recently failed: dropped, so it starts again.
    expect(failures.record('b@example.com', 2011)).toBe(1);
  });
});

describe('canonicalTimeZone', () => {
  it('accepts IANA names (canonical case, UTC included) and refuses the rest', () => {
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('America/Argentina/Buenos_Aires')).toBe('America/Argentina/Buenos_Aires');
    for (const bad of ['Mars/Olympus_Mons', '+01:00', '', 'Europe/Paris\n', 'x'.repeat(65), '../etc/passwd']) {
      expect(canonicalTimeZone(bad)).toBeUndefined();
    }
  });
});
