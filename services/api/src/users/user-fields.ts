import type { Selectable } from 'kysely';
import * as v from 'valibot';
import type { Database } from '@z4j/db';
import { PASSWORD_MAX_LENGTH, canonicalizeEmail, checkPasswordPolicy } from '@z4j/identity';
import { apiError } from '../http/api-errors.js';
import {} from '../http/uuid.js';

/**
 * Input fields and the public view of a user, shared by the users admin,
 * memberships and invitations: one email spelling (canonical, so lookups
 * and the unique index agree), one password policy, and one user shape
 * that never carries password_hash or mfa_secret_encrypted.
 */

/** An email address, canonicalised in the schema so a bad one is a 422 naming its field. */
export const EmailField = v.pipe(
  v.string(),
  v.maxLength(320),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const result = canonicalizeEmail(dataset.value);
    if (!result.ok) {
      addIssue({ message: result.message });
      return NEVER;
    }
    return result.email;
  }),
);

/** A new password's shape; the policy (length, deny list, email) is checked by {@link assertPasswordPolicy}. */
export const PasswordField = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(PASSWORD_MAX_LENGTH * 4));

/** Optional free-text name: trimmed, and blank means none. */
export const NameField = v.optional(
  v.nullable(
    v.pipe(
      v.string(),
      v.trim(),
      v.maxLength(200),
      v.transform((name) => (name === '' ? null : name)),
    ),
  ),
);

/** The password policy of §7, or a 422 listing every rule the password breaks under `field`. */
export function assertPasswordPolicy(password: string, email: string, passwordMinLength: number, field = 'body.password'): void {
  const policy = checkPasswordPolicy(password, { passwordMinLength, email });
  if (!policy.ok) throw apiError.validation(policy.violations.map((violation) => ({ field, message: violation.message })));
}

/** `%`, `_` and `\` match literally in a LIKE pattern built from user input. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

/** The user columns the API may show; the hash and the MFA secret are never selected. */
export const USER_VIEW_COLUMNS = [
  'users.id',
  'users.email',
  'users.display_name',
  'users.first_name',
  'users.last_name',
  'users.timezone',
  'users.is_admin',
  'users.is_active',
  'users.last_login_at',
  'users.force_password_change',
  'users.locked_until',
  'users.password_changed_at',
  'users.mfa_enrolled_at',
  'users.created_at',
  'users.updated_at',
] as const;

type UserViewRow = Pick<
  Selectable<Database['users']>,
  | 'id'
  | 'email'
  | 'display_name'
  | 'first_name'
  | 'last_name'
  | 'timezone'
  | 'is_admin'
  | 'is_active'
  | 'last_login_at'
  | 'force_password_change'
  | 'locked_until'
  | 'password_changed_at'
  | 'mfa_enrolled_at'
  | 'created_at'
  | 'updated_at'
>;

/** A user as the admin API shows it (built field by field, so a new column is never leaked by accident). */
export function userView(row: UserViewRow) {
  return {
    id: row.id,
    email: row.email,
    display_name: row.display_name,
    first_name: row.first_name,
    last_name: row.last_name,
    timezone: row.timezone,
    is_admin: row.is_admin,
    is_active: row.is_active,
    mfa_enrolled: row.mfa_enrolled_at !== null,
    mfa_enrolled_at: row.mfa_enrolled_at,
    force_password_change: row.force_password_change,
    locked_until: row.locked_until,
    last_login_at: row.last_login_at,
    password_changed_at: row.password_changed_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
