import type { BrainService, ServiceContext } from '@z4j/runtime';
import { ensureFirstBootToken, formatFirstBootBanner } from './first-boot.js';

/**
 * The REST API (`/api/v1`) and the server-rendered setup page. This first
 * slice owns first-boot mode; routes arrive with the auth and API issues.
 */
export function createApiService(context: ServiceContext): BrainService {
  const { settings, logger } = context;
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
    async start() {
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
    },
  };
}
