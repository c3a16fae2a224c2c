import { parse as parseConnectionString } from 'pg-connection-string';
import { AppError } from '@z4j/errors';

/** sslmode values under which node-postgres sends the password in plaintext. */
const PLAINTEXT_SSL_MODES = new Set(['disable', 'allow', 'prefer']);

/**
 * True for hosts that never leave the machine: loopback names and addresses
 * and Unix-socket directories. SSL is pointless there, so the SSL rule relaxes.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === '' || bare.startsWith('/')) return true;
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  return /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Refuses a database URL that would talk to a remote host without TLS while
 * `Z4J_REQUIRE_DB_SSL` is on. node-postgres only encrypts when the URL asks for
 * it, so a missing `sslmode` counts as plaintext too.
 */
export function assertDatabaseUrlAllowed(url: string, requireSsl: boolean): void {
  if (!/^postgres(ql)?(\+asyncpg)?:\/\//.test(url)) {
    throw new AppError('CONFIG_INVALID', 'Z4J_DATABASE_URL: expected a postgres:// or postgresql:// URL');
  }
  if (!requireSsl) return;
  // node-postgres' own parser, so Unix-socket URLs (`postgres://u@/db?host=/run/postgresql`) read as it reads them.
  // TLS parameters are read here, not by the parser (which warns about sslmode semantics on every parse).
  const [base = '', query = ''] = url.replace(/^postgresql\+asyncpg:/, 'postgresql:').split(/\?(.*)/s);
  const params = new URLSearchParams(query);
  const hostParam = params.get('host');
  const host = hostParam ?? parseConnectionString(base).host ?? '';
  if (isLoopbackHost(host)) return;
  const sslmode = params.get('sslmode')?.toLowerCase();
  const sslParam = params.get('ssl')?.toLowerCase();
  const asksForTls = sslmode ? !PLAINTEXT_SSL_MODES.has(sslmode) : sslParam === 'true' || sslParam === '1';
  if (!asksForTls) {
    throw new AppError(
      'DB_SSL_REQUIRED',
      `Z4J_DATABASE_URL: host "${host}" is not loopback and the URL does not require SSL ` +
        `(sslmode=${sslmode ?? 'unset'}); add ?sslmode=require (or verify-full), or set Z4J_REQUIRE_DB_SSL=false`,
    );
  }
}

/** The URL without its password, for logs and error messages. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable database URL>';
  }
}
