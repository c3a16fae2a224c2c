import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { AppError } from '@z4j/errors';

/**
 * PGlite gives one process exclusive use of its data directory; a second
 * `z4j serve` on the same `$Z4J_HOME` would corrupt it. The lock file holds
 * the owner's pid; a lock left by a process that no longer exists is taken over.
 */
export interface DataDirLock {
  release(): void;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireDataDirLock(lockPath: string, pid: number = process.pid): DataDirLock {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(pid));
      closeSync(fd);
      return {
        release: () => {
          try {
            if (readFileSync(lockPath, 'utf8').trim() === String(pid)) rmSync(lockPath);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
      if (Number.isInteger(owner) && owner !== pid && processIsAlive(owner)) {
        throw new AppError(
          'DATA_DIR_LOCKED',
          `another z4j process (pid ${owner}) is using the embedded database at ${lockPath.replace(/\.lock$/, '')}; stop it first or set Z4J_HOME to another directory`,
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new AppError('DATA_DIR_LOCKED', `could not take the embedded database lock ${lockPath}`);
}
