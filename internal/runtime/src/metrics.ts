import { timingSafeEqual, createHash } from 'node:crypto';
import type { Hono } from 'hono';
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface MetricsOptions {
  /** Bearer token `/metrics` requires; undefined with `isPublic=false` means every scrape is refused. */
  readonly authToken: string | undefined;
  readonly isPublic: boolean;
  /** Constant labels on every series, e.g. `{ service: 'ingest' }`. */
  readonly labels: Record<string, string>;
}

export interface MetricsEndpoint {
  readonly registry: Registry;
  mount(app: Hono): void;
}

/** Compares through fixed-length digests so neither content nor length leaks through timing. */
function tokensMatch(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * One Prometheus registry per process, served at `/metrics` behind
 * `Authorization: Bearer $Z4J_METRICS_AUTH_TOKEN` unless `Z4J_METRICS_PUBLIC`.
 */
export function createMetricsEndpoint(options: MetricsOptions): MetricsEndpoint {
  const registry = new Registry();
  registry.setDefaultLabels(options.labels);
  collectDefaultMetrics({ register: registry, prefix: 'z4j_process_' });
  return {
    registry,
    mount(app) {
      app.get('/metrics', async (c) => {
        if (!options.isPublic) {
          const header = c.req.header('authorization') ?? '';
          const match = /^bearer (.+)$/i.exec(header);
          if (!options.authToken || !match?.[1] || !tokensMatch(match[1], options.authToken)) {
            c.header('www-authenticate', 'Bearer realm="z4j-metrics"');
            return c.json(
              { error: 'unauthorized', message: 'metrics require Authorization: Bearer <Z4J_METRICS_AUTH_TOKEN>', request_id: null },
              401,
            );
          }
        }
        c.header('content-type', registry.contentType);
        return c.body(await registry.metrics());
      });
    },
  };
}
