/**
 * Per-project event rate limit (`Z4J_RATELIMIT_EVENTS_PER_SECOND`): a token
 * bucket per project that holds one second of events and refills at the rate.
 *
 * A project over its rate is DELAYED, never dropped. Dropping would mean
 * either acking events we did not store (the agent then deletes them from its
 * buffer: silent loss) or not acking them (the agent re-sends the same frame in
 * a tight loop, §1.15, which costs more than storing it). Delaying the
 * submit's promise instead holds back the ack, so the gateway's per-session
 * in-flight bound fills, it stops reading that agent's socket, and the
 * agent's own writes block: the agent slows down to the rate and keeps its
 * events buffered meanwhile.
 *
 * Reservations go into debt: a batch larger than what is left takes the tokens
 * anyway and waits until the debt is repaid, so batches of one project are
 * admitted in arrival order, and a batch bigger than the bucket still passes.
 */

export interface ProjectRateLimiterOptions {
  /** Events per second per project; 0 or Infinity disables the limit. */
  readonly eventsPerSecond: number;
  /** Wall clock, milliseconds. */
  readonly now: () => number;
  /** How to wait; resolves early when `signal` aborts (on close). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Buckets kept before full (idle) ones are swept. */
const SWEEP_THRESHOLD = 10_000;

export class ProjectRateLimiter {
  readonly #rate: number;
  readonly #capacity: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #buckets = new Map<string, Bucket>();
  readonly #abort = new AbortController();
  #delayedMs = 0;

  constructor(options: ProjectRateLimiterOptions) {
    this.#rate = options.eventsPerSecond;
    this.#capacity = options.eventsPerSecond;
    this.#now = options.now;
    this.#sleep = options.sleep ?? abortableSleep;
  }

  get enabled(): boolean {
    return this.#rate > 0 && Number.isFinite(this.#rate);
  }

  /** Total time submits were held back, for tests and logs. */
  get delayedMs(): number {
    return this.#delayedMs;
  }

  /**
   * Takes `events` tokens from the project's bucket. Returns undefined when
   * they were there, else a promise that resolves once the debt is repaid (or
   * at once after {@link release}).
   */
  acquire(projectId: string, events: number): Promise<void> | undefined {
    if (!this.enabled || events <= 0 || this.#abort.signal.aborted) return undefined;
    const now = this.#now();
    let bucket = this.#buckets.get(projectId);
    if (!bucket) {
      if (this.#buckets.size >= SWEEP_THRESHOLD) this.#sweep(now);
      bucket = { tokens: this.#capacity, updatedAt: now };
      this.#buckets.set(projectId, bucket);
    }
    bucket.tokens = Math.min(this.#capacity, bucket.tokens + ((now - bucket.updatedAt) * this.#rate) / 1000);
    bucket.updatedAt = now;
    bucket.tokens -= events;
    if (bucket.tokens >= 0) return undefined;
    const waitMs = Math.ceil((-bucket.tokens * 1000) / this.#rate);
    this.#delayedMs += waitMs;
    return this.#sleep(waitMs, this.#abort.signal);
  }

  /** Lets every waiting and future acquire through at once (shutdown drains instead of waiting). */
  release(): void {
    this.#abort.abort();
  }

  #sweep(now: number): void {
    for (const [projectId, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) * this.#rate) / 1000 >= this.#capacity) this.#buckets.delete(projectId);
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
