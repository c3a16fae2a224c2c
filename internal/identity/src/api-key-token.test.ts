import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyDisplayPrefix, apiKeyHashCandidates, hashApiKey, isApiKeyToken, mintApiKey, parseBearerApiKey } from './api-key-token.js';

const SECRET = 'test-master-secret-0123456789abcdef';
const OLD_SECRET = 'ünïcode-secret-of-at-least-32-bytes!';
// base64url of the bytes 0x00..0x1f.
const TOKEN = 'z4k_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';

describe('mintApiKey', () => {
  it('mints z4k_ + 43 base64url characters (32 random bytes) and an 8-character display prefix', () => {
    const { token, prefix } = mintApiKey();
    expect(token).toMatch(/^z4k_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(4), 'base64url')).toHaveLength(32);
    expect(prefix).toBe(token.slice(0, 8));
    expect(isApiKeyToken(token)).toBe(true);
    expect(mintApiKey().token).not.toBe(token);
  });
});

describe('hashApiKey', () => {
  it('is hex HMAC-SHA256 keyed by UTF-8(Z4J_SECRET) ‖ "z4j-api-key-v1" over the whole token', () => {
    // Known answers computed with Python's hmac module.
    expect(hashApiKey(SECRET, TOKEN)).toBe('f77d53c752065c221003625987211ea44348a7646d7cfd045365902a99efa2c7');
    expect(hashApiKey(OLD_SECRET, TOKEN)).toBe('372ebae1f6f2521e02b4ed5103319a7c7e7a243aaa2bdf22da9d069d71fa1192');
    expect(hashApiKey(SECRET, TOKEN)).toBe(createHmac('sha256', `${SECRET}z4j-api-key-v1`).update(TOKEN).digest('hex'));
  });

  it('differs from the agent-token hash of the same token (separate key suffix)', () => {
    const agentStyle = createHmac('sha256', `${SECRET}z4j-agent-token-v1`).update(TOKEN).digest('hex');
    expect(hashApiKey(SECRET, TOKEN)).not.toBe(agentStyle);
  });

  it('lists candidates for the current then each previous secret', () => {
    expect(apiKeyHashCandidates(TOKEN, { secret: SECRET })).toEqual([hashApiKey(SECRET, TOKEN)]);
    expect(apiKeyHashCandidates(TOKEN, { secret: SECRET, previousSecrets: [OLD_SECRET, SECRET] })).toEqual([
      hashApiKey(SECRET, TOKEN),
      hashApiKey(OLD_SECRET, TOKEN),
    ]);
  });

  it('shows a display prefix', () => {
    expect(apiKeyDisplayPrefix(TOKEN)).toBe('z4k_AAEC');
  });
});

describe('parseBearerApiKey', () => {
  it('accepts a Bearer API key, scheme in any case', () => {
    expect(parseBearerApiKey(`Bearer ${TOKEN}`)).toEqual({ ok: true, token: TOKEN });
    expect(parseBearerApiKey(`bearer   ${TOKEN} `)).toEqual({ ok: true, token: TOKEN });
    expect(parseBearerApiKey(`BEARER ${TOKEN}`)).toEqual({ ok: true, token: TOKEN });
  });

  it.each([
    [undefined, 'missing'],
    [null, 'missing'],
    ['', 'missing'],
    ['   ', 'missing'],
    [`Basic ${TOKEN}`, 'not_bearer'],
    [TOKEN, 'not_bearer'],
    ['Bearer abc.def.ghi', 'not_api_key'],
    ['Bearer', 'malformed'],
    [`Bearer ${TOKEN}x`, 'malformed'],
    [`Bearer ${TOKEN.slice(0, -1)}`, 'malformed'],
    [`Bearer ${TOKEN.slice(0, -1)}+`, 'malformed'],
    [`Bearer ${TOKEN} extra`, 'malformed'],
  ] as const)('%j -> %s', (header, reason) => {
    expect(parseBearerApiKey(header)).toEqual({ ok: false, reason });
  });
});
