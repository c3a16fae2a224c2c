import { describe, expect, it } from 'vitest';
import { assertDatabaseUrlAllowed, describeDatabaseUrl, isLoopbackHost } from './database-url.js';
import { normalisePostgresUrl } from './brain-database.js';
import { classifySqlError } from './sqlstate.js';

describe('assertDatabaseUrlAllowed', () => {
  it('refuses a remote host without SSL, naming the variable and the fix', () => {
    for (const url of [
      'postgres://u:p@db.example.com/z4j',
      'postgres://u:p@db.example.com/z4j?sslmode=disable',
      'postgresql://u@10.0.0.5/z4j?sslmode=prefer',
    ]) {
      expect(() => assertDatabaseUrlAllowed(url, true)).toThrow(
        /Z4J_DATABASE_URL: host .* is not loopback .*sslmode=require.*Z4J_REQUIRE_DB_SSL=false/,
      );
    }
  });

  it('accepts SSL URLs, loopback hosts, Unix sockets, and anything when SSL is not required', () => {
    assertDatabaseUrlAllowed('postgres://u:p@db.example.com/z4j?sslmode=require', true);
    assertDatabaseUrlAllowed('postgres://u:p@db.example.com/z4j?sslmode=verify-full', true);
    assertDatabaseUrlAllowed('postgres://u:p@127.0.0.1:5432/z4j?sslmode=disable', true);
    assertDatabaseUrlAllowed('postgres://u:p@localhost/z4j', true);
    assertDatabaseUrlAllowed('postgres://u:p@[::1]/z4j', true);
    assertDatabaseUrlAllowed('postgres://u@/z4j?host=/var/run/postgresql', true);
    assertDatabaseUrlAllowed('postgres://u:p@db.example.com/z4j?sslmode=disable', false);
  });

  it('hides the password when describing a URL', () => {
    expect(describeDatabaseUrl('postgres://z4j:hunter2@db/z4j')).toBe('postgres://z4j:***@db/z4j');
  });

  it('knows loopback hosts', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '/tmp'].every(isLoopbackHost)).toBe(true);
    expect(['db.example.com', '10.0.0.1', '::2', 'localhost.example.com'].some(isLoopbackHost)).toBe(false);
  });

  it("accepts the original's postgresql+asyncpg spelling", () => {
    expect(normalisePostgresUrl('postgresql+asyncpg://u@h/d')).toBe('postgresql://u@h/d');
  });
});

describe('classifySqlError', () => {
  it('classifies by SQLSTATE, not message', () => {
    expect(classifySqlError({ code: '40P01', message: 'anything' })).toBe('retryable');
    expect(classifySqlError({ code: '23505' })).toBe('conflict');
    expect(classifySqlError({ code: '57014' })).toBe('timeout');
    expect(classifySqlError(new Error('deadlock detected'))).toBe('fatal');
  });
});
