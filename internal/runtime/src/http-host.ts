import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { Logger } from '@z4j/logger';
import { createErrorHandler, type ErrorEnvelope } from './error-envelope.js';
import type { MetricsEndpoint } from './metrics.js';
import type { Readiness } from './readiness.js';
import type { BrainService, UpgradeHandler } from './service.js';

export interface HttpHostOptions {
  readonly services: readonly BrainService[];
  readonly readiness: Readiness;
  readonly logger: Logger;
  readonly metrics: MetricsEndpoint | undefined;
}

export interface HttpHost {
  readonly app: Hono;
  readonly server: Server;
  listen(host: string, port: number): Promise<AddressInfo>;
  /**
   * Stops accepting connections and resolves once every connection is gone:
   * in-flight requests may finish, what is left after `graceMs` is dropped.
   * Upgraded (WebSocket) sockets are the owning service's to close; the host
   * destroys them only when the grace runs out.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * The one HTTP listener of a brain process: health, metrics, every mounted
 * service's routes, and WebSocket upgrades dispatched by path.
 */
export function createHttpHost(options: HttpHostOptions): HttpHost {
  const { logger, readiness } = options;
  const app = new Hono();

  app.use(async (c, next) => {
    const inbound = c.req.header('x-request-id');
    const requestId = inbound && /^[\w.-]{1,128}$/.test(inbound) ? inbound : randomUUID();
    c.set('requestId' as never, requestId as never);
    c.header('x-request-id', requestId);
    await next();
  });
  app.onError(createErrorHandler(logger));

  app.get('/api/v1/health', (c) => c.json({ status: 'ok' }));
  app.get('/api/v1/health/ready', async (c) => {
    const result = await readiness.check();
    return result.ready ? c.json({ status: 'ready' }) : c.json({ status: 'unready', reason: result.reason }, 503);
  });
  if (options.metrics) options.metrics.mount(app);
  for (const service of options.services) service.mount?.(app);

  app.notFound((c) => {
    const body: ErrorEnvelope = {
      error: 'not_found',
      message: `no route for ${c.req.method} ${c.req.path}`,
      request_id: (c.get('requestId' as never) as string | undefined) ?? null,
    };
    return c.json(body, 404);
  });

  const upgrades = new Map<string, UpgradeHandler>();
  for (const service of options.services) {
    for (const [path, handler] of Object.entries(service.upgrades ?? {})) {
      if (upgrades.has(path)) throw new Error(`two services claim the WebSocket path ${path}`);
      upgrades.set(path, handler);
    }
  }

  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (request, socket, head) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const handler = upgrades.get(path);
    if (!handler) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    handler(request, socket, head);
  });
  server.on('clientError', (error, socket) => {
    logger.debug({ err: error }, 'http:client_error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  return {
    app,
    server,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: (graceMs) =>
      new Promise((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          server.closeAllConnections();
          for (const socket of upgraded) socket.destroy();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Idle keep-alive sockets would otherwise hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}
