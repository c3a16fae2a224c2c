// A brain for the benchmarks: `z4j serve` as its own process (so its CPU and memory are its own), on a fresh
// Z4J_HOME, listening on an ephemeral loopback port; resolves once it reports ready.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../cli/bin/z4j.js', import.meta.url));

/** Brains started by this bench process: a bench stopped by a signal (Ctrl-C, `timeout`) must not leave them running. */
const running = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of running) child.kill('SIGTERM');
    process.exit(130);
  });
}

/**
 * @param {{ databaseUrl: string, secret: string, services: string, env?: Record<string, string>, nodeArgs?: string[], port?: number }} options
 * @returns {Promise<{ url: string, pid: number, metric(name: string): Promise<number>, stop(): Promise<void> }>}
 */
export async function startBrainProcess({ databaseUrl, secret, services, env = {}, nodeArgs = [], port = 0 }) {
  const home = mkdtempSync(join(tmpdir(), 'z4j-bench-'));
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', '--only', services, '--host', '127.0.0.1', '--port', String(port)], {
    env: {
      ...process.env,
      Z4J_HOME: home,
      Z4J_DATABASE_URL: databaseUrl,
      Z4J_SECRET: secret,
      Z4J_SESSION_SECRET: secret,
      Z4J_PUBLIC_URL: 'http://127.0.0.1:7700',
      Z4J_METRICS_PUBLIC: 'true',
      // info: the listening line carries the port.
      Z4J_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.includes('"lifecycle:listening"'));
      if (line) {
        child.stdout.off('data', onData);
        // Keep draining the child's logs; BENCH_BRAIN_LOG=<file> keeps them (appended) to see why a request failed.
        if (process.env.BENCH_BRAIN_LOG) child.stdout.pipe(createWriteStream(process.env.BENCH_BRAIN_LOG, { flags: 'a' }));
        else child.stdout.resume();
        resolve(JSON.parse(line).url);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`brain (${services}) exited with ${code}`)));
  });
  // lifecycle:listening comes before ready; wait for readiness.
  for (let attempt = 0; attempt < 600; attempt += 1) {
    if ((await fetch(`${url}/api/v1/health/ready`)).status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    pid: child.pid,
    async metric(name) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
      return match ? Number(match[1]) : NaN;
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(home, { recursive: true, force: true });
    },
  };
}
