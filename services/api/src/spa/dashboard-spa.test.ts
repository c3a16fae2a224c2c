import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '@z4j/config';
import { createLogger } from '@z4j/logger';
import { createErrorHandler } from '@z4j/runtime';
import type { ApiEnv } from '../http/api-types.js';
import { mountDashboard } from './dashboard-spa.js';

/** A built dashboard in a temp dir: index.html and one hashed asset. */
function fakeBuild(): string {
  const dist = mkdtempSync(join(tmpdir(), 'z4j-dashboard-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(
    join(dist, 'index.html'),
    '<!doctype html><div id="root"></div><script type="module" src="/assets/index-abc123.js"></script>',
  );
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log("dashboard")');
  return dist;
}

function app(env: Record<string, string>) {
  const { settings } = resolveConfig(
    {
      env: {
        Z4J_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused',
        Z4J_SECRET: 'spa-test-secret-0123456789-abcdefghijklmnop',
        Z4J_SESSION_SECRET: 'spa-test-session-0123456789-abcdefghijklmnop',
        Z4J_PUBLIC_URL: 'https://z4j.example.com',
        ...env,
      },
    },
    { homeDir: '/nonexistent', cwd: '/nonexistent' },
  );
  const logs: string[] = [];
  const logger = createLogger({
    level: 'warn',
    json: true,
    destination: new Writable({ write: (chunk: Buffer, _e, done) => (logs.push(String(chunk)), done()) }),
  });
  const hono = new Hono<ApiEnv>();
  hono.onError(createErrorHandler(logger));
  hono.get('/api/v1/projects', (c) => c.json({ items: [] }));
  const mounted = mountDashboard(hono, { settings, logger });
  return { hono, mounted, logs };
}

const get = (hono: Hono<ApiEnv>, path: string, host = 'z4j.example.com') => hono.request(path, { headers: { host } });

describe('dashboard serving', () => {
  it('serves index.html for deep links with the page CSP and no caching, hashed assets as immutable', async () => {
    const { hono } = app({ Z4J_DASHBOARD_DIST: fakeBuild() });
    for (const path of ['/', '/login', '/projects/billing/tasks/celery/abc']) {
      const page = await get(hono, path);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="root">');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(page.headers.get('x-frame-options')).toBe('DENY');
    }
    const asset = await get(hono, '/assets/index-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toContain('dashboard');
  });

  it('never answers for the API, the sockets, metrics or setup, nor for a missing asset or a traversal', async () => {
    const { hono } = app({ Z4J_DASHBOARD_DIST: fakeBuild() });
    expect((await get(hono, '/api/v1/projects')).status).toBe(200);
    for (const path of ['/api/v1/nope', '/ws/dashboard', '/metrics', '/setup', '/assets/missing.js', '/assets/..%2findex.html']) {
      expect([path, (await get(hono, path)).status]).toEqual([path, 404]);
    }
  });

  it('refuses hosts outside Z4J_ALLOWED_HOSTS on its pages', async () => {
    const { hono } = app({ Z4J_DASHBOARD_DIST: fakeBuild(), Z4J_ALLOWED_HOSTS: 'z4j.example.com' });
    expect((await get(hono, '/', 'z4j.example.com')).status).toBe(200);
    expect((await get(hono, '/', 'evil.example.net')).status).toBe(400);
  });

  it('Z4J_DISABLE_SPA_FALLBACK serves / only', async () => {
    const { hono } = app({ Z4J_DASHBOARD_DIST: fakeBuild(), Z4J_DISABLE_SPA_FALLBACK: 'true' });
    expect((await get(hono, '/')).status).toBe(200);
    expect((await get(hono, '/projects/x/tasks')).status).toBe(404);
  });

  it('without a build it logs a warning and the API still works', async () => {
    const { hono, mounted, logs } = app({ Z4J_DASHBOARD_DIST: join(tmpdir(), 'z4j-no-such-dashboard') });
    expect(mounted.dist).toBeUndefined();
    expect(logs.join('')).toContain('dashboard:build_missing');
    expect((await get(hono, '/api/v1/projects')).status).toBe(200);
    expect((await get(hono, '/')).status).toBe(404);
  });
});
