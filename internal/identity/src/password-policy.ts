import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * The password policy, NIST SP 800-63B style: a length floor and ceiling and a
 * deny list, no composition rules (they push people to `Password1!`).
 *
 * - Length is counted in Unicode code points of the NFKC form (the form that
 *   is hashed), so an emoji or a full-width letter counts once.
 * - The ceiling bounds what argon2 is fed (and what a request can make the
 *   server hash); 1024 code points is far beyond any passphrase.
 * - The deny list is `passwords-common` of `@zxcvbn-ts/language-common`
 *   (MIT, the common-password dictionary zxcvbn-ts uses, ~49k entries ranked
 *   by frequency in leaked-password corpora), compared case-insensitively.
 * - A password that contains the email's local part is the first thing an
 *   attacker who knows the email tries.
 */

export const PASSWORD_MAX_LENGTH = 1024;

/** Local parts shorter than this are not checked (`a@…` would forbid every password with an "a"). */
const MIN_LOCAL_PART_CHECK = 3;

export interface PasswordPolicyOptions {
  /** `Z4J_PASSWORD_MIN_LENGTH` (8..128, default 8), in code points. */
  readonly passwordMinLength: number;
  /** The account's email (canonical or not): its local part must not appear in the password. */
  readonly email?: string;
}

export type PasswordPolicyViolation =
  | { readonly code: 'too_short'; readonly message: string; readonly minLength: number }
  | { readonly code: 'too_long'; readonly message: string; readonly maxLength: number }
  | { readonly code: 'common'; readonly message: string }
  | { readonly code: 'contains_email'; readonly message: string };

export interface PasswordPolicyResult {
  /** True when `violations` is empty. */
  readonly ok: boolean;
  /** Code points counted after NFKC. */
  readonly length: number;
  /** Every rule that failed, in the order of {@link describePasswordPolicy}'s rules. */
  readonly violations: readonly PasswordPolicyViolation[];
}

/** What `GET /auth/policy` serves, so the dashboard can show the rules before a submit. */
export interface PasswordPolicyDescription {
  readonly min_length: number;
  readonly max_length: number;
  readonly rejects_common_passwords: boolean;
  readonly rejects_email: boolean;
  readonly hints: readonly string[];
}

let commonPasswords: ReadonlySet<string> | undefined;

/** Lower-cased deny list, built on first use (~49k strings, a few MB). */
function commonPasswordSet(): ReadonlySet<string> {
  commonPasswords ??= new Set(dictionary['passwords-common'].map((entry) => fold(entry)));
  return commonPasswords;
}

function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

function codePointLength(text: string): number {
  return Array.from(text).length;
}

/** Number of entries in the deny list (for the report and the tests). */
export function commonPasswordCount(): number {
  return commonPasswordSet().size;
}

/** Whether the password is on the common-password list, ignoring case. */
export function isCommonPassword(password: string): boolean {
  return commonPasswordSet().has(fold(password));
}

/** Local parts worth checking: the whole part and, for `alice+tag`, `alice` too. */
function localPartsOf(email: string): string[] {
  const folded = fold(email.trim());
  const at = folded.lastIndexOf('@');
  const local = at === -1 ? folded : folded.slice(0, at);
  const base = local.split('+', 1)[0] ?? '';
  return [...new Set([local, base])].filter((part) => codePointLength(part) >= MIN_LOCAL_PART_CHECK);
}

/**
 * Checks a new password against the policy and reports every failed rule.
 *
 * @example
 * checkPasswordPolicy('correct horse battery staple', { passwordMinLength: 12, email: 'ann@example.com' }).ok // true
 */
export function checkPasswordPolicy(password: string, options: PasswordPolicyOptions): PasswordPolicyResult {
  const normalized = password.normalize('NFKC');
  const length = codePointLength(normalized);
  const violations: PasswordPolicyViolation[] = [];
  if (length < options.passwordMinLength) {
    violations.push({
      code: 'too_short',
      message: `must be at least ${options.passwordMinLength} characters`,
      minLength: options.passwordMinLength,
    });
  }
  if (length > PASSWORD_MAX_LENGTH) {
    violations.push({ code: 'too_long', message: `must be at most ${PASSWORD_MAX_LENGTH} characters`, maxLength: PASSWORD_MAX_LENGTH });
  }
  if (length <= PASSWORD_MAX_LENGTH && isCommonPassword(normalized)) {
    violations.push({ code: 'common', message: 'is one of the most commonly used passwords' });
  }
  if (options.email !== undefined) {
    const folded = fold(normalized);
    if (localPartsOf(options.email).some((part) => folded.includes(part))) {
      violations.push({ code: 'contains_email', message: 'must not contain your email address' });
    }
  }
  return { ok: violations.length === 0, length, violations };
}

/** The policy as data for `GET /auth/policy`. */
export function describePasswordPolicy(options: Pick<PasswordPolicyOptions, 'passwordMinLength'>): PasswordPolicyDescription {
  return {
    min_length: options.passwordMinLength,
    max_length: PASSWORD_MAX_LENGTH,
    rejects_common_passwords: true,
    rejects_email: true,
    hints: [
      `Use at least ${options.passwordMinLength} characters; a passphrase of several words works well.`,
      'Common passwords (such as "password123") are refused.',
      'The password must not contain the part of your email address before the @.',
    ],
  };
}
