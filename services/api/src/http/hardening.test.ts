import { describe, expect, it } from 'vitest';
import { createTrustedProxies } from '@z4j/runtime';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness } from '../testing/api-harness.js';
import { isHttpsRequest } from './hardening.js';

const postgres = await probePostgres();

describeEachDatabase('HTTP hardening', postgres, ({ skip, test }) => {
  it.skipIf(skip)('answers 413 with the error envelope for a body over Z4J_MAX_PAYLOAD_SIZE_BYTES', async () => {
    const harness = createApiHarness(test().database.db, { Z4J_MAX_PAYLOAD_SIZE_BYTES: '1024' });
    const reply = await harness.request('POST', '/api/v1/setup/complete', {
      rawBody: JSON.stringify({ token: 'x'.repeat(2000), email: 'a@example.com', password: 'p' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({ error: 'payload_too_large', request_id: expect.any(String) });
  });

  it.skipIf(skip)('refuses Host headers outside Z4J_ALLOWED_HOSTS, accepts listed ones (port ignored)', async () => {
    const harness = createApiHarness(test().database.db, {
      Z4J_ALLOWED_HOSTS: 'z4j.example.com',
      Z4J_ENVIRONMENT: 'production',
      Z4J_PUBLIC_URL: 'https://z4j.example.com',
    });
    const evil = await harness.request('GET', '/api/v1/setup/status', { headers: { host: 'evil.example.net' } });
    expect(evil.status).toBe(400);
    expect(evil.body.error).toBe('host_not_allowed');
    const good = await harness.request('GET', '/api/v1/setup/status', { headers: { host: 'Z4J.example.com:443' } });
    expect(good.status).toBe(200);
  });

  it.skipIf(skip)('allows any Host in dev with an empty list, and loopback names for a loopback public URL in production', async () => {
    const dev = createApiHarness(test().database.db);
    expect((await dev.request('GET', '/api/v1/setup/status', { headers: { host: 'anything.test' } })).status).toBe(200);
    const embedded = createApiHarness(test().database.db, { Z4J_ENVIRONMENT: 'production' });
    expect((await embedded.request('GET', '/api/v1/setup/status', { headers: { host: '127.0.0.1:7700' } })).status).toBe(200);
    expect((await embedded.request('GET', '/api/v1/setup/status', { headers: { host: 'rebind.attacker.test' } })).status).toBe(400);
  });

  it.skipIf(skip)('answers CORS preflights for listed origins only', async () => {
    const harness = createApiHarness(test().database.db, {
      Z4J_CORS_ORIGINS: 'https://ops.example.com',
      Z4J_CORS_ALLOW_CREDENTIALS: 'true',
    });
    const preflight = (origin: string) =>
      harness.request('OPTIONS', '/api/v1/auth/me', {
        headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type,x-csrf-token' },
      });
    const allowed = await preflight('https://ops.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://ops.example.com');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-csrf-token');
    const other = await preflight('https://evil.example.net');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it.skipIf(skip)('sends HSTS only in production over https, and no-store on API replies', async () => {
    const prod = createApiHarness(test().database.db, { Z4J_ENVIRONMENT: 'production', Z4J_PUBLIC_URL: 'https://localhost' });
    const https = await prod.request('GET', 'https://localhost/api/v1/setup/status');
    expect(https.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect(https.headers.get('cache-control')).toBe('no-store');
    const plain = await prod.request('GET', 'http://localhost/api/v1/setup/status');
    expect(plain.headers.get('strict-transport-security')).toBeNull();
    const dev = createApiHarness(test().database.db, { Z4J_PUBLIC_URL: 'https://localhost' });
    expect((await dev.request('GET', 'https://localhost/api/v1/setup/status')).headers.get('strict-transport-security')).toBeNull();
  });

  it.skipIf(skip)('answers 422 naming the field for malformed JSON bodies and unknown cursors', async () => {
    const harness = createApiHarness(test().database.db);
    const reply = await harness.request('POST', '/api/v1/setup/complete', {
      rawBody: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(reply.status).toBe(422);
    expect(reply.body.details.errors).toEqual([{ field: 'body', message: 'expected a JSON object' }]);
  });
});

describe('isHttpsRequest', () => {
  const trusted = createTrustedProxies(['10.0.0.0/8']);
  const request = (remoteAddress: string, proto: string | undefined, url = 'http://brain.internal/api/v1/x') => ({
    env: { incoming: { socket: { remoteAddress } } },
    req: { url, header: (name: string) => (name === 'x-forwarded-proto' ? proto : undefined) },
  });

  it('believes X-Forwarded-Proto only from a trusted proxy', () => {
    expect(isHttpsRequest(request('10.1.2.3', 'https'), trusted)).toBe(true);
    expect(isHttpsRequest(request('10.1.2.3', 'https, http'), trusted)).toBe(true);
    expect(isHttpsRequest(request('10.1.2.3', 'http'), trusted)).toBe(false);
    expect(isHttpsRequest(request('203.0.113.9', 'https'), trusted)).toBe(false);
  });
});
