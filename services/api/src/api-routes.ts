import type { Hono } from 'hono';
import { defineRoute, type AnyRoute, type ApiDeps, type ApiEnv } from './http/api-types.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { createSetupRoutes } from './setup/setup-routes.js';

/** Every `/api/v1` route of the brain, in one table (the authorization matrix test and OpenAPI read it). */
export interface ApiRouteTable {
  readonly routes: readonly AnyRoute[];
  /** Non-JSON pages the API service also owns (the setup form). */
  mountPages(app: Hono<ApiEnv>): void;
}

export function createApiRouteTable(deps: ApiDeps, version: string): ApiRouteTable {
  const setup = createSetupRoutes(deps);
  const routes: AnyRoute[] = [...setup.routes];

  const visibility = deps.settings.openapiVisibility;
  if (visibility !== 'disabled') {
    let document: unknown;
    routes.push(
      defineRoute({
        method: 'GET',
        path: '/openapi.json',
        tag: 'meta',
        summary: 'This OpenAPI document',
        access: visibility === 'public' ? { kind: 'public' } : { kind: 'signed_in' },
        handler: ({ c }) => c.json((document ??= buildOpenApiDocument(routes, version))),
      }),
    );
  }
  return { routes, mountPages: (app) => setup.mountPages(app) };
}
