import { createHmac, randomBytes } from 'node:crypto';

/**
 * Personal API keys: `z4k_` + 32 random bytes as unpadded base64url (what
 * Python's `secrets.token_urlsafe(32)` gives), 47 characters in all. The
 * `z4k_` prefix makes keys recognisable to secret scanners and to people.
 *
 * Only a keyed hash is stored: hex HMAC-SHA256 with key
 * `UTF-8(Z4J_SECRET) ‖ UTF-8("z4j-api-key-v1")` over the whole token
 * (prefix included), as the original brain does, so its rows stay valid.
 * The suffix keeps API-key hashes apart from agent-token hashes made from
 * the same master secret. A plain SHA-256 would do for 256-bit tokens; the
 * HMAC adds that a leaked table cannot even be checked against a leaked token
 * without the secret.
 *
 * The lookup is by hash (a unique index), so no comparison of secrets happens
 * in JavaScript. During a secret rotation the caller looks up every
 * candidate from {@link apiKeyHashCandidates}.
 */

export const API_KEY_TOKEN_PREFIX = 'z4k_';
/** Characters of the token kept in clear for display (`z4k_` + 4), as the original brain stores them. */
export const API_KEY_DISPLAY_PREFIX_LENGTH = 8;
const KEY_SUFFIX = Buffer.from('z4j-api-key-v1', 'utf8');
const RANDOM_BYTES = 32;
/** `z4k_` then exactly 43 base64url characters (32 bytes, unpadded). */
const TOKEN_SHAPE = /^z4k_[A-Za-z0-9_-]{43}$/;

export interface MintedApiKey {
  /** Shown to the user once. */
  readonly token: string;
  /** Stored in clear to tell keys apart in lists. */
  readonly prefix: string;
}

export interface ApiKeySecrets {
  /** `Z4J_SECRET`. */
  readonly secret: string;
  /** `Z4J_PREVIOUS_SECRETS`. */
  readonly previousSecrets?: readonly string[];
}

export type BearerParseResult =
  | { readonly ok: true; readonly token: string }
  | {
      readonly ok: false;
      /** `missing`: no header; `not_bearer`: another scheme; `not_api_key`: a bearer token of another kind; `malformed`: z4k_ but the wrong shape. */
      readonly reason: 'missing' | 'not_bearer' | 'not_api_key' | 'malformed';
    };

/**
 * A fresh API key.
 *
 * @example
 * const { token, prefix } = mintApiKey() // token: 'z4k_' + 43 chars, prefix: token.slice(0, 8)
 */
export function mintApiKey(): MintedApiKey {
  const token = `${API_KEY_TOKEN_PREFIX}${randomBytes(RANDOM_BYTES).toString('base64url')}`;
  return { token, prefix: apiKeyDisplayPrefix(token) };
}

/** The part of a token shown in key lists. */
export function apiKeyDisplayPrefix(token: string): string {
  return token.slice(0, API_KEY_DISPLAY_PREFIX_LENGTH);
}

/** Whether a string has the exact shape of an API key. */
export function isApiKeyToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/** The stored hash of `token` under one master secret: 64 hex characters. */
export function hashApiKey(masterSecret: string, token: string): string {
  const key = Buffer.concat([Buffer.from(masterSecret, 'utf8'), KEY_SUFFIX]);
  return createHmac('sha256', key).update(token, 'utf8').digest('hex');
}

/** Hashes to look up, current secret first, then each previous secret (no duplicates). */
export function apiKeyHashCandidates(token: string, secrets: ApiKeySecrets): string[] {
  const all = [secrets.secret, ...(secrets.previousSecrets ?? [])].map((masterSecret) => hashApiKey(masterSecret, token));
  return [...new Set(all)];
}

/**
 * Reads an `Authorization` header value. The scheme is case-insensitive
 * (RFC 9110 §11.1); the token must have the exact API-key shape, so anything
 * else is refused before a database lookup.
 */
export function parseBearerApiKey(header: string | undefined | null): BearerParseResult {
  const value = header?.trim() ?? '';
  if (value === '') return { ok: false, reason: 'missing' };
  const space = value.search(/\s/);
  const scheme = space === -1 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') return { ok: false, reason: 'not_bearer' };
  const token = space === -1 ? '' : value.slice(space).trim();
  if (token !== '' && !token.startsWith(API_KEY_TOKEN_PREFIX)) return { ok: false, reason: 'not_api_key' };
  return isApiKeyToken(token) ? { ok: true, token } : { ok: false, reason: 'malformed' };
}
