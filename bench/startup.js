// `npm run bench:startup`: embedded cold start (fresh $Z4J_HOME: initdb, secrets, migrations)
// and warm restart (same home) of `z4j serve`, from process spawn to /api/v1/health/ready = 200.
// Baselines measured in the same run: a bare `node` start and a direct PGlite reopen.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'cli/bin/z4j.js');
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 5);

function waitForListenUrl(child) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk) => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        if (!line.includes('lifecycle:ready')) continue;
        try {
          resolve(JSON.parse(line).url);
          child.stdout.off('data', onData);
        } catch {
          // partial line; wait for more
        }
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`z4j serve exited with ${code} before it was ready`)));
  });
}

async function pollReady(url, deadline) {
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/api/v1/health/ready`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('not ready before the deadline');
}

async function timeServe(home) {
  const started = performance.now();
  const child = spawn(process.execPath, [bin, 'serve', '--host', '127.0.0.1', '--port', '0'], {
    env: { ...process.env, Z4J_HOME: home, Z4J_DATABASE_URL: '', Z4J_LOG_LEVEL: 'info', Z4J_LOG_JSON: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  try {
    const url = await waitForListenUrl(child);
    await pollReady(url, Date.now() + 60_000);
    return performance.now() - started;
  } catch (error) {
    throw new Error(`${error.message}\n${stderr}`, { cause: error });
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

async function timeBareNode() {
  const started = performance.now();
  await new Promise((resolve) => spawn(process.execPath, ['-e', ''], { stdio: 'ignore' }).once('exit', resolve));
  return performance.now() - started;
}

async function timePgliteReopen(dataDir) {
  const { PGlite } = await import('@electric-sql/pglite');
  const first = await PGlite.create({ dataDir });
  await first.close();
  const started = performance.now();
  const again = await PGlite.create({ dataDir });
  await again.query('select 1');
  const elapsed = performance.now() - started;
  await again.close();
  return elapsed;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (ms) => `${ms.toFixed(0)} ms`;

const home = mkdtempSync(join(tmpdir(), 'z4j-bench-startup-'));
const scratch = mkdtempSync(join(tmpdir(), 'z4j-bench-pglite-'));
try {
  const bareNode = median(await Promise.all([timeBareNode(), timeBareNode(), timeBareNode()]));
  const pgliteReopen = await timePgliteReopen(join(scratch, 'data'));
  const cold = await timeServe(home);
  const warm = [];
  for (let i = 0; i < WARM_RUNS; i += 1) warm.push(await timeServe(home));
  const warmMedian = median(warm);
  console.log('startup (embedded database, spawn → /api/v1/health/ready 200)');
  console.log(`  cold start (new $Z4J_HOME)   ${fmt(cold)}`);
  console.log(`  warm restart (median of ${WARM_RUNS})  ${fmt(warmMedian)}   [${warm.map(fmt).join(', ')}]   goal < 3000 ms`);
  console.log('baselines (same run)');
  console.log(`  bare node start→exit         ${fmt(bareNode)}`);
  console.log(`  PGlite reopen (in-process)   ${fmt(pgliteReopen)}`);
  console.log('ratios');
  console.log(`  warm / (node + PGlite reopen) = ${(warmMedian / (bareNode + pgliteReopen)).toFixed(2)}x`);
  console.log(`  cold / warm                   = ${(cold / warmMedian).toFixed(2)}x`);
} finally {
  rmSync(home, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}
