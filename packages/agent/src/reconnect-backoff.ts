/**
 * Why a connection attempt or session ended, for choosing the wait before the next one:
 * - `connection`: network errors, brain restarts, idle timeouts, displacement — retry soon;
 * - `protocol`: the brain refused what we sent (4400, 4426) or throttled us (4429), or its hello_ack was invalid —
 *   retrying fast cannot help;
 * - `auth`: bad or revoked token (4401, HTTP 401/403) or a signature failure in either direction (4403) — usually
 *   needs an operator, so waits are longest.
 *
 * @example
 * const kind: FailureKind = classifyClose(4401); // 'auth'
 */
export type FailureKind = 'connection' | 'protocol' | 'auth';

/**
 * Maps a WebSocket close code (or an HTTP status of a refused upgrade) to a {@link FailureKind}.
 *
 * @example
 * classifyClose(1006) // 'connection'
 * classifyClose(4426) // 'protocol'
 */
export function classifyClose(code: number): FailureKind {
  switch (code) {
    case 4401:
    case 4403:
    case 401:
    case 403:
      return 'auth';
    case 4400:
    case 4426:
    case 4429:
    case 400:
    case 426:
    case 429:
      return 'protocol';
    default:
      return 'connection';
  }
}

/**
 * One backoff curve: the ceiling doubles from `baseMs` per failure up to `maxMs`; the delay is drawn uniformly
 * between `floorMs` and the ceiling ("full jitter", so a fleet of agents reconnecting after a brain restart spreads
 * out instead of arriving together).
 *
 * @example
 * const policy: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000, floorMs: 0 };
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** Shortest possible delay. 0 for connection errors; the base for auth/protocol so a rejected agent never hammers. */
  readonly floorMs: number;
}

/**
 * The three curves. Connection errors: 1 s doubling to `reconnectBackoffMax` (default 60 s), no floor. Protocol
 * errors: 5 s doubling to 5 min (at least 5 s). Auth errors: 10 s doubling to 10 min (at least 10 s), as the Python
 * agent's 10 → 600 s. The rejected curves never go below the connection cap.
 *
 * @example
 * backoffPolicies(60).auth // { baseMs: 10_000, maxMs: 600_000, floorMs: 10_000 }
 */
export function backoffPolicies(reconnectBackoffMaxSeconds: number): Readonly<Record<FailureKind, BackoffPolicy>> {
  const connectionMax = reconnectBackoffMaxSeconds * 1000;
  return {
    connection: { baseMs: Math.min(1_000, connectionMax), maxMs: connectionMax, floorMs: 0 },
    protocol: { baseMs: 5_000, maxMs: Math.max(300_000, connectionMax), floorMs: 5_000 },
    auth: { baseMs: 10_000, maxMs: Math.max(600_000, connectionMax), floorMs: 10_000 },
  };
}

/**
 * The delay before retry number `attempt` (0 = the first retry after a failure) under `policy`.
 * `random` returns [0, 1); inject it for deterministic tests.
 *
 * @example
 * backoffDelayMs({ baseMs: 1000, maxMs: 60_000, floorMs: 0 }, 3, Math.random) // somewhere in [0, 8000)
 */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number): number {
  // 2 ** attempt overflows to Infinity long after the cap; min() keeps it finite.
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt));
  const floor = Math.min(policy.floorMs, ceiling);
  return Math.floor(floor + random() * (ceiling - floor));
}

/**
 * Failure streaks per kind (also reported in `agent_status`) and the delay they imply. A failure of one kind counts
 * up that kind's streak; {@link ReconnectBackoff.succeeded} clears all three.
 *
 * @example
 * const backoff = new ReconnectBackoff(backoffPolicies(60), Math.random);
 * const waitMs = backoff.failed('connection'); // 0–1000 ms the first time
 */
export class ReconnectBackoff {
  readonly #streaks: Record<FailureKind, number> = { connection: 0, protocol: 0, auth: 0 };

  constructor(
    private readonly policies: Readonly<Record<FailureKind, BackoffPolicy>>,
    private readonly random: () => number,
  ) {}

  /** Records a failure and returns how long to wait before the next attempt, ms. */
  failed(kind: FailureKind): number {
    const attempt = this.#streaks[kind];
    this.#streaks[kind] = attempt + 1;
    return backoffDelayMs(this.policies[kind], attempt, this.random);
  }

  /** A session proved healthy: the next failure starts each curve from the bottom again. */
  succeeded(): void {
    this.#streaks.connection = 0;
    this.#streaks.protocol = 0;
    this.#streaks.auth = 0;
  }

  /** Current consecutive failures of each kind. */
  get streaks(): Readonly<Record<FailureKind, number>> {
    return { ...this.#streaks };
  }
}
