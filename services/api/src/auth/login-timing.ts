import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { loginFailureDelaySeconds, type LoginBackoffSettings } from '@z4j/identity';

/**
 * How long a login answer is held back (§7 "Login"), so neither timing nor
 * the reply tells an attacker whether an account exists or how close it is
 * to lockout:
 *
 * - a failure first waits the per-failure backoff of the account's failure
 *   count (`Z4J_LOGIN_BACKOFF_BASE_SECONDS` × 2^count, capped by
 *   `Z4J_LOGIN_BACKOFF_MAX_SECONDS`); an email that matches no account backs
 *   off on a per-email count kept in memory ({@link createUnknownEmailFailures});
 * - then every answer, success or failure, is padded to at least
 *   `Z4J_LOGIN_MIN_DURATION_MS` since the request started.
 *
 * Both waits run on the real monotonic clock (`performance.now()`): they are
 * about wall time an attacker can measure, not business time, so the
 * injected clock is not used here.
 */

/** The per-failure backoff in milliseconds for an account's `failedCount`-th failure in a row. */
export function loginFailureDelayMs(failedCount: number, settings: LoginBackoffSettings): number {
  return Math.ceil(loginFailureDelaySeconds(failedCount, settings) * 1000);
}

/**
 * Resolves once at least `minMs` of monotonic time have passed since
 * `startedAt` (a `performance.now()` reading). It loops because a timer can
 * fire a fraction of a millisecond before its nominal time; the floor is
 * therefore guaranteed, not approximated.
 */
export async function waitUntilElapsed(startedAt: number, minMs: number): Promise<void> {
  for (let remaining = minMs - (performance.now() - startedAt); remaining > 0; remaining = minMs - (performance.now() - startedAt)) {
    await sleep(Math.ceil(remaining));
  }
}

/** Per-email failure counts for emails that match no account (see {@link createUnknownEmailFailures}). */
export interface UnknownEmailFailures {
  /** Counts one more failure for `email` at `nowMs` and returns the count including it. */
  record(email: string, nowMs: number): number;
  size(): number;
}

export interface UnknownEmailFailuresOptions {
  /** A count older than this is forgotten (the lockout duration: a real account's count restarts then too). */
  readonly resetAfterMs: number;
  /** At most this many emails are tracked; the least recently failed are dropped first. */
  readonly maxKeys?: number;
}

/**
 * A real account's backoff grows with its stored failure count; without a
 * matching count for unknown emails, the second failure for an unknown email
 * would answer faster than for a real one and reveal which accounts exist.
 * Kept per process and bounded, so it cannot grow without limit.
 */
export function createUnknownEmailFailures(options: UnknownEmailFailuresOptions): UnknownEmailFailures {
  const maxKeys = options.maxKeys ?? 10_000;
  const counts = new Map<string, { count: number; at: number }>();
  return {
    record(email, nowMs) {
      const previous = counts.get(email);
      const count = previous && nowMs - previous.at < options.resetAfterMs ? previous.count + 1 : 1;
      // Re-inserted so Map order doubles as least-recently-failed order.
      counts.delete(email);
      counts.set(email, { count, at: nowMs });
      while (counts.size > maxKeys) counts.delete(counts.keys().next().value as string);
      return count;
    },
    size: () => counts.size,
  };
}
