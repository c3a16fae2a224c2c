/**
 * Readiness as Kubernetes sees it through `/api/v1/health/ready`.
 *
 * States: starting → ready ⇄ (database check fails) → draining (final).
 * `ready` still pings the database on each probe (at most once per
 * `cacheMs`), because "migrated once" does not mean "reachable now".
 */
export type ReadinessResult = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export interface ReadinessOptions {
  /** Throws when the database does not answer. */
  readonly ping: () => Promise<void>;
  readonly pingTimeoutMs?: number;
  readonly cacheMs?: number;
  readonly now?: () => number;
}

export interface Readiness {
  check(): Promise<ReadinessResult>;
  markReady(): void;
  markUnready(reason: string): void;
  markDraining(): void;
}

export function createReadiness(options: ReadinessOptions): Readiness {
  const now = options.now ?? Date.now;
  const pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  const cacheMs = options.cacheMs ?? 1_000;
  let phase: { state: 'starting' | 'ready' | 'draining' } | { state: 'unready'; reason: string } = { state: 'starting' };
  let lastPing: { at: number; ok: boolean } | undefined;
  let inFlight: Promise<boolean> | undefined;

  async function pingDatabase(): Promise<boolean> {
    if (lastPing && now() - lastPing.at < cacheMs) return lastPing.ok;
    inFlight ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          options.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('ping timed out')), pingTimeoutMs);
          }),
        ]);
        return true;
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    })().then((ok) => {
      lastPing = { at: now(), ok };
      inFlight = undefined;
      return ok;
    });
    return inFlight;
  }

  return {
    async check() {
      if (phase.state === 'starting') return { ready: false, reason: 'starting' };
      if (phase.state === 'draining') return { ready: false, reason: 'draining' };
      if (phase.state === 'unready') return { ready: false, reason: phase.reason };
      return (await pingDatabase()) ? { ready: true } : { ready: false, reason: 'database' };
    },
    markReady() {
      if (phase.state !== 'draining') phase = { state: 'ready' };
    },
    markUnready(reason) {
      if (phase.state !== 'draining') phase = { state: 'unready', reason };
    },
    markDraining() {
      phase = { state: 'draining' };
    },
  };
}
