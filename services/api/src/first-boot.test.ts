import { describe, expect, it } from 'vitest';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { ensureFirstBootToken, formatFirstBootBanner } from './first-boot.js';
import { hashSetupToken } from './setup-token.js';

const postgres = await probePostgres();
const SECRET = 'test-master-secret-0123456789-abcdefghijklmnop';

describeEachDatabase('first boot', postgres, ({ skip, test }) => {
  it.skipIf(skip)(
    'mints one hashed token while no user exists, reuses it, replaces it once expired, and clears it once a user exists',
    async () => {
      let now = new Date('2030-01-01T00:00:00Z');
      const options = { db: test().database.db, secret: SECRET, publicUrl: 'http://localhost:7700', ttlSeconds: 900, now: () => now };

      const first = await ensureFirstBootToken(options);
      if (first.state !== 'minted') throw new Error(`expected a minted token, got ${first.state}`);
      expect(first.token).toMatch(/^[\w-]{43}$/);
      expect(first.setupUrl).toBe(`http://localhost:7700/setup?token=${first.token}`);
      expect(first.expiresAt.toISOString()).toBe('2030-01-01T00:15:00.000Z');
      const rows = await test().database.db.selectFrom('first_boot_tokens').select(['token_hash', 'expires_at']).execute();
      expect(rows).toHaveLength(1);
      // Only the keyed hash is stored, never the token.
      expect(rows[0]?.token_hash).toBe(hashSetupToken(SECRET, first.token));
      expect(JSON.stringify(rows)).not.toContain(first.token);

      now = new Date('2030-01-01T00:10:00Z');
      expect(await ensureFirstBootToken(options)).toEqual({ state: 'token_valid' });

      now = new Date('2030-01-01T00:16:00Z');
      const second = await ensureFirstBootToken(options);
      expect(second.state).toBe('minted');
      expect(await test().database.db.selectFrom('first_boot_tokens').select('id').execute()).toHaveLength(1);

      await test()
        .database.db.insertInto('users')
        .values({ email: 'admin@example.com', password_hash: 'argon2id-placeholder-hash', display_name: 'Admin', is_admin: true })
        .execute();
      expect(await ensureFirstBootToken(options)).toEqual({ state: 'initialised' });
      expect(await test().database.db.selectFrom('first_boot_tokens').select('id').execute()).toHaveLength(0);
    },
  );
});

describe('setup token hashing', () => {
  it('is HMAC-SHA256 keyed with the secret and the v1 label', () => {
    expect(hashSetupToken(SECRET, 'a')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashSetupToken(SECRET, 'a')).not.toBe(hashSetupToken(`${SECRET}x`, 'a'));
  });

  it('prints the link in the banner', () => {
    expect(formatFirstBootBanner('http://localhost:7700/setup?token=abc', 900)).toContain('within 15 minutes');
  });
});
