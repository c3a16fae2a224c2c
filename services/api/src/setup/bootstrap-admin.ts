import type { ApiDeps } from '../http/api-types.js';
import { createFirstAdmin } from './first-admin.js';

/**
 * `Z4J_BOOTSTRAP_ADMIN_EMAIL` + `Z4J_BOOTSTRAP_ADMIN_PASSWORD` (also what
 * `z4j serve --admin-email/--admin-password` set): creates the first admin
 * when no user exists, skipping the setup URL. The password is removed from
 * the process environment afterwards either way, so child processes and
 * crash dumps do not carry it.
 */
export async function bootstrapAdminFromSettings(deps: ApiDeps): Promise<'created' | 'skipped'> {
  const { bootstrapAdminEmail: email, bootstrapAdminPassword: password } = deps.settings;
  try {
    if (!email || !password) return 'skipped';
    const anyUser = await deps.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
    if (anyUser) return 'skipped';
    const created = await createFirstAdmin(
      deps.db,
      { email, password },
      {
        passwords: deps.passwords,
        passwordMinLength: deps.settings.passwordMinLength,
        secret: deps.settings.secret,
        now: deps.now,
        via: 'env',
      },
    );
    deps.logger.info({ user: created.userId }, 'setup:bootstrap_admin:created');
    return 'created';
  } catch (error) {
    // Another replica won the race: fine. Anything else (a weak password) is the operator's to fix.
    if ((error as { status?: number }).status === 409) return 'skipped';
    throw error;
  } finally {
    delete process.env.Z4J_BOOTSTRAP_ADMIN_PASSWORD;
  }
}
