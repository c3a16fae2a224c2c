import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';
import { every, except } from 'hono/combine';
import { DASHBOARD_DIST } from '@z4j/dashboard';
import type { ApiDeps, ApiEnv } from '../http/api-types.js';
import { createTrustedProxies } from '@z4j/runtime';
import { allowedHostSet, clientIpMiddleware, hostCheck, pageSecurityHeaders } from '../http/hardening.js';

/** Paths that belong to the API, the sockets, the probes and the setup page: never the SPA's. */
const RESERVED = ['/api/*', '/ws/*', '/metrics', '/setup', '/setup/*'];
/** Vite names every asset by its content hash, so a cached copy can never be stale. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface DashboardMount {
  /** Where the assets were served from; undefined when no build was found (the API still runs). */
  readonly dist: string | undefined;
}

/**
 * Serves the built dashboard (apps/dashboard, or Z4J_DASHBOARD_DIST): hashed
 * assets under /assets as immutable, and index.html for every other GET
 * outside the reserved paths, so deep links like /projects/x/tasks load the
 * app (unless Z4J_DISABLE_SPA_FALLBACK, when only / does). The pages get the
 * Host allow-list and the strict page CSP (scripts and connections to self
 * only). index.html is read once at start and never cached by browsers, so a
 * new build takes effect on the next page load.
 */
export function mountDashboard(app: Hono<ApiEnv>, deps: Pick<ApiDeps, 'settings' | 'logger'>): DashboardMount {
  const { settings, logger } = deps;
  const dist = settings.dashboardDist ?? DASHBOARD_DIST;
  const indexPath = join(dist, 'index.html');
  if (!existsSync(indexPath)) {
    logger.warn({ dist }, 'dashboard:build_missing');
    return { dist: undefined };
  }
  const indexHtml = readFileSync(indexPath, 'utf8');
  const trusted = createTrustedProxies(settings.trustedProxies);
  app.use('*', except(RESERVED, every(clientIpMiddleware(trusted), hostCheck(allowedHostSet(settings)), pageSecurityHeaders())));
  app.get(
    '/assets/*',
    async (c, next) => {
      await next();
      if (c.res.status === 200) c.res.headers.set('Cache-Control', IMMUTABLE);
    },
    serveStatic({ root: dist }),
  );
  app.get('*', (c) => {
    const path = c.req.path;
    const reserved = RESERVED.some((pattern) => (pattern.endsWith('/*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern));
    if (reserved || path.startsWith('/assets/')) return c.notFound();
    if (settings.disableSpaFallback && path !== '/' && path !== '/index.html') return c.notFound();
    c.header('Cache-Control', 'no-cache');
    return c.html(indexHtml);
  });
  return { dist };
}
