import { randomInt } from 'node:crypto';
import { hashPassword, verifyPassword, type Argon2Costs } from './password-hashing.js';

/**
 * Single-use MFA recovery codes: `XXXX-XXXX-XXXX` over a 31-character
 * alphabet without look-alikes (no 0/O, 1/I/L), i.e. 12 × log2(31) ≈ 59 bits
 * each. They are shown once and stored as argon2id hashes; the caller
 * removes (or marks used) the hash at the index that matched.
 *
 * Each character is drawn with `crypto.randomInt(31)`, which rejection-samples
 * internally, so no character is more likely than another (a plain
 * `byte % 31` would favour the first 8 characters).
 */

export const RECOVERY_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const GROUPS = 3;
const GROUP_LENGTH = 4;
const CODE_CHARS = GROUPS * GROUP_LENGTH;
const CANONICAL_CODE = new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{${CODE_CHARS}}$`);

function randomCode(): string {
  let raw = '';
  for (let i = 0; i < CODE_CHARS; i += 1) raw += RECOVERY_CODE_ALPHABET.charAt(randomInt(RECOVERY_CODE_ALPHABET.length));
  return group(raw);
}

function group(raw: string): string {
  const parts: string[] = [];
  for (let i = 0; i < raw.length; i += GROUP_LENGTH) parts.push(raw.slice(i, i + GROUP_LENGTH));
  return parts.join('-');
}

/**
 * `count` distinct fresh codes (`Z4J_MFA_RECOVERY_CODE_COUNT`, default 10).
 *
 * @example
 * generateRecoveryCodes(10) // ['K7QH-2MXC-9TRA', …]
 */
export function generateRecoveryCodes(count: number): string[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`recovery code count must be a positive integer, got ${count}`);
  const codes = new Set<string>();
  while (codes.size < count) codes.add(randomCode());
  return [...codes];
}

/**
 * The canonical `XXXX-XXXX-XXXX` form of what a user typed: case, spaces and
 * dashes (or their absence) do not matter. `undefined` when it cannot be a
 * recovery code (wrong length or a character outside the alphabet).
 */
export function normalizeRecoveryCode(input: string): string | undefined {
  const raw = input
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[\s-]+/g, '');
  return CANONICAL_CODE.test(raw) ? group(raw) : undefined;
}

/** argon2id hash of a code's canonical form. */
export async function hashRecoveryCode(code: string, costs: Argon2Costs): Promise<string> {
  const canonical = normalizeRecoveryCode(code);
  if (canonical === undefined) throw new RangeError('not a recovery code');
  return hashPassword(canonical, costs);
}

/** Hashes a freshly generated set, in order. */
export async function hashRecoveryCodes(codes: readonly string[], costs: Argon2Costs): Promise<string[]> {
  const hashes: string[] = [];
  // One at a time: each run takes Z4J_ARGON2_MEMORY_COST of memory.
  for (const code of codes) hashes.push(await hashRecoveryCode(code, costs));
  return hashes;
}

/**
 * The index in `hashes` of the code the user typed, or -1. Input that cannot
 * be a code is refused without hashing. Hashes are tried in order, one at a
 * time, so only the first match counts.
 */
export async function verifyRecoveryCode(input: string, hashes: readonly string[]): Promise<number> {
  const canonical = normalizeRecoveryCode(input);
  if (canonical === undefined) return -1;
  for (const [index, codeHash] of hashes.entries()) {
    if (await verifyPassword(codeHash, canonical)) return index;
  }
  return -1;
}
