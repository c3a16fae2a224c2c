import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AppError } from '@z4j/errors';
import { createLogger } from '@z4j/logger';
import { createHttpHost } from './http-host.js';
import { createMetricsEndpoint } from './metrics.js';
import { createReadiness } from './readiness.js';

const logger = createLogger({ level: 'silent', json: true, destination: new Writable({ write: (_c, _e, cb) => cb() }) });

function host(options: { pingOk?: boolean; metricsPublic?: boolean } = {}) {
  const readiness = createReadiness({
    ping: async () => {
      if (options.pingOk === false) throw new Error('down');
    },
  });
  const metrics = createMetricsEndpoint({
    authToken: 'metrics-token-0123456789',
    isPublic: options.metricsPublic ?? false,
    labels: { service: 'test' },
  });
  const created = createHttpHost({
    logger,
    readiness,
    metrics,
    services: [
      {
        name: 'api',
        mount: (app) => {
          app.get('/api/v1/boom', () => {
            throw new AppError('THING_MISSING', 'no such thing', { status: 404 });
          });
          app.get('/api/v1/crash', () => {
            throw new Error('secret internal detail');
          });
        },
      },
    ],
  });
  return { ...created, readiness };
}

describe('createHttpHost', () => {
  it('answers liveness always and readiness only once ready', async () => {
    const { app, readiness } = host();
    expect(await (await app.request('/api/v1/health')).json()).toEqual({ status: 'ok' });
    const starting = await app.request('/api/v1/health/ready');
    expect(starting.status).toBe(503);
    expect(await starting.json()).toEqual({ status: 'unready', reason: 'starting' });
    readiness.markReady();
    const ready = await app.request('/api/v1/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('reports the database as the reason when it does not answer', async () => {
    const { app, readiness } = host({ pingOk: false });
    readiness.markReady();
    const response = await app.request('/api/v1/health/ready');
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'unready', reason: 'database' });
  });

  it('maps errors to the JSON envelope without leaking internals', async () => {
    const { app } = host();
    const known = await app.request('/api/v1/boom', { headers: { 'x-request-id': 'req-1' } });
    expect(known.status).toBe(404);
    expect(await known.json()).toEqual({ error: 'thing_missing', message: 'no such thing', request_id: 'req-1' });
    const crash = await app.request('/api/v1/crash');
    expect(crash.status).toBe(500);
    const body = (await crash.json()) as { message: string; request_id: string };
    expect(body.message).toBe('internal error');
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await app.request('/api/v1/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
  });

  it('guards /metrics with the bearer token unless public', async () => {
    const { app } = host();
    expect((await app.request('/metrics')).status).toBe(401);
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await app.request('/metrics', { headers: { authorization: 'Bearer metrics-token-0123456789' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('z4j_process_');
    const open = host({ metricsPublic: true });
    expect((await open.app.request('/metrics')).status).toBe(200);
  });

  it('listens on a real socket, rejects unknown upgrade paths, and closes', async () => {
    const { listen, close } = host();
    const address = await listen('127.0.0.1', 0);
    const response = await fetch(`http://127.0.0.1:${address.port}/api/v1/health`);
    expect(response.status).toBe(200);
    const upgrade = await fetch(`http://127.0.0.1:${address.port}/ws/unknown`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    }).catch((error: unknown) => error);
    expect(upgrade instanceof Response ? upgrade.status : 404).toBe(404);
    await close(1_000);
  });
});
