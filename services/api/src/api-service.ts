import { describeEffectiveSettings } from '@z4j/config';
import { isSecureOrigin } from '@z4j/identity';
import type { BrainService, ServiceContext } from '@z4j/runtime';
import { createApiApp } from './api-app.js';
import type { ApiDeps } from './http/api-types.js';
import { lazyPasswordHasher } from './http/lazy-password-hasher.js';
import { ensureFirstBootToken, formatFirstBootBanner } from './first-boot.js';
import { createDashboardSockets } from './dashboard/dashboard-sockets.js';
import { bootstrapAdminFromSettings } from './setup/bootstrap-admin.js';

/** Builds the API's dependencies from the service context (the composition root of this service). */
export function apiDepsFromContext(context: ServiceContext): ApiDeps {
  const { settings } = context;
  return {
    db: context.database.db,
    settings,
    logger: context.logger,
    now: context.now,
    passwords: lazyPasswordHasher({
      argon2MemoryCost: settings.argon2MemoryCost,
      argon2TimeCost: settings.argon2TimeCost,
      argon2Parallelism: settings.argon2Parallelism,
    }),
    notify: (channel, payload) => context.notifier.publish(channel, payload),
    subscribe: (channel, handler) => context.notifier.subscribe(channel, handler),
    secureCookies: isSecureOrigin(settings.publicUrl),
    // Masked here, once: the API never holds a revealed copy of the secrets in this list.
    effectiveSettings: describeEffectiveSettings(context.config),
  };
}

/**
 * The REST API (`/api/v1`) and the server-rendered setup page; owns
 * first-boot mode (setup token and banner, or the env bootstrap admin).
 */
export function createApiService(context: ServiceContext): BrainService {
  const { settings, logger } = context;
  const deps = apiDepsFromContext(context);
  const dashboardSockets = createDashboardSockets(deps);
  let recheck: NodeJS.Timeout | undefined;

  const ensureSetupToken = async () => {
    const result = await ensureFirstBootToken({
      db: context.database.db,
      secret: settings.secret,
      publicUrl: settings.publicUrl,
      ttlSeconds: settings.firstBootTokenTtlSeconds,
      now: context.now,
    });
    if (result.state === 'minted') {
      context.printLine(formatFirstBootBanner(result.setupUrl, settings.firstBootTokenTtlSeconds));
      logger.info({ expiresAt: result.expiresAt }, 'setup:token:minted');
    }
    return result.state;
  };

  return {
    name: 'api',
    upgrades: { '/ws/dashboard': (request, socket, head) => dashboardSockets.upgrade(request, socket, head) },
    mount(app) {
      app.route('/', createApiApp(deps, context.version).app as never);
    },
    async start() {
      await dashboardSockets.start();
      await bootstrapAdminFromSettings(deps);
      const state = await ensureSetupToken();
      if (state === 'initialised') return;
      // A token that expires unused is replaced, so a late operator is not locked out until a restart.
      recheck = setInterval(() => {
        ensureSetupToken().then(
          (next) => {
            if (next === 'initialised') clearInterval(recheck);
          },
          (error: unknown) => logger.warn({ err: error }, 'setup:token:recheck_failed'),
        );
      }, settings.firstBootTokenTtlSeconds * 1000);
      recheck.unref();
    },
    async drain() {
      clearInterval(recheck);
      await dashboardSockets.drain();
    },
  };
}
