import { Counter, type Registry } from 'prom-client';
import type { NotifierMetrics } from '@z4j/db';

const REBUILDS = 'z4j_registry_listener_rebuilds_total';

/** The LISTEN watchdog's series on the process registry (`@z4j/db` itself has no metrics dependency). */
export function createNotifierMetrics(registry: Registry): NotifierMetrics {
  const existing = registry.getSingleMetric(REBUILDS);
  const listenerRebuilds =
    existing instanceof Counter
      ? (existing as Counter<'reason'>)
      : new Counter({
          name: REBUILDS,
          help: 'Times the LISTEN connection was replaced, by reason (connection_lost, heartbeat_timeout, max_age, listen_failed)',
          labelNames: ['reason'] as const,
          registers: [registry],
        });
  return { listenerRebuilds };
}
