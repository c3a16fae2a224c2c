import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI: these tests exercise the real `z4j` process, exactly as an operator runs it. */
export const Z4J_BIN = fileURLToPath(new URL('../bin/z4j.js', import.meta.url));
const BUILT_ENTRY = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(BUILT_ENTRY)) throw new Error('cli/dist is missing: run "npm run build" before the CLI tests (npm test does)');
}

export interface ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  stdout(): string;
  stderr(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Base environment: nothing from the developer's own Z4J_* variables leaks into a test brain. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('Z4J_') && key !== 'CI') env[key] = value;
  return { ...env, Z4J_LOG_JSON: 'true', Z4J_LOG_LEVEL: 'info', ...extra };
}

/** Starts `z4j serve …` on an ephemeral loopback port and resolves once it logged `lifecycle:ready` (or `:listening`). */
export async function startServe(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  waitFor: 'ready' | 'listening' = 'ready',
): Promise<ServeProcess> {
  assertBuilt();
  const child = spawn(process.execPath, [Z4J_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { env, cwd });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`z4j serve was not ready within 60 s\nstdout:\n${out}\nstderr:\n${err}`)), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      for (const line of out.split('\n')) {
        if (!line.includes(`"lifecycle:${waitFor}"`)) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`z4j serve exited with ${code} before it was ready\nstdout:\n${out}\nstderr:\n${err}`));
    });
  });
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    stop: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs a one-shot `z4j …` command to completion. */
export function runZ4j(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [Z4J_BIN, ...args], { env, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
