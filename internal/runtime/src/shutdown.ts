import type { Logger } from '@z4j/logger';

export interface ShutdownOptions {
  /** Stops taking work and finishes in-flight work. */
  readonly drain: () => Promise<void>;
  readonly exit: (code: number) => void;
  readonly logger: Logger;
  /** Past this, the drain is abandoned and the process exits 1. */
  readonly timeoutMs: number;
}

/**
 * Returns the handler main.ts wires to SIGTERM/SIGINT. First signal: drain,
 * then exit 0 (or 1 if the drain failed or overran). Second signal while
 * draining: exit 1 at once — the operator asked twice.
 */
export function createShutdownHandler(options: ShutdownOptions): (signal: string) => void {
  let draining = false;
  return (signal) => {
    if (draining) {
      options.logger.warn({ signal }, 'lifecycle:shutdown:forced');
      options.exit(1);
      return;
    }
    draining = true;
    options.logger.info({ signal }, 'lifecycle:shutdown:draining');
    const timer = setTimeout(() => {
      options.logger.error({ timeoutMs: options.timeoutMs }, 'lifecycle:shutdown:timeout');
      options.exit(1);
    }, options.timeoutMs);
    timer.unref();
    options.drain().then(
      () => {
        clearTimeout(timer);
        options.logger.info('lifecycle:shutdown:done');
        options.exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        options.logger.error({ err: error }, 'lifecycle:shutdown:failed');
        options.exit(1);
      },
    );
  };
}
