import { Worker } from 'node:worker_threads';
import type { WorkerInit } from './worker-protocol.js';

/**
 * Starts the worker next to this file: `pglite-worker.js` from dist, or
 * `pglite-worker.ts` when this module itself runs from source (vitest, tsx).
 *
 * A worker thread does not inherit vitest's transform, and on Node 20 neither
 * `--import tsx` in the worker's execArgv nor tsx's `register()` makes a worker
 * load .ts (both fail: "Unknown file extension" / "require() ES Module in a
 * cycle"). tsx's `tsImport()` does, so from source a two-line eval bootstrap
 * imports the worker through it. tsx is resolved from this file, not the cwd,
 * and only from source: it is a devDependency and dist never touches it.
 */
export function spawnPGliteWorker(init: WorkerInit): Worker {
  const fromSource = new URL(import.meta.url).pathname.endsWith('.ts');
  const script = new URL(fromSource ? './pglite-worker.ts' : './pglite-worker.js', import.meta.url);
  if (!fromSource) return new Worker(script, { workerData: init });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => tsx.tsImport(${JSON.stringify(script.href)}, ${JSON.stringify(script.href)}));`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}
