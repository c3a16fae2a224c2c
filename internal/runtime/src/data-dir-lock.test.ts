import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireDataDirLock } from './data-dir-lock.js';

describe('acquireDataDirLock', () => {
  it('refuses a second owner while the first is alive and frees the lock on release', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'z4j-lock-')), 'data.lock');
    const lock = acquireDataDirLock(path);
    expect(readFileSync(path, 'utf8')).toBe(String(process.pid));
    // A live process other than us (our parent) holding the lock:
    writeFileSync(path, String(process.ppid));
    expect(() => acquireDataDirLock(path)).toThrow(/another z4j process/);
    writeFileSync(path, String(process.pid));
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a lock left behind by a process that no longer exists', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'z4j-lock-')), 'data.lock');
    writeFileSync(path, '999999999');
    const lock = acquireDataDirLock(path);
    expect(readFileSync(path, 'utf8')).toBe(String(process.pid));
    lock.release();
  });
});
