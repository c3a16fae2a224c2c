import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import { hashSetupToken, mintSetupToken } from './setup-token.js';

export interface FirstBootOptions {
  readonly db: Kysely<Database>;
  readonly secret: string;
  readonly publicUrl: string;
  readonly ttlSeconds: number;
  readonly now: () => Date;
}

export type FirstBootResult =
  | { readonly state: 'initialised' }
  | { readonly state: 'token_valid' }
  | { readonly state: 'minted'; readonly token: string; readonly setupUrl: string; readonly expiresAt: Date };

/**
 * While no user exists the brain is in first-boot mode: it keeps one valid
 * one-time setup token and shows its URL to whoever reads the process output.
 * Once a user exists, leftover tokens are deleted.
 */
export async function ensureFirstBootToken(options: FirstBootOptions): Promise<FirstBootResult> {
  const { db } = options;
  const now = options.now();
  return db.transaction().execute(async (trx) => {
    const anyUser = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
    if (anyUser) {
      await trx.deleteFrom('first_boot_tokens').execute();
      return { state: 'initialised' } as const;
    }
    await trx.deleteFrom('first_boot_tokens').where('expires_at', '<=', now).execute();
    const live = await trx.selectFrom('first_boot_tokens').select('id').where('expires_at', '>', now).limit(1).executeTakeFirst();
    if (live) return { state: 'token_valid' } as const;
    const token = mintSetupToken();
    const expiresAt = new Date(now.getTime() + options.ttlSeconds * 1000);
    await trx
      .insertInto('first_boot_tokens')
      .values({ token_hash: hashSetupToken(options.secret, token), expires_at: expiresAt, created_at: now })
      .execute();
    const setupUrl = `${options.publicUrl}/setup?token=${encodeURIComponent(token)}`;
    return { state: 'minted', token, setupUrl, expiresAt } as const;
  });
}

export function formatFirstBootBanner(setupUrl: string, ttlSeconds: number): string {
  const minutes = Math.round(ttlSeconds / 60);
  return [
    '',
    '  z4j first boot: no user exists yet.',
    `  Open this one-time link within ${minutes} minute${minutes === 1 ? '' : 's'} to create the admin account:`,
    '',
    `    ${setupUrl}`,
    '',
  ].join('\n');
}
