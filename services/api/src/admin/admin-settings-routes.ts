import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';

/**
 * The brain's runtime configuration for global admins (the dashboard's
 * Settings → Runtime page, the original's `/admin/settings`): every `Z4J_*`
 * variable with its effective value, the layer it came from (env, ./.env,
 * config.env, secret.env or the default), its default and its description.
 *
 * The list is the one resolved at boot (`deps.effectiveSettings`), so it is
 * what this process actually runs with, not what the files say now. Secret
 * values arrive masked from {@link ApiDeps.effectiveSettings}; the route keeps
 * to that list and never sees the raw values.
 */
export function createAdminSettingsRoutes(deps: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/admin/settings',
      tag: 'settings',
      summary: 'Every Z4J_* setting of this brain process: effective value (secrets masked), source layer, default and description',
      access: { kind: 'global_admin' },
      handler: ({ c }) =>
        c.json({
          items: deps.effectiveSettings.map((setting) => ({
            name: setting.name,
            section: setting.section,
            value: setting.value,
            source: setting.source,
            default: setting.default ?? null,
            secret: setting.secret,
            description: setting.description,
          })),
        }),
    }),
  ];
}
