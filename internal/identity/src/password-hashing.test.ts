import { describe, expect, it } from 'vitest';
import {
  createDummyHash,
  createPasswordHasher,
  hashPassword,
  needsRehash,
  verifyAgainstDummy,
  verifyPassword,
} from './password-hashing.js';

// Small costs keep the suite fast; production uses the settings (64 MiB, t=3, p=4).
const COSTS = { argon2MemoryCost: 1024, argon2TimeCost: 1, argon2Parallelism: 1 };

describe('hashPassword / verifyPassword', () => {
  it('produces an argon2id v1.3 PHC string with the given costs and a fresh salt', async () => {
    const first = await hashPassword('correct horse battery staple', COSTS);
    const second = await hashPassword('correct horse battery staple', COSTS);
    expect(first).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(second).not.toBe(first);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse battery staple', COSTS);
    expect(await verifyPassword(stored, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(stored, 'correct horse battery stapler')).toBe(false);
    expect(await verifyPassword(stored, 'Correct horse battery staple')).toBe(false);
  });

  it('hashes the NFKC form, so full-width and composed spellings match', async () => {
    const stored = await hashPassword('ｐａｓｓｗｏｒｄ-é', COSTS);
    expect(await verifyPassword(stored, 'password-e\u0301')).toBe(true);
  });

  it('answers false, not an error, for a malformed stored hash', async () => {
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
    expect(await verifyPassword('', 'x')).toBe(false);
  });
});

describe('needsRehash', () => {
  it('is false for a hash made with the current costs', async () => {
    expect(needsRehash(await hashPassword('pw', COSTS), COSTS)).toBe(false);
  });

  it('is true when any cost differs, up or down', async () => {
    const stored = await hashPassword('pw', COSTS);
    expect(needsRehash(stored, { ...COSTS, argon2MemoryCost: 2048 })).toBe(true);
    expect(needsRehash(stored, { ...COSTS, argon2TimeCost: 2 })).toBe(true);
    expect(needsRehash(stored, { ...COSTS, argon2Parallelism: 2 })).toBe(true);
    const stronger = await hashPassword('pw', { ...COSTS, argon2TimeCost: 2 });
    expect(needsRehash(stronger, COSTS)).toBe(true);
  });

  it('is true for something that is not an argon2 hash', () => {
    expect(needsRehash('$2b$12$abcdefghijklmnopqrstuv', COSTS)).toBe(true);
    expect(needsRehash('garbage', COSTS)).toBe(true);
  });
});

describe('dummy verification', () => {
  it('always answers false, even for any password', async () => {
    const dummy = await createDummyHash(COSTS);
    expect(dummy).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await verifyAgainstDummy(dummy, 'whatever')).toBe(false);
  });

  it('createPasswordHasher binds costs and its dummy', async () => {
    const hasher = await createPasswordHasher(COSTS);
    const stored = await hasher.hash('s3cret passphrase');
    expect(await hasher.verify(stored, 's3cret passphrase')).toBe(true);
    expect(await hasher.verify(stored, 'nope')).toBe(false);
    expect(await hasher.verifyAgainstDummy('s3cret passphrase')).toBe(false);
    expect(hasher.needsRehash(stored)).toBe(false);
    expect(hasher.costs).toEqual(COSTS);
  });
});
