import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import { TOTP_DIGITS, normalizeRecoveryCode, openTotpSecret, sealTotpSecret, verifyRecoveryCode, verifyTotp } from '@z4j/identity';
import type { ApiDeps } from '../http/api-types.js';
import { mfaErrors, type UserMfaRow } from './mfa-user-store.js';

/**
 * What a typed second factor matched, before it is spent. Checking (slow for recovery codes: argon2) happens
 * outside any transaction; spending ({@link consumeSecondFactor}) is a compare-and-set inside the transaction
 * that records the success, so two requests racing with the same code cannot both win.
 */
export type SecondFactorMatch =
  | {
      readonly kind: 'totp';
      readonly timeStep: number;
      /** The secret re-sealed under the current Z4J_SECRET when it opened only with a previous one. */
      readonly resealed: Buffer | null;
    }
  | { readonly kind: 'recovery_code'; readonly codeId: string }
  | { readonly kind: 'invalid'; readonly reason: 'malformed' | 'mismatch' | 'replayed' };

const TOTP_SHAPE = new RegExp(`^\\d{${TOTP_DIGITS}}$`);

/**
 * Checks `code` as a TOTP code (six digits, spaces ignored) or else as a recovery code
 * (`XXXX-XXXX-XXXX`, case and dashes ignored) of an enrolled user. A TOTP code from the step of the last
 * accepted one or earlier is a replay.
 */
export async function matchSecondFactor(deps: ApiDeps, user: UserMfaRow, code: string): Promise<SecondFactorMatch> {
  if (TOTP_SHAPE.test(code.replace(/\s+/g, ''))) return matchTotp(deps, user, code);
  if (normalizeRecoveryCode(code) === undefined) return { kind: 'invalid', reason: 'malformed' };
  const unused = await deps.db
    .selectFrom('mfa_recovery_codes')
    .select(['id', 'code_hash'])
    .where('user_id', '=', user.id)
    .where('consumed_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const index = await verifyRecoveryCode(
    code,
    unused.map((row) => row.code_hash),
  );
  const matched = unused[index];
  return matched ? { kind: 'recovery_code', codeId: matched.id } : { kind: 'invalid', reason: 'mismatch' };
}

function matchTotp(deps: ApiDeps, user: UserMfaRow, code: string): SecondFactorMatch {
  if (user.sealedSecret === null) return { kind: 'invalid', reason: 'mismatch' };
  const opened = openTotpSecret(user.sealedSecret, user.id, {
    secret: deps.settings.secret,
    previousSecrets: deps.settings.previousSecrets,
  });
  if (!opened.ok) {
    deps.logger.error({ user: user.id }, 'mfa:secret:unreadable');
    throw mfaErrors.secretUnreadable();
  }
  const result = verifyTotp(opened.plaintext, code, deps.now(), user.lastTimeStep === null ? {} : { lastUsedTimeStep: user.lastTimeStep });
  if (!result.valid) return { kind: 'invalid', reason: result.reason };
  const resealed = opened.keyIndex > 0 ? sealTotpSecret(opened.plaintext, user.id, deps.settings.secret) : null;
  return { kind: 'totp', timeStep: result.timeStep, resealed };
}

/**
 * Spends a matched factor inside `trx`: a TOTP step must still be newer than the stored one (and the user still
 * enrolled), a recovery code still unused. False when another request spent it first (or MFA was disabled).
 */
export async function consumeSecondFactor(
  trx: Kysely<Database>,
  userId: string,
  match: Exclude<SecondFactorMatch, { kind: 'invalid' }>,
  now: Date,
): Promise<boolean> {
  if (match.kind === 'totp') {
    const updated = await trx
      .updateTable('users')
      .set({
        mfa_last_time_step: match.timeStep,
        updated_at: now,
        ...(match.resealed === null ? {} : { mfa_secret_encrypted: match.resealed }),
      })
      .where('id', '=', userId)
      .where('mfa_enrolled_at', 'is not', null)
      .where((eb) => eb.or([eb('mfa_last_time_step', 'is', null), eb('mfa_last_time_step', '<', String(match.timeStep))]))
      .executeTakeFirst();
    return updated.numUpdatedRows > 0n;
  }
  const consumed = await trx
    .updateTable('mfa_recovery_codes')
    .set({ consumed_at: now })
    .where('id', '=', match.codeId)
    .where('user_id', '=', userId)
    .where('consumed_at', 'is', null)
    .executeTakeFirst();
  return consumed.numUpdatedRows > 0n;
}
