import { isIP } from 'node:net';
import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import { REMEMBER_ME_LIFETIME_SECONDS, mintCsrfToken } from '@z4j/identity';

export interface NewSessionOptions {
  readonly userId: string;
  readonly rememberMe: boolean;
  readonly ip: string;
  readonly userAgent: string | null;
  /** Set when the sign-in already proved MFA (a trusted device): the session starts verified. */
  readonly mfaVerifiedAt: Date | null;
  readonly absoluteLifetimeSeconds: number;
  readonly now: Date;
}

/** Inserts a server-side session row; the cookie carries only its signed id. */
export async function createSession(db: Kysely<Database>, options: NewSessionOptions): Promise<{ id: string; csrfToken: string }> {
  const csrfToken = mintCsrfToken();
  const lifetime = options.rememberMe ? REMEMBER_ME_LIFETIME_SECONDS : options.absoluteLifetimeSeconds;
  const row = await db
    .insertInto('sessions')
    .values({
      user_id: options.userId,
      csrf_token: csrfToken,
      issued_at: options.now,
      last_seen_at: options.now,
      expires_at: new Date(options.now.getTime() + lifetime * 1000),
      remember_me: options.rememberMe,
      ip_at_issue: isIP(options.ip) ? options.ip : null,
      user_agent_at_issue: options.userAgent?.slice(0, 1024) ?? null,
      mfa_verified_at: options.mfaVerifiedAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, csrfToken };
}
