import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hono } from 'hono';

/** The five deployables. `z4j serve` runs all of them in one process. */
export const SERVICE_NAMES = ['gateway', 'ingest', 'api', 'workers', 'scheduler-bridge'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * What a service hands to the process that hosts it. Services never listen on
 * a port themselves: the host owns the one HTTP listener, mounts their routes
 * and routes WebSocket upgrades to them by path, so the same service runs
 * alone (its own main.ts) or beside the others (`z4j serve`).
 *
 * Lifecycle: created (no side effects) → start() (timers, loops, listeners)
 * → drain() (stop taking new work, finish in-flight work) → gone.
 */
export interface BrainService {
  readonly name: ServiceName;
  /** Adds this service's HTTP routes to the shared app. */
  mount?(app: Hono): void;
  /** WebSocket paths this service accepts, e.g. `/ws/agent`. */
  readonly upgrades?: Readonly<Record<string, UpgradeHandler>>;
  start?(): Promise<void>;
  drain?(): Promise<void>;
}
