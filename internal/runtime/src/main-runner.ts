import { isAppError } from '@z4j/errors';
import { bootBrain, type ServiceFactory } from './boot.js';
import type { ServiceName } from './service.js';
import { createShutdownHandler } from './shutdown.js';

/** The slice of `process` a brain main needs; passed in so this module has no ambient side effects. */
export interface MainProcess {
  readonly env: NodeJS.ProcessEnv;
  cwd(): string;
  exit(code: number): never;
  once(signal: 'SIGTERM' | 'SIGINT', listener: (signal: string) => void): unknown;
  on(signal: 'SIGTERM' | 'SIGINT', listener: (signal: string) => void): unknown;
  readonly stderr: { write(chunk: string): unknown };
}

export interface RunBrainMainOptions {
  readonly services: ReadonlyArray<readonly [ServiceName, ServiceFactory]>;
  /** Overrides applied on top of the process environment (CLI flags). */
  readonly envOverrides?: Readonly<Record<string, string>>;
  readonly shutdownTimeoutMs?: number;
}

/**
 * Boots, then drains on SIGTERM/SIGINT (a second signal forces exit).
 * A start-up failure prints one line naming what was wrong and exits 2 for
 * bad configuration, 1 otherwise.
 */
export async function runBrainMain(proc: MainProcess, options: RunBrainMainOptions): Promise<void> {
  let brain;
  try {
    brain = await bootBrain({
      env: { ...proc.env, ...options.envOverrides },
      cwd: proc.cwd(),
      services: options.services,
      printLine: (line) => proc.stderr.write(`${line}\n`),
    });
  } catch (error) {
    proc.stderr.write(`z4j: ${describeStartupError(error)}\n`);
    proc.exit(isConfigError(error) ? 2 : 1);
  }
  const onSignal = createShutdownHandler({
    drain: () => brain.drain(),
    exit: (code) => proc.exit(code),
    logger: brain.logger,
    timeoutMs: options.shutdownTimeoutMs ?? 30_000,
  });
  proc.on('SIGTERM', onSignal);
  proc.on('SIGINT', onSignal);
  try {
    await brain.ready;
  } catch (error) {
    // A service that cannot start leaves nothing worth keeping up.
    proc.stderr.write(`z4j: ${describeStartupError(error)}\n`);
    await brain.drain().catch(() => undefined);
    proc.exit(1);
  }
}

function isConfigError(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'ConfigError' || (isAppError(error) && error.code.startsWith('CONFIG'));
}

export function describeStartupError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}
