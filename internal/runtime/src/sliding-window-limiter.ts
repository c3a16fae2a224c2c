/**
 * A per-key sliding-window counter (the original's per-IP buckets): at most
 * `limit` hits per `windowMs` for each key. Memory is bounded: keys idle for
 * a whole window are forgotten, and at most `maxKeys` keys are tracked (the
 * oldest are dropped first, which errs on the side of letting a client in).
 */
export interface SlidingWindowLimiterOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxKeys?: number;
  readonly now?: () => number;
}

export interface SlidingWindowLimiter {
  /** Records a hit; false when the key is over its limit (the hit is not recorded then). */
  hit(key: string): boolean;
  size(): number;
}

export function createSlidingWindowLimiter(options: SlidingWindowLimiterOptions): SlidingWindowLimiter {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const hits = new Map<string, number[]>();
  return {
    hit(key) {
      const at = now();
      const cutoff = at - options.windowMs;
      let times = hits.get(key);
      if (times) {
        let expired = 0;
        while (expired < times.length && (times[expired] as number) <= cutoff) expired += 1;
        if (expired > 0) times.splice(0, expired);
        hits.delete(key); // re-inserted below: Map order doubles as LRU order
      } else {
        times = [];
      }
      const allowed = times.length < options.limit;
      if (allowed) times.push(at);
      if (times.length > 0) hits.set(key, times);
      while (hits.size > maxKeys) hits.delete(hits.keys().next().value as string);
      return allowed;
    },
    size: () => hits.size,
  };
}
