import { homedir } from 'node:os';
import { join } from 'node:path';
import { readDotenvFile } from './dotenv-file.js';
import { expandPath } from './expand-path.js';
import type { ConfigLayers } from './resolve-config.js';

export interface ReadConfigLayersOptions {
  /** The process environment (with CLI overrides such as --port already applied). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where `./.env` is looked up. */
  readonly cwd: string;
  /** `$Z4J_HOME`, from {@link resolveHome}: where config.env and secret.env live. */
  readonly home: string;
}

/**
 * Reads the four configuration layers. Missing files are empty layers; a file
 * that exists but cannot be read or parsed is a ConfigError naming it, so a
 * permissions slip never silently drops the operator's settings.
 */
export function readConfigLayers(options: ReadConfigLayersOptions): ConfigLayers {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.env)) if (value !== undefined) env[name] = value;
  return {
    env,
    dotenv: readDotenvFile(join(options.cwd, '.env')) ?? {},
    configEnv: readDotenvFile(join(options.home, 'config.env')) ?? {},
    secretEnv: readDotenvFile(join(options.home, 'secret.env')) ?? {},
  };
}

/**
 * `$Z4J_HOME` as an absolute path (default `~/.z4j`). Only the process
 * environment can set it, because it says where the other files are.
 */
export function resolveHome(
  env: Readonly<Record<string, string | undefined>>,
  anchors: { readonly homeDir?: string; readonly cwd?: string } = {},
): string {
  const raw = env.Z4J_HOME?.trim() ? env.Z4J_HOME.trim() : '~/.z4j';
  return expandPath(raw, { homeDir: anchors.homeDir ?? homedir(), cwd: anchors.cwd ?? process.cwd() });
}
