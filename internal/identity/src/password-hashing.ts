import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify, type Algorithm, type Options, type Version } from '@node-rs/argon2';

/**
 * Password hashing with argon2id (RFC 9106), costs from the settings
 * `Z4J_ARGON2_MEMORY_COST` (KiB), `Z4J_ARGON2_TIME_COST` and
 * `Z4J_ARGON2_PARALLELISM`. Hashes are PHC strings
 * (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), so each one carries the costs it
 * was made with: raising the costs later never breaks old hashes, and
 * {@link needsRehash} tells the login path when to upgrade one.
 *
 * Passwords are NFKC-normalised before hashing (NIST SP 800-63B §5.1.1.2), so
 * the same password typed on a different keyboard or IME (full-width letters,
 * composed vs decomposed accents) still matches. The policy counts length on
 * the same normalised form.
 */

/** The argon2id costs, named like the resolved settings so `config.settings` can be passed as is. */
export interface Argon2Costs {
  /** Memory in KiB (`Z4J_ARGON2_MEMORY_COST`, 65536 = 64 MiB). */
  readonly argon2MemoryCost: number;
  /** Passes over memory (`Z4J_ARGON2_TIME_COST`, 3). */
  readonly argon2TimeCost: number;
  /** Lanes (`Z4J_ARGON2_PARALLELISM`, 4). */
  readonly argon2Parallelism: number;
}

// `Algorithm` and `Version` are ambient const enums, which isolatedModules
// cannot read at runtime; these are their documented numeric values.
const ARGON2ID = 2 as Algorithm;
const VERSION_0X13 = 1 as Version;
const OUTPUT_BYTES = 32;

function toOptions(costs: Argon2Costs): Options {
  return {
    algorithm: ARGON2ID,
    version: VERSION_0X13,
    memoryCost: costs.argon2MemoryCost,
    timeCost: costs.argon2TimeCost,
    parallelism: costs.argon2Parallelism,
    outputLen: OUTPUT_BYTES,
  };
}

/** The exact string that is hashed: NFKC, nothing else (no trimming: spaces are legal in passwords). */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** argon2id hash (PHC string) of `password` with a fresh 16-byte salt. */
export async function hashPassword(password: string, costs: Argon2Costs): Promise<string> {
  return hash(normalizePassword(password), toOptions(costs));
}

/**
 * Whether `password` matches `passwordHash`. The costs come from the hash
 * itself. A malformed or non-argon2 hash yields false rather than an error,
 * so a corrupt row reads like a wrong password (and is not a 500).
 */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, normalizePassword(password));
  } catch {
    return false;
  }
}

/**
 * Whether a stored hash should be replaced after a successful login: it is
 * not argon2id v1.3, or its costs or output length differ from the current
 * settings (lower *or* higher: the settings are the policy).
 */
export function needsRehash(passwordHash: string, costs: Argon2Costs): boolean {
  try {
    const parsed = parseOptions(passwordHash);
    return (
      parsed.algorithm !== ARGON2ID ||
      parsed.version !== VERSION_0X13 ||
      parsed.memoryCost !== costs.argon2MemoryCost ||
      parsed.timeCost !== costs.argon2TimeCost ||
      parsed.parallelism !== costs.argon2Parallelism ||
      parsed.outputLen !== OUTPUT_BYTES
    );
  } catch {
    return true;
  }
}

/**
 * A hash of a random password with the current costs, made once at start-up
 * (it costs one full argon2 run) and handed to {@link verifyAgainstDummy}.
 */
export async function createDummyHash(costs: Argon2Costs): Promise<string> {
  return hashPassword(randomBytes(32).toString('base64url'), costs);
}

/**
 * Runs a full verification against the dummy hash and always answers false.
 * Called when the login email matches no user, so an unknown account costs
 * the same argon2 time as a wrong password and response timing does not
 * reveal which accounts exist.
 */
export async function verifyAgainstDummy(dummyHash: string, password: string): Promise<false> {
  await verifyPassword(dummyHash, password);
  return false;
}

/** The hashing functions bound to one set of costs and one precomputed dummy hash. */
export interface PasswordHasher {
  readonly costs: Argon2Costs;
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  verifyAgainstDummy(password: string): Promise<false>;
  needsRehash(passwordHash: string): boolean;
}

/**
 * Builds a {@link PasswordHasher}; awaits one argon2 run for the dummy hash,
 * so call it once in the composition root, not per request.
 */
export async function createPasswordHasher(costs: Argon2Costs): Promise<PasswordHasher> {
  const pinned: Argon2Costs = {
    argon2MemoryCost: costs.argon2MemoryCost,
    argon2TimeCost: costs.argon2TimeCost,
    argon2Parallelism: costs.argon2Parallelism,
  };
  const dummyHash = await createDummyHash(pinned);
  return {
    costs: pinned,
    hash: (password) => hashPassword(password, pinned),
    verify: verifyPassword,
    verifyAgainstDummy: (password) => verifyAgainstDummy(dummyHash, password),
    needsRehash: (passwordHash) => needsRehash(passwordHash, pinned),
  };
}
