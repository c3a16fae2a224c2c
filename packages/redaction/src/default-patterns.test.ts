import { describe, expect, it } from 'vitest';
import { DEFAULT_KEY_NAMES, DEFAULT_VALUE_MIN_LENGTH, DEFAULT_VALUE_PATTERNS } from './default-patterns.js';
import { createRedactor } from './redactor.js';

const redactor = createRedactor();
const MARKER = '[REDACTED]';

/** The reference's key list (§2.5), with `api_?key`, `social_security(_number)?` and `credit_card(_number)?` spelled out. */
const REFERENCE_KEYS = [
  'password',
  'password_confirmation',
  'password_hash',
  'passwd',
  'pwd',
  'old_password',
  'new_password',
  'secret',
  'secrets',
  'client_secret',
  'webhook_secret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_token',
  'bearer_token',
  'session_token',
  'api_key',
  'apikey',
  'x-api-key',
  'x_api_key',
  'authorization',
  'auth',
  'credentials',
  'cookie',
  'set-cookie',
  'set_cookie',
  'ssn',
  'social_security',
  'social_security_number',
  'credit_card',
  'credit_card_number',
  'card_number',
  'cvv',
  'cvc',
];

const alnum = (n: number) => 'aB3dE5gH7jK9mN1pQ2sT4vW6yZ8'.repeat(10).slice(0, n);
const hex = (n: number) => '0123456789abcdef'.repeat(10).slice(0, n);

/** Per built-in value pattern: strings it must catch, and near misses nothing may catch. */
const VALUE_CASES: Record<string, { hit: string[]; miss: string[] }> = {
  jwt: {
    hit: [
      'token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
      'xeyJhbGci.eyJzdWIi.sig',
      'EYJHBGCI.payload.sig',
      'eyJabceyJ.x.y',
    ],
    miss: ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0', 'eyJ.payload.sig', 'heyJude.mp3'],
  },
  bearer: {
    hit: ['Authorization: Bearer abcdef0123456789XYZ', 'bearer   0123456789abcdef', 'BEARER a.b-c_d.e-f_g.h-i_j'],
    miss: ['Bearer abc123', 'Bearer token missing for this request'],
  },
  'stripe-key': {
    hit: [`sk_live_${alnum(24)}`, `pk_test_${alnum(30)}`, `rk_live_${alnum(24)}`, `SK_LIVE_${alnum(24)}`],
    miss: [`sk_live_${alnum(23)}`, `sk_prod_${alnum(24)}`],
  },
  'stripe-webhook-secret': { hit: [`whsec_${alnum(32)}`, `WHSEC_${alnum(24)}`], miss: [`whsec_${alnum(10)}`] },
  'slack-token': {
    hit: ['xoxb-1234567890-abcdefghij', 'xoxp-12345-67890-abc', 'xoxa-2-abcdefghij'],
    miss: ['xoxc-1234567890-abcdefghij', 'xoxb-12345'],
  },
  'github-token': {
    hit: [`ghp_${alnum(36)}`, `gho_${alnum(36)}`, `ghs_${alnum(36)}`],
    miss: [`ghx_${alnum(36)}`, `ghp_${alnum(20)}`],
  },
  'github-fine-grained-pat': { hit: [`github_pat_11ABCDEFG0_${alnum(71)}`], miss: [`github_pat_${alnum(40)}`] },
  'aws-access-key-id': {
    hit: ['AKIAIOSFODNN7EXAMPLE', 'key=ASIAY34FZKBOKMUTVV7A;'],
    miss: ['AKIAIOSFODNN7EXAMPL', 'akiaiosfodnn7example', 'asiaPacificWarehouse'],
  },
  'google-api-key': { hit: [`AIza${alnum(35)}`, `aiza${alnum(20)}_-${alnum(13)}`], miss: [`AIza${alnum(20)}`] },
  'twilio-key': { hit: [`SK${hex(32)}`, `key: sk${hex(32).toUpperCase()}.`], miss: [`SK${hex(33)}`, `SK${hex(31)}`, `ask${hex(32)}`] },
  'sendgrid-key': { hit: [`SG.${alnum(22)}.${alnum(43)}`], miss: [`SG.${alnum(22)}.${alnum(20)}`] },
  'slack-webhook': {
    hit: ['https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX', 'hooks.slack.com/services/TABC/BDEF/xyz'],
    miss: ['https://hooks.slack.com/services/', 'https://hooks.slack.com/workflows/T000/B000/x'],
  },
  'uri-credentials': {
    hit: [
      'postgres://app:s3cret@db.internal:5432/app',
      'postgresql://app:s3cret@db/app',
      'mysql://root:pw@localhost/db',
      'mariadb://u:p@h',
      'mongodb://u:p@h:27017',
      'mongodb+srv://u:p@cluster0.x.mongodb.net/db',
      'redis://default:pw@cache:6379/0',
      'redis://:only-a-password@localhost:6379/0',
      'rediss://u:p@h',
      'amqp://guest:guest@rabbit//',
      'AMQPS://u:p@h',
      'OperationalError: could not connect to postgres://u:p@10.0.0.1/db',
    ],
    miss: ['postgres://db.internal:5432/app', 'redis://localhost:6379/0', 'ftp://user:pw@localhost/x', 'postgres://u:p@/db'],
  },
  'pem-private-key': {
    hit: [
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA',
      '-----BEGIN PRIVATE KEY-----',
      '-----BEGIN EC PRIVATE KEY-----',
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      '-----BEGIN ENCRYPTED PRIVATE KEY-----',
      '-----BEGIN PGP PRIVATE KEY BLOCK-----',
    ],
    miss: ['-----BEGIN PUBLIC KEY-----', '-----BEGIN CERTIFICATE-----', '-----BEGIN RSA PUBLIC KEY-----'],
  },
  email: {
    hit: ['a@b.co', 'contact Jane.Doe+tag@mail.example.org today', 'x@sub.domain.io', 'celery@worker-1.example.com'],
    miss: ['celery@worker-1', 'lodash@4.17.21', '@scope/pkg', 'user@localhost', 'a@b.c'],
  },
  'us-ssn': {
    hit: ['123-45-6789', 'ssn 078-05-1120 on file', 'ORD-123-45-6789'],
    miss: ['2024-01-15', '1234-56-7890', '123-45-67890', '123-456-7890', '9123-45-6789'],
  },
};

describe('default key patterns', () => {
  it.each(REFERENCE_KEYS)('%s: the whole value is replaced, whatever its case and nesting', (key) => {
    for (const spelling of [key, key.toUpperCase(), key[0]!.toUpperCase() + key.slice(1)]) {
      expect(redactor.isSensitiveKey(spelling)).toBe(true);
      const input = { a: [{ b: [1, { c: { [spelling]: { nested: ['x', 1, true] } } }] }] };
      expect(redactor.redact(input).value).toEqual({ a: [{ b: [1, { c: { [spelling]: MARKER } }] }] });
    }
  });

  it('also matches camelCase and kebab-case spellings of multi-word names', () => {
    for (const key of [
      'accessToken',
      'clientSecret',
      'apiKey',
      'xApiKey',
      'setCookie',
      'creditCardNumber',
      'new-password',
      'session-token',
    ]) {
      expect(redactor.isSensitiveKey(key)).toBe(true);
    }
    expect(DEFAULT_KEY_NAMES).toContain('accesstoken');
  });

  it('matches whole keys only', () => {
    for (const key of [
      'last_password_reset',
      'password_reset_at',
      'tokens_used',
      'author',
      'authority',
      'cookies',
      'key',
      'monkey',
      'apis',
      'user_id',
    ]) {
      expect(redactor.isSensitiveKey(key)).toBe(false);
    }
  });
});

describe('default value patterns', () => {
  it('has a case table for every built-in pattern', () => {
    expect(Object.keys(VALUE_CASES).sort()).toEqual(DEFAULT_VALUE_PATTERNS.map((p) => p.name).sort());
  });

  describe.each(DEFAULT_VALUE_PATTERNS)('$name', ({ name, source }) => {
    const cases = VALUE_CASES[name]!;
    const own = new RegExp(source);

    it.each(cases.hit)('redacts %j', (value) => {
      expect(own.test(value)).toBe(true);
      expect(redactor.redact({ note: value })).toEqual({ value: { note: MARKER }, redactedCount: 1, truncatedCount: 0 });
    });

    it.each(cases.miss)('leaves the near miss %j', (value) => {
      expect(redactor.isSensitiveValue(value)).toBe(false);
    });
  });

  it('leaves ordinary task data alone', () => {
    const ordinary = [
      '2024-01-15T10:30:00.123456+00:00',
      '2024-01-15',
      '550e8400-e29b-41d4-a716-446655440000',
      '1.2.3',
      'v2.0.0-rc.1+build.5',
      'celery@worker-1',
      'celery@ip-10-0-1-23',
      'app.tasks.send_welcome_email',
      'task.succeeded',
      'high_priority',
      'https://example.com/path?q=1&page=2',
      'File "/app/tasks.py", line 12, in run',
      'ValueError: invalid literal for int() with base 10',
      'bare-4242-1700000000000',
      'redis://localhost:6379/0',
      'sk_test',
      '3.14159',
    ];
    for (const value of ordinary) expect(redactor.isSensitiveValue(value), value).toBe(false);
  });

  it('skips the search only below the shortest possible match (a@b.co)', () => {
    expect('a@b.co').toHaveLength(DEFAULT_VALUE_MIN_LENGTH);
    expect(redactor.isSensitiveValue('a@b.co')).toBe(true);
  });
});
