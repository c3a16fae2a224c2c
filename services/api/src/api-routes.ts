import type { Hono } from 'hono';
import { createAuthRoutes } from './auth/auth-routes.js';
import { defineRoute, type AnyRoute, type ApiDeps, type ApiEnv } from './http/api-types.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { createMfaRoutes } from './mfa/mfa-routes.js';
import { createSetupRoutes } from './setup/setup-routes.js';
import { createProjectRoutes } from './projects/project-routes.js';
import { createMembershipRoutes } from './memberships/membership-routes.js';
import { createInvitationRoutes } from './invitations/invitation-routes.js';
import { createUserRoutes } from './users/user-routes.js';
import { createApiKeyRoutes } from './api-keys/api-key-routes.js';
import { createAgentRoutes } from './agents/agent-routes.js';
import { createAuditRoutes } from './audit/audit-routes.js';
import { createTaskRoutes } from './tasks/task-routes.js';
import { createFleetRoutes } from './fleet/fleet-routes.js';
import { createStatsRoutes } from './stats/stats-routes.js';
import { createHomeRoutes } from './home/home-routes.js';
import { createCommandRoutes } from './commands/command-routes.js';
import { createScheduleRoutes } from './schedules/schedule-routes.js';
import { createAdminSettingsRoutes } from './admin/admin-settings-routes.js';

/** Every `/api/v1` route of the brain, in one table (the authorization matrix test and OpenAPI read it). */
export interface ApiRouteTable {
  readonly routes: readonly AnyRoute[];
  /** Non-JSON pages the API service also owns (the setup form). */
  mountPages(app: Hono<ApiEnv>): void;
}

export function createApiRouteTable(deps: ApiDeps, version: string): ApiRouteTable {
  const setup = createSetupRoutes(deps);
  const routes: AnyRoute[] = [
    ...setup.routes,
    ...createAuthRoutes(deps),
    ...createProjectRoutes(deps),
    ...createMembershipRoutes(deps),
    ...createInvitationRoutes(deps),
    ...createUserRoutes(deps),
    ...createMfaRoutes(deps),
    ...createApiKeyRoutes(deps),
    ...createAgentRoutes(deps),
    ...createAuditRoutes(deps),
    ...createTaskRoutes(deps),
    ...createFleetRoutes(deps),
    ...createStatsRoutes(deps),
    ...createHomeRoutes(deps),
    ...createCommandRoutes(deps),
    ...createScheduleRoutes(deps),
    ...createAdminSettingsRoutes(deps),
  ];

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
