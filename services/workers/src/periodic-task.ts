import type { Logger } from '@z4j/logger';

export interface PeriodicTaskOptions {
  readonly name: string;
  readonly intervalMs: number;
  readonly run: () => Promise<void>;
  readonly logger: Logger;
  /** Run once right away instead of waiting a whole interval. */
  readonly runImmediately?: boolean;
  /** Cap on the backoff after consecutive failures. */
  readonly maxBackoffMs?: number;
}

export interface PeriodicTask {
  start(): void;
  /** Cancels the next tick and waits for a running tick to finish. */
  stop(): Promise<void>;
  /** Runs one tick now (tests, manual triggers); serialised with the timer. */
  runOnce(): Promise<void>;
}

/**
 * A background loop that survives its own failures: a failed tick is logged
 * and retried with doubling backoff (capped), a successful tick resets the
 * cadence. Ticks never overlap.
 *
 * States: idle → scheduled → running → scheduled … → stopped.
 */
export function createPeriodicTask(options: PeriodicTaskOptions): PeriodicTask {
  const maxBackoffMs = options.maxBackoffMs ?? Math.max(options.intervalMs, 60_000);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;

  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => void tick(), delayMs);
    timer.unref();
  };

  const runOnce = (): Promise<void> => {
    running ??= (async () => {
      try {
        await options.run();
        failures = 0;
      } catch (error) {
        failures += 1;
        options.logger.error({ err: error, task: options.name, failures }, 'workers:task:failed');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const tick = async () => {
    await runOnce();
    const backoff = failures === 0 ? options.intervalMs : Math.min(maxBackoffMs, options.intervalMs * 2 ** Math.min(failures, 10));
    schedule(backoff);
  };

  return {
    start() {
      stopped = false;
      schedule(options.runImmediately ? 0 : options.intervalMs);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}
