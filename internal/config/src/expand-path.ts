import { isAbsolute, resolve } from 'node:path';

/** Where `~` and relative paths are anchored; injected so parsing stays pure and testable. */
export interface PathContext {
  /** The user's home directory, for `~` (os.homedir() in production). */
  readonly homeDir: string;
  /** The directory relative paths are resolved against (the process cwd in production). */
  readonly cwd: string;
}

/**
 * `~` and `~/x` become absolute under the home directory; relative paths are
 * made absolute once, at config time, so a later chdir cannot move them.
 */
export function expandPath(raw: string, context: PathContext): string {
  const expanded = raw === '~' ? context.homeDir : raw.startsWith('~/') ? resolve(context.homeDir, raw.slice(2)) : raw;
  return isAbsolute(expanded) ? resolve(expanded) : resolve(context.cwd, expanded);
}
