/**
 * The built-in redaction patterns (reference §2.5, after z4j-core `redaction/patterns.py`).
 *
 * Key names are matched whole and case-insensitively. Every multi-word name also matches with `-` or no separator
 * between its words, so `access_token`, `access-token`, `accessToken` and `ACCESSTOKEN` are all caught: the TypeScript
 * agents send camelCase keys, and a superset of the reference list only ever redacts more.
 *
 * Value patterns are searched anywhere in a string; one hit replaces the whole string. Each entry below is written as
 * the smallest match that proves the secret is there (`[A-Za-z0-9]{24}` rather than `{24,}`): the answer is the same,
 * and the search never has to scan to the end of a long run, which keeps the combined regex linear on adversarial
 * input (see the JWT entry for the one pattern that needs more than that).
 */

/** The reference's key names in snake_case, with the optional parts of `api_?key`, `social_security(_number)?` and `credit_card(_number)?` spelled out. */
const KEY_NAMES_SNAKE = [
  // passwords
  'password',
  'password_confirmation',
  'password_hash',
  'passwd',
  'pwd',
  'old_password',
  'new_password',
  // secrets
  'secret',
  'secrets',
  'client_secret',
  'webhook_secret',
  // tokens
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_token',
  'bearer_token',
  'session_token',
  // API keys (api_?key, apikey, x-api-key, x_api_key)
  'api_key',
  'x_api_key',
  // auth and cookies (set-cookie, set_cookie)
  'authorization',
  'auth',
  'credentials',
  'cookie',
  'set_cookie',
  // personal data
  'ssn',
  'social_security',
  'social_security_number',
  'credit_card',
  'credit_card_number',
  'card_number',
  'cvv',
  'cvc',
] as const;

function separatorVariants(snake: string): string[] {
  let variants = [''];
  const words = snake.split('_');
  words.forEach((word, index) => {
    const separators = index === 0 ? [''] : ['_', '-', ''];
    variants = variants.flatMap((prefix) => separators.map((separator) => prefix + separator + word));
  });
  return variants;
}

/**
 * Every key name redacted by default, lower-case. A key is compared after `toLowerCase()`, so this list is the whole
 * default key rule: `{ "Password": 1 }`, `{ "api-key": 1 }` and `{ "clientSecret": 1 }` all lose their value.
 *
 * @example
 * DEFAULT_KEY_NAMES.includes('accesstoken') // true
 */
export const DEFAULT_KEY_NAMES: readonly string[] = Object.freeze([...new Set(KEY_NAMES_SNAKE.flatMap(separatorVariants))]);

/**
 * One built-in value pattern: a name for documentation and tests, and its JavaScript regex source (no flags).
 *
 * @example
 * const email = DEFAULT_VALUE_PATTERNS.find((p) => p.name === 'email')!;
 * new RegExp(email.source).test('a@b.co') // true
 */
export interface DefaultValuePattern {
  readonly name: string;
  readonly source: string;
}

/** `[eE][yY][jJ]`: a case-insensitive literal inside a regex that has no `i` flag (AWS keys must stay upper-case). */
function ci(literal: string): string {
  let out = '';
  for (const char of literal) {
    const lower = char.toLowerCase();
    const upper = char.toUpperCase();
    out += lower === upper ? char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&') : `[${lower}${upper}]`;
  }
  return out;
}

const B64URL = 'A-Za-z0-9_-';

/**
 * The built-in value patterns, in the order they are tried. All are case-insensitive except the AWS key id, whose
 * real form is always upper-case (`asiaPacificWarehouse` must not look like a key).
 *
 * @example
 * DEFAULT_VALUE_PATTERNS.map((p) => p.name) // ['jwt', 'bearer', 'stripe-key', ...]
 */
export const DEFAULT_VALUE_PATTERNS: readonly DefaultValuePattern[] = Object.freeze([
  // eyJ….….… : the first segment may not run past another `eyJ` that could start a token itself, so with `eyJ`
  // repeated each start scans only up to the next one (linear); the last such `eyJ` in a run still reaches the dot.
  // (A lookbehind anchor would do the same but stops V8 from skipping ahead and costs 4x on every string.)
  {
    name: 'jwt',
    source: `${ci('eyj')}(?:(?!${ci('eyj')}[${B64URL}])[${B64URL}])+\\.[${B64URL}]+\\.[${B64URL}]`,
  },
  { name: 'bearer', source: `${ci('bearer')}\\s+[A-Za-z0-9._-]{16}` },
  { name: 'stripe-key', source: `[sSpPrR][kK]_(?:${ci('live')}|${ci('test')})_[A-Za-z0-9]{24}` },
  { name: 'stripe-webhook-secret', source: `${ci('whsec_')}[A-Za-z0-9]{24}` },
  { name: 'slack-token', source: `${ci('xox')}[bBpPaA]-[0-9A-Za-z-]{10}` },
  { name: 'github-token', source: `${ci('gh')}[pPoOsS]_[A-Za-z0-9]{36}` },
  { name: 'github-fine-grained-pat', source: `${ci('github_pat_')}[A-Za-z0-9_]{82}` },
  { name: 'aws-access-key-id', source: `(?:AKIA|ASIA)[0-9A-Z]{16}` },
  { name: 'google-api-key', source: `${ci('aiza')}[0-9A-Za-z_-]{35}` },
  { name: 'twilio-key', source: `\\b${ci('sk')}[0-9a-fA-F]{32}\\b` },
  { name: 'sendgrid-key', source: `${ci('sg')}\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}` },
  { name: 'slack-webhook', source: `${ci('hooks.slack.com/services/')}[tT][A-Za-z0-9]+/[bB][A-Za-z0-9]+/[A-Za-z0-9]` },
  // user:pass@ with an empty user allowed (redis://:secret@host is the usual Redis form); user and password are
  // bounded at 256 characters so `postgres://` repeated without an `@` cannot make the search quadratic.
  {
    name: 'uri-credentials',
    source:
      `(?:${ci('postgres')}(?:${ci('ql')})?|${ci('mysql')}|${ci('mariadb')}|${ci('mongodb')}(?:\\+${ci('srv')})?` +
      `|${ci('redis')}[sS]?|${ci('amqp')}[sS]?)://[^:\\s]{0,256}:[^@\\s]{1,256}@[^\\s/]`,
  },
  { name: 'pem-private-key', source: `-----${ci('begin')} [A-Za-z0-9 ]{0,40}${ci('private key')}(?: ${ci('block')})?-----` },
  // One local-part character is enough to prove an address; the domain needs a dot and a 2-letter TLD, so
  // `celery@worker-1` (no dot) stays visible.
  { name: 'email', source: `[A-Za-z0-9._%+-]@[A-Za-z0-9.-]+\\.[A-Za-z]{2}` },
  { name: 'us-ssn', source: `\\b\\d{3}-\\d{2}-\\d{4}\\b` },
]);

/** No default value pattern can match a string shorter than this (`a@b.co`), so shorter strings skip the search. */
export const DEFAULT_VALUE_MIN_LENGTH = 6;
