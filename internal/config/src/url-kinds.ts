import { checked, fail, ok } from './checked-kind.js';
import type { FieldKind } from './field-kinds.js';

function parseUrl(raw: string): URL | undefined {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

/** The original's SQLAlchemy spelling; node-postgres wants the plain scheme. */
const ASYNCPG_PREFIX = /^postgresql\+asyncpg:\/\//i;

/**
 * A Postgres connection URL. `postgresql+asyncpg://` is accepted so an env
 * file from the Python brain keeps working, and normalised to
 * `postgresql://`. SSL policy is checked where the pool is opened (@z4j/db),
 * which knows about loopback hosts and `Z4J_REQUIRE_DB_SSL`.
 */
export function databaseUrl(): FieldKind<string> {
  const expected = 'a postgres://, postgresql:// or postgresql+asyncpg:// URL';
  return checked((raw) => {
    const value = raw.trim().replace(ASYNCPG_PREFIX, 'postgresql://');
    if (!/^postgres(?:ql)?:\/\//i.test(value) || /\s/.test(value) || parseUrl(value) === undefined) return fail(expected);
    return ok(value);
  });
}

/**
 * The brain's externally reachable base URL, which ends up in emailed setup
 * and invitation links. So it must be unambiguous: http(s) only, no
 * whitespace (header/line injection), no userinfo (`https://good@evil`
 * phishing shape), no query or fragment. A trailing slash is trimmed so
 * callers can append `/setup`. Whether plain http is allowed depends on
 * another variable and is checked in the cross-field rules.
 */
export function publicUrl(): FieldKind<string> {
  const expected = 'an http(s) URL without whitespace, user info, query or fragment, e.g. https://z4j.example.com';
  return checked((raw) => {
    if (/\s/.test(raw) || /[?#]/.test(raw)) return fail(expected);
    const url = parseUrl(raw);
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) return fail(expected);
    if (
      url.username !== '' ||
      url.password !== '' ||
      raw
        .slice(raw.indexOf('//') + 2)
        .split('/')[0]
        ?.includes('@')
    )
      return fail(expected);
    return ok(`${url.protocol}//${url.host}${url.pathname}`.replace(/\/+$/, ''));
  });
}

/** Any http(s) URL (webhook receivers, update feeds); kept as written. */
export function httpUrl(): FieldKind<string> {
  const expected = 'an http:// or https:// URL';
  return checked((raw) => {
    const value = raw.trim();
    const url = parseUrl(value);
    if (url === undefined || /\s/.test(value) || (url.protocol !== 'https:' && url.protocol !== 'http:')) return fail(expected);
    return ok(value);
  });
}

/** A gRPC dial target written `host:port` (`[v6]:port` for IPv6), as the original documents it. */
export function hostPort(): FieldKind<string> {
  const expected = 'host:port (IPv6 as [addr]:port), e.g. scheduler:7802';
  return checked((raw) => {
    const value = raw.trim();
    const match = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(value);
    const portNumber = Number(match?.[1] ?? NaN);
    return match && portNumber >= 1 && portNumber <= 65_535 ? ok(value) : fail(expected);
  });
}
