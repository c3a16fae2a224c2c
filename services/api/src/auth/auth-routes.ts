import type { AnyRoute, ApiDeps } from '../http/api-types.js';
import { createAccountRoutes } from './account-routes.js';
import { createLoginRoute } from './login-route.js';
import { createSessionRoutes } from './session-routes.js';

/**
 * Sign-in and the account routes (tag `auth`, §5.2): login, logout, the
 * password policy, `me`, change-password and the own sessions. The MFA
 * routes (`/auth/mfa/*`) live in their own group.
 */
export function createAuthRoutes(deps: ApiDeps): AnyRoute[] {
  return [createLoginRoute(deps), ...createAccountRoutes(deps), ...createSessionRoutes(deps)];
}
