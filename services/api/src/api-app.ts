import { Hono } from 'hono';
import type { ApiDeps, ApiEnv } from './http/api-types.js';
import { applyHardening } from './http/hardening.js';
import { mountRoutes } from './http/route-runner.js';
import { createApiRouteTable, type ApiRouteTable } from './api-routes.js';
import { mountDashboard } from './spa/dashboard-spa.js';

export interface ApiApp {
  readonly app: Hono<ApiEnv>;
  readonly table: ApiRouteTable;
}

/**
 * The API as a Hono app: hardening middleware on everything it owns, the
 * route table behind the shared request pipeline, the setup page and the
 * dashboard (the built SPA). The
 * runtime's HTTP host mounts it beside health, metrics and the WebSockets.
 */
export function createApiApp(deps: ApiDeps, version: string): ApiApp {
  const app = new Hono<ApiEnv>();
  applyHardening(app, { settings: deps.settings, paths: ['/api/v1/*', '/setup'] });
  const table = createApiRouteTable(deps, version);
  table.mountPages(app);
  mountRoutes(app, table.routes, deps);
  // Last: its catch-all GET must never shadow a route above.
  mountDashboard(app, deps);
  return { app, table };
}
