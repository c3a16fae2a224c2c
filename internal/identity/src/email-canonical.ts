import { domainToASCII } from 'node:url';
import * as v from 'valibot';

/**
 * One spelling per mailbox, so `Ann@Example.COM`, `ａｎｎ@example.com` and
 * ` ann@example.com ` are the same account (and the same unique-index key),
 * and login lookups cannot be split across look-alike spellings.
 *
 * Steps, in order:
 *   1. NFKC (full-width and compatibility characters to their plain form), trim;
 *   2. lower-case the whole address, then NFKC again (lower-casing can leave a
 *      non-normalised sequence, e.g. `İ` becomes `i` + U+0307);
 *   3. IDNA-encode the domain (UTS #46 via `domainToASCII`): `bücher.example`
 *      is stored as `xn--bcher-kva.example`;
 *   4. check the shape with valibot's RFC 5322 pattern plus length limits
 *      (254 total, 64 local) and a dotted domain whose last label is not
 *      numeric (no IP addresses).
 *
 * Lower-casing the local part is a deliberate simplification (RFC 5321 lets
 * it be case-sensitive; no real provider does). `toLowerCase` is not full
 * Unicode case folding (`ß` stays `ß`), which only matters for non-ASCII
 * local parts, and those are refused anyway: the local part must be ASCII.
 */

export type CanonicalEmailResult = { readonly ok: true; readonly email: string } | { readonly ok: false; readonly message: string };

const MAX_EMAIL_LENGTH = 254;
const MAX_LOCAL_LENGTH = 64;

const canonicalEmailSchema = v.pipe(
  v.string(),
  v.maxLength(MAX_EMAIL_LENGTH, `must be at most ${MAX_EMAIL_LENGTH} characters`),
  v.rfcEmail('must look like name@example.com (ASCII before the @)'),
  v.check((email) => email.indexOf('@') <= MAX_LOCAL_LENGTH, `the part before the @ must be at most ${MAX_LOCAL_LENGTH} characters`),
  v.check((email) => !/^\.|\.\.|\.@/.test(email), 'the part before the @ must not start or end with a dot or hold two dots in a row'),
  v.check((email) => email.slice(email.indexOf('@') + 1).includes('.'), 'the domain must contain a dot (like example.com)'),
  v.check((email) => /[a-z]/.test(email.slice(email.lastIndexOf('.') + 1)), 'the domain must be a host name, not an IP address'),
);

/**
 * Canonicalises an email address or says why it is not one.
 *
 * @example
 * canonicalizeEmail(' Ann@Bücher.Example ') // { ok: true, email: 'ann@xn--bcher-kva.example' }
 */
export function canonicalizeEmail(input: string): CanonicalEmailResult {
  const lowered = input.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
  const at = lowered.lastIndexOf('@');
  if (at <= 0 || at === lowered.length - 1) return { ok: false, message: 'must look like name@example.com' };
  const local = lowered.slice(0, at);
  const domain = lowered.slice(at + 1);
  // domainToASCII answers '' for what UTS #46 refuses (bad code points, empty labels, …).
  const asciiDomain = domainToASCII(domain);
  if (asciiDomain === '') return { ok: false, message: 'the domain is not a valid host name' };
  const result = v.safeParse(canonicalEmailSchema, `${local}@${asciiDomain}`);
  if (!result.success) return { ok: false, message: result.issues[0].message };
  return { ok: true, email: result.output };
}
