import type { IncomingMessage } from 'node:http';
import type { Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { timeout } from 'hono/timeout';
import { AppError } from '@z4j/errors';
import type { Settings } from '@z4j/config';
import { clientIp, createTrustedProxies, type TrustedProxies } from '@z4j/runtime';
import type { ApiEnv } from './api-types.js';

/** The request's Node message when served by @hono/node-server (absent under `app.request()` in unit tests). */
function incomingOf(env: unknown): IncomingMessage | undefined {
  return (env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/** The client address (trusted proxies' X-Forwarded-For honoured) for rate limits and audit rows. */
export function clientIpMiddleware(trusted: TrustedProxies): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const incoming = incomingOf(c.env);
    c.set('clientIp', incoming ? clientIp(incoming, trusted) : (c.req.header('x-test-client-ip') ?? 'unknown'));
    await next();
  };
}

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Host names (no port, lowercase) the brain answers to; undefined means any (dev with an empty allow-list). */
export function allowedHostSet(settings: Settings): ReadonlySet<string> | undefined {
  const hosts = new Set(settings.allowedHosts.map((host) => host.trim().toLowerCase()).filter(Boolean));
  if (hosts.size === 0 && settings.environment !== 'production') return undefined;
  // Production with nothing configured still accepts its own public URL's host rather than nothing at all,
  // and a loopback public URL (the embedded default) accepts every loopback spelling.
  const own = new URL(settings.publicUrl).hostname.toLowerCase();
  hosts.add(own);
  if (LOOPBACK_HOSTS.has(own)) for (const host of LOOPBACK_HOSTS) hosts.add(host);
  return hosts;
}

function hostnameOf(hostHeader: string): string {
  const trimmed = hostHeader.trim().toLowerCase();
  if (trimmed.startsWith('[')) return trimmed.slice(0, trimmed.indexOf(']') + 1);
  const colon = trimmed.lastIndexOf(':');
  return colon === -1 ? trimmed : trimmed.slice(0, colon);
}

/**
 * `Z4J_ALLOWED_HOSTS`: a request whose Host is not on the list is refused
 * (DNS-rebinding and cache-poisoning defence). Health probes are served by
 * the runtime before this runs, so kubelets probing by pod IP still pass.
 */
export function hostCheck(allowed: ReadonlySet<string> | undefined): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (allowed) {
      const host = hostnameOf(c.req.header('host') ?? new URL(c.req.url).host);
      if (!allowed.has(host))
        throw new AppError('HOST_NOT_ALLOWED', `host ${JSON.stringify(host.slice(0, 100))} is not in Z4J_ALLOWED_HOSTS`, { status: 400 });
    }
    await next();
  };
}

/** Whether the request reached us over HTTPS: directly, or per X-Forwarded-Proto from a trusted proxy. */
export function isHttpsRequest(
  c: { env: unknown; req: { header(name: string): string | undefined; url: string } },
  trusted: TrustedProxies,
): boolean {
  const incoming = incomingOf(c.env);
  if (incoming && (incoming.socket as { encrypted?: boolean }).encrypted) return true;
  const peer = incoming?.socket.remoteAddress;
  if (peer && trusted.contains(peer)) return c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
  return new URL(c.req.url).protocol === 'https:';
}

export interface HardeningOptions {
  readonly settings: Settings;
  /** Path patterns the API owns (`/api/v1/*`, `/setup`). */
  readonly paths: readonly string[];
}

/**
 * The HTTP hardening every API and page route gets: client IP, Host allow-list, CORS
 * (`Z4J_CORS_*`, preflights answered before auth), body cap (`Z4J_MAX_PAYLOAD_SIZE_BYTES` → 413),
 * request timeout (`Z4J_REQUEST_TIMEOUT_SECONDS`), and HSTS in production over HTTPS.
 */
export function applyHardening(app: Hono<ApiEnv>, options: HardeningOptions): void {
  const { settings } = options;
  const trusted = createTrustedProxies(settings.trustedProxies);
  const allowed = allowedHostSet(settings);
  const origins = settings.corsOrigins;
  for (const path of options.paths) {
    app.use(path, clientIpMiddleware(trusted));
    app.use(path, hostCheck(allowed));
    if (origins.length > 0) {
      app.use(
        path,
        cors({
          origin: (origin) => (origins.includes(origin) ? origin : null),
          credentials: settings.corsAllowCredentials,
          allowHeaders: ['Content-Type', 'Authorization', 'X-CSRF-Token', 'X-Request-Id'],
          allowMethods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
          exposeHeaders: ['X-Request-Id'],
          maxAge: 600,
        }),
      );
    }
    app.use(
      path,
      bodyLimit({
        maxSize: settings.maxPayloadSizeBytes,
        onError: () => {
          throw new AppError(
            'PAYLOAD_TOO_LARGE',
            `request body is larger than ${settings.maxPayloadSizeBytes} bytes (Z4J_MAX_PAYLOAD_SIZE_BYTES)`,
            {
              status: 413,
            },
          );
        },
      }),
    );
    app.use(
      path,
      timeout(
        settings.requestTimeoutSeconds * 1000,
        () =>
          new HTTPException(503, { message: `request took longer than ${settings.requestTimeoutSeconds} s (Z4J_REQUEST_TIMEOUT_SECONDS)` }),
      ),
    );
    app.use(path, async (c, next) => {
      await next();
      if (settings.environment === 'production' && settings.hstsMaxAgeSeconds > 0 && isHttpsRequest(c, trusted)) {
        c.header(
          'Strict-Transport-Security',
          `max-age=${settings.hstsMaxAgeSeconds}${settings.hstsIncludeSubdomains ? '; includeSubDomains' : ''}`,
        );
      }
      c.header('Cache-Control', c.res.headers.get('Cache-Control') ?? 'no-store');
    });
  }
}

/** Security headers for HTML pages (setup form, later the dashboard): strict CSP, no framing, no sniffing. */
export function pageSecurityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
      baseUri: ["'none'"],
      objectSrc: ["'none'"],
    },
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    strictTransportSecurity: false,
  });
}
