import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import { AppError } from '@z4j/errors';
import { generateRecoveryCodes, hashRecoveryCodes, type Argon2Costs } from '@z4j/identity';
import { apiError } from '../http/api-errors.js';

/**
 * A user's MFA state, as the `users` row holds it:
 *
 * - not enrolled: no secret, `mfa_enrolled_at` null;
 * - enrolment pending: `enroll-start` stored a sealed secret, `mfa_enrolled_at` still null (the secret is not used
 *   for anything until `enroll-complete` proves the authenticator app has it; a new `enroll-start` replaces it);
 * - enrolled: secret and `mfa_enrolled_at` set; `mfa_last_time_step` is the step of the last accepted code;
 * - back to not enrolled through `disable` or `z4j reset-mfa` (secret, step, recovery codes and devices all go).
 */
export interface UserMfaRow {
  readonly id: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly sealedSecret: Uint8Array | null;
  readonly enrolledAt: Date | null;
  /** RFC 6238 step of the last accepted code: codes from it or before are replays. */
  readonly lastTimeStep: number | null;
}

export async function loadUserMfa(db: Kysely<Database>, userId: string, options: { forUpdate?: boolean } = {}): Promise<UserMfaRow> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'email', 'password_hash', 'mfa_secret_encrypted', 'mfa_enrolled_at', 'mfa_last_time_step'])
    .where('id', '=', userId)
    .$if(options.forUpdate === true, (query) => query.forUpdate())
    .executeTakeFirst();
  // The pipeline resolved this user a moment ago; gone now means deleted mid-request.
  if (!row) throw apiError.unauthenticated('session is invalid or has expired');
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    sealedSecret: row.mfa_secret_encrypted,
    enrolledAt: row.mfa_enrolled_at,
    lastTimeStep: row.mfa_last_time_step === null ? null : Number(row.mfa_last_time_step),
  };
}

/** Locks and returns an enrolled user's row inside `trx`, or 409 when MFA was disabled in the meantime. */
export async function lockEnrolledUser(trx: Kysely<Database>, userId: string): Promise<UserMfaRow> {
  const user = await loadUserMfa(trx, userId, { forUpdate: true });
  if (user.enrolledAt === null) throw mfaErrors.notEnrolled();
  return user;
}

/**
 * argon2id costs for recovery codes: OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane), never more than
 * the password costs. A code carries 12 × log2(31) ≈ 59 random bits, so the hash does not have to make up for
 * a weak secret as a password hash does; at the password costs (64 MiB, t=3, p=4: ~150 ms) minting ten codes
 * and checking a typed code against ten hashes would each take over a second. Capping by the password costs
 * keeps an installation (or a test run) that chose cheaper password hashing from paying more for codes.
 */
export function recoveryCodeCosts(passwordCosts: Argon2Costs): Argon2Costs {
  return {
    argon2MemoryCost: Math.min(19_456, passwordCosts.argon2MemoryCost),
    argon2TimeCost: Math.min(2, passwordCosts.argon2TimeCost),
    argon2Parallelism: 1,
  };
}

/** A fresh set of recovery codes (shown once) and their hashes (stored), hashed before any transaction opens. */
export async function mintRecoveryCodeSet(count: number, passwordCosts: Argon2Costs): Promise<{ codes: string[]; hashes: string[] }> {
  const codes = generateRecoveryCodes(count);
  return { codes, hashes: await hashRecoveryCodes(codes, recoveryCodeCosts(passwordCosts)) };
}

/** Replaces every recovery code of a user (used or not) with `hashes`. */
export async function replaceRecoveryCodes(trx: Kysely<Database>, userId: string, hashes: readonly string[], now: Date): Promise<void> {
  await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
  if (hashes.length === 0) return;
  await trx
    .insertInto('mfa_recovery_codes')
    .values(hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now })))
    .execute();
}

export async function remainingRecoveryCodes(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('mfa_recovery_codes')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('user_id', '=', userId)
    .where('consumed_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Errors of the MFA routes beyond the shared vocabulary in `api-errors.ts`. */
export const mfaErrors = {
  invalidCode: () => new AppError('INVALID_MFA_CODE', 'the MFA code is wrong, expired or already used', { status: 401 }),
  invalidCredentials: () => new AppError('INVALID_CREDENTIALS', 'the password or the MFA code is wrong', { status: 401 }),
  notEnrolled: () => apiError.conflict('MFA is not enrolled for this account'),
  alreadyEnrolled: () => apiError.conflict('MFA is already enrolled for this account; disable it first to enrol a new authenticator'),
  secretUnreadable: () =>
    new AppError(
      'MFA_SECRET_UNREADABLE',
      'the stored MFA secret cannot be decrypted with Z4J_SECRET or Z4J_PREVIOUS_SECRETS; use a recovery code, or ask an operator to run "z4j reset-mfa"',
      { status: 500, expose: true },
    ),
};

/**
 * Back to "not enrolled" (inside `trx`): secret, enrolment time and last step cleared, every recovery code and
 * remembered device deleted (their hashes are worthless without the enrolment). Returns what went, for the audit row.
 */
export async function clearUserMfa(
  trx: Kysely<Database>,
  userId: string,
  now: Date,
): Promise<{ recovery_codes_deleted: number; trusted_devices_deleted: number }> {
  await trx
    .updateTable('users')
    .set({ mfa_secret_encrypted: null, mfa_enrolled_at: null, mfa_last_time_step: null, updated_at: now })
    .where('id', '=', userId)
    .execute();
  const codes = await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).executeTakeFirst();
  const devices = await trx.deleteFrom('trusted_devices').where('user_id', '=', userId).executeTakeFirst();
  return { recovery_codes_deleted: Number(codes.numDeletedRows), trusted_devices_deleted: Number(devices.numDeletedRows) };
}
