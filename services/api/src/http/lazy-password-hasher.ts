import { createPasswordHasher, type Argon2Costs, type PasswordHasher } from '@z4j/identity';

/**
 * A {@link PasswordHasher} whose dummy hash (one argon2 run) is computed on
 * first use instead of at construction, so building the API stays synchronous
 * and a process that never signs anyone in never pays for it.
 */
export function lazyPasswordHasher(costs: Argon2Costs): PasswordHasher {
  let hasher: Promise<PasswordHasher> | undefined;
  const get = () => (hasher ??= createPasswordHasher(costs));
  return {
    costs,
    hash: async (password) => (await get()).hash(password),
    verify: async (passwordHash, password) => (await get()).verify(passwordHash, password),
    verifyAgainstDummy: async (password) => (await get()).verifyAgainstDummy(password),
    // Only reads the hash's parameters: no dummy needed.
    needsRehash: (passwordHash) => {
      const match = /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
      return (
        !match ||
        Number(match[1]) !== costs.argon2MemoryCost ||
        Number(match[2]) !== costs.argon2TimeCost ||
        Number(match[3]) !== costs.argon2Parallelism
      );
    },
  };
}
