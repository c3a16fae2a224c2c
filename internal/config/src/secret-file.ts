import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readDotenvFile, upsertDotenv } from './dotenv-file.js';
import { LAYER_ORDER, type ConfigLayers } from './resolve-config.js';
import { variableSpec, type VariableName } from './settings-schema.js';

/** secret.env holds keys that forge sessions and agent frames: owner-only. */
const SECRET_FILE_MODE = 0o600;
const HOME_MODE = 0o700;

/** What `z4j serve` mints on the embedded database, in this order. */
const MINTABLE = ['Z4J_SECRET', 'Z4J_SESSION_SECRET', 'Z4J_METRICS_AUTH_TOKEN'] as const satisfies readonly VariableName[];

export function secretFilePath(home: string): string {
  return join(home, 'secret.env');
}

/** 48 random bytes as base64url: 64 characters, ≥32 bytes, safe unquoted in a dotenv file. */
export function mintSecret(): string {
  return randomBytes(48).toString('base64url');
}

function isProvided(layers: Partial<ConfigLayers>, name: VariableName): boolean {
  const names = [name, ...(variableSpec(name).aliases ?? [])];
  return LAYER_ORDER.some(([key]) => names.some((candidate) => (layers[key]?.[candidate] ?? '').trim() !== ''));
}

/**
 * Replaces a file so readers see the old or the new content, never half of
 * each: write a 0600 temp file beside it, fsync, rename over. The directory is
 * fsynced too, or a crash could lose the rename and the next boot would mint
 * different secrets (breaking every agent's HMAC).
 */
function writeFileAtomic(file: string, content: string): void {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', SECRET_FILE_MODE);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(temp, SECRET_FILE_MODE); // the umask can only remove bits, but be explicit
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  try {
    const dir = openSync(join(file, '..'), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Directory fsync is unsupported on some platforms; the rename itself already happened.
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** Sets keys in secret.env (creating home and file as needed), keeping every other line. */
function writeSecrets(home: string, values: Readonly<Record<string, string>>): void {
  mkdirSync(home, { recursive: true, mode: HOME_MODE });
  const file = secretFilePath(home);
  writeFileAtomic(file, upsertDotenv(readText(file), values, file));
}

export interface EnsureEmbeddedSecretsOptions {
  readonly home: string;
  /** The layers as read; a secret any layer provides (under any alias) is never minted. */
  readonly layers: Partial<ConfigLayers>;
  /** Mint `Z4J_METRICS_AUTH_TOKEN` too; false when /metrics is public. */
  readonly mintMetricsToken: boolean;
}

export interface EnsureEmbeddedSecretsResult {
  /** Names written to secret.env by this call; empty on every boot after the first. */
  readonly minted: string[];
}

/**
 * First-boot secret minting for the embedded database: generates the secrets
 * no layer provides and merges them into `$home/secret.env`, so a restart
 * reads the same values back and nothing is re-minted. Creates `home` (0700)
 * when missing and tightens an existing secret.env to 0600. Call it before
 * `resolveConfig`, then re-read the layers if anything was minted.
 */
export function ensureEmbeddedSecrets(options: EnsureEmbeddedSecretsOptions): EnsureEmbeddedSecretsResult {
  const { home, layers } = options;
  mkdirSync(home, { recursive: true, mode: HOME_MODE });
  const file = secretFilePath(home);
  // Read the file again rather than trusting layers.secretEnv: another process may have minted since.
  const onDisk = readDotenvFile(file);
  if (onDisk !== undefined) chmodSync(file, SECRET_FILE_MODE);

  const wanted = MINTABLE.filter((name) => name !== 'Z4J_METRICS_AUTH_TOKEN' || options.mintMetricsToken);
  const missing = wanted.filter((name) => !isProvided({ ...layers, secretEnv: { ...layers.secretEnv, ...onDisk } }, name));
  if (missing.length === 0) return { minted: [] };
  writeSecrets(home, Object.fromEntries(missing.map((name) => [name, mintSecret()])));
  return { minted: missing };
}

/** `z4j metrics-token rotate`: a fresh token in secret.env (other lines kept); returns it. Takes effect on restart. */
export function rotateMetricsToken(home: string): string {
  const token = mintSecret();
  writeSecrets(home, { Z4J_METRICS_AUTH_TOKEN: token });
  return token;
}

/** `z4j metrics-token show`: the parsed secret.env, or `{}` when there is none yet. */
export function readSecretFile(home: string): Record<string, string> {
  return readDotenvFile(secretFilePath(home)) ?? {};
}
