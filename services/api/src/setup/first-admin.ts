import { isIP } from 'node:net';
import { sql, type Kysely } from 'kysely';
import { appendAuditRow } from '@z4j/audit';
import type { Database } from '@z4j/db';
import { AppError } from '@z4j/errors';
import { canonicalizeEmail, checkPasswordPolicy, type PasswordHasher } from '@z4j/identity';

/** Serialises concurrent setup attempts (two browser tabs, the env bootstrap racing the form): "z4SU". */
const SETUP_LOCK_KEY = 0x7a345355;

export interface FirstAdminInput {
  readonly email: string;
  readonly password: string;
  readonly displayName?: string | null;
}

export interface FirstAdminOptions {
  readonly passwords: PasswordHasher;
  readonly passwordMinLength: number;
  readonly secret: string;
  readonly now: () => Date;
  /** How the admin came to be, for the audit row: `setup_form`, `env`, `cli`. */
  readonly via: string;
  readonly sourceIp?: string | null;
  readonly userAgent?: string | null;
  /** Runs inside the transaction once the user exists (the form burns its token here). */
  readonly inTransaction?: (trx: Kysely<Database>) => Promise<void>;
}

/** Canonical email and policy-checked password, or a 422 naming what is wrong. */
export function validateCredentials(input: FirstAdminInput, passwordMinLength: number): string {
  const email = canonicalizeEmail(input.email);
  if (!email.ok)
    throw new AppError('VALIDATION_FAILED', `email: ${email.message}`, {
      status: 422,
      details: { errors: [{ field: 'body.email', message: email.message }] },
    });
  const policy = checkPasswordPolicy(input.password, { passwordMinLength, email: email.email });
  if (!policy.ok) {
    const errors = policy.violations.map((violation) => ({ field: 'body.password', message: violation.message }));
    throw new AppError('VALIDATION_FAILED', `password: ${errors.map((error) => error.message).join('; ')}`, {
      status: 422,
      details: { errors },
    });
  }
  return email.email;
}

/**
 * Creates the first user: a global admin, the `default` project with an
 * admin membership, and the `setup.completed` audit row, in one transaction.
 * Refuses (409) once any user exists, so it can never mint a second admin.
 */
export async function createFirstAdmin(
  db: Kysely<Database>,
  input: FirstAdminInput,
  options: FirstAdminOptions,
): Promise<{ userId: string; projectId: string; email: string }> {
  const email = validateCredentials(input, options.passwordMinLength);
  const passwordHash = await options.passwords.hash(input.password);
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${SETUP_LOCK_KEY})`.execute(trx);
    const existing = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
    if (existing) throw new AppError('CONFLICT', 'setup is already complete: a user exists', { status: 409 });
    const now = options.now();
    const user = await trx
      .insertInto('users')
      .values({
        email,
        password_hash: passwordHash,
        display_name: input.displayName?.trim() || null,
        is_admin: true,
        password_changed_at: null,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('projects')
      .values({ slug: 'default', name: 'Default' })
      .onConflict((oc) => oc.column('slug').doNothing())
      .execute();
    const project = await trx.selectFrom('projects').select('id').where('slug', '=', 'default').executeTakeFirstOrThrow();
    await trx.insertInto('memberships').values({ user_id: user.id, project_id: project.id, role: 'admin' }).execute();
    await trx.deleteFrom('first_boot_tokens').execute();
    await options.inTransaction?.(trx);
    await appendAuditRow(
      trx,
      {
        action: 'setup.completed',
        target_type: 'user',
        target_id: user.id,
        result: 'success',
        user_id: user.id,
        project_id: project.id,
        source_ip: options.sourceIp && isIP(options.sourceIp) ? options.sourceIp : null,
        user_agent: options.userAgent ?? null,
        metadata: { via: options.via, email },
      },
      { secret: options.secret, now },
    );
    return { userId: user.id, projectId: project.id, email };
  });
}
