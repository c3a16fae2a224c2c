import { homedir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { ConfigError, createIssue, describeGot, type ConfigIssue } from './config-error.js';
import { checkCrossFieldRules, isProduction, type ConfigMode } from './cross-field-rules.js';
import { expandPath, type PathContext } from './expand-path.js';
import {
  createSettingsSchema,
  VARIABLE_NAMES,
  variableSpec,
  type ParsedSettings,
  type Settings,
  type VariableName,
} from './settings-schema.js';

/** One source of `NAME=value` pairs. Values may be undefined (as in `process.env`); blank means unset. */
export type ConfigLayer = Readonly<Record<string, string | undefined>>;

/** The four sources, highest precedence first: process env > ./.env > $Z4J_HOME/config.env > $Z4J_HOME/secret.env. */
export interface ConfigLayers {
  readonly env: ConfigLayer;
  readonly dotenv: ConfigLayer;
  readonly configEnv: ConfigLayer;
  readonly secretEnv: ConfigLayer;
}

export type ConfigSource = 'env' | 'dotenv' | 'config.env' | 'secret.env' | 'default';

/** Layers in precedence order, with the name each reports as its source. */
export const LAYER_ORDER = [
  ['env', 'env'],
  ['dotenv', 'dotenv'],
  ['configEnv', 'config.env'],
  ['secretEnv', 'secret.env'],
] as const satisfies ReadonlyArray<readonly [keyof ConfigLayers, ConfigSource]>;

interface ResolvedConfigBase {
  /** Where each variable's value came from, for `config show` and the admin settings page. */
  readonly sources: Readonly<Record<VariableName, ConfigSource>>;
  /** `Z4J_*` names found in any layer that the brain does not read (typos, removed settings): log a warning. */
  readonly unknown: readonly string[];
}

/** No `Z4J_DATABASE_URL`: the embedded database, which has no LISTEN/NOTIFY across processes. */
export interface EmbeddedConfig extends ResolvedConfigBase {
  readonly mode: 'embedded';
  readonly settings: Settings & { readonly databaseUrl: undefined; readonly registryBackend: 'local' };
}

export interface PostgresConfig extends ResolvedConfigBase {
  readonly mode: 'postgres';
  readonly settings: Settings & { readonly databaseUrl: string };
}

/** Narrow on `mode` to learn whether `settings.databaseUrl` is set. */
export type ResolvedConfig = EmbeddedConfig | PostgresConfig;

export interface ResolveConfigOptions {
  /** Anchor for `~` in paths; default `os.homedir()`. */
  readonly homeDir?: string;
  /** Anchor for relative paths; default `process.cwd()`. */
  readonly cwd?: string;
}

/**
 * Agent-side variables (reference §1.14 and the agent settings table) that
 * often share an env file with the brain; they are not typos, so they are
 * not reported as unknown.
 */
const AGENT_SIDE_NAMES: ReadonlySet<string> = new Set([
  'Z4J_BRAIN_URL',
  'Z4J_TOKEN',
  'Z4J_PROJECT_ID',
  'Z4J_HMAC_SECRET',
  'Z4J_AGENT_NAME',
  'Z4J_AGENT_ID',
  'Z4J_WORKER_ROLE',
  'Z4J_TRANSPORT',
  'Z4J_HEARTBEAT_SECONDS',
  'Z4J_HEARTBEAT_INTERVAL',
  'Z4J_BUFFER_SIZE',
  'Z4J_BUFFER_MAX_EVENTS',
  'Z4J_BUFFER_MAX_BYTES',
  'Z4J_MAX_PAYLOAD_BYTES',
  'Z4J_RECONNECT_BACKOFF_MAX',
  'Z4J_ENGINES',
  'Z4J_SCHEDULERS',
  'Z4J_TAGS',
  'Z4J_AUTOSTART',
  'Z4J_STRICT_MODE',
  'Z4J_AGENT_STATUS_DISABLED',
  'Z4J_ORCHESTRATED',
  'Z4J_DEV_MODE',
  'Z4J_BUFFER_PATH',
  'Z4J_BUFFER_DIR',
  'Z4J_RUNTIME_DIR',
]);

/** Test harness variables (`Z4J_TEST_DATABASE_URL`, ...), read by test helpers rather than the brain. */
const IGNORED_PREFIXES = ['Z4J_TEST_'];

const KNOWN_NAMES: ReadonlySet<string> = new Set(VARIABLE_NAMES.flatMap((name) => [name, ...(variableSpec(name).aliases ?? [])]));

function nonBlank(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * Picks each variable's value from the highest layer that sets it. Within a
 * layer the canonical name beats an alias, but a higher layer's alias beats
 * a lower layer's canonical name: an operator's `Z4J_METRICS_TOKEN` in the
 * environment must win over a token minted into secret.env earlier.
 */
function mergeLayers(layers: Partial<ConfigLayers>): {
  raw: Record<VariableName, string | undefined>;
  sources: Record<VariableName, ConfigSource>;
} {
  const raw = {} as Record<VariableName, string | undefined>;
  const sources = {} as Record<VariableName, ConfigSource>;
  for (const name of VARIABLE_NAMES) {
    const names = [name, ...(variableSpec(name).aliases ?? [])];
    sources[name] = 'default';
    search: for (const [key, source] of LAYER_ORDER) {
      for (const candidate of names) {
        const value = nonBlank(layers[key]?.[candidate]);
        if (value === undefined) continue;
        raw[name] = value;
        sources[name] = source;
        break search;
      }
    }
  }
  return { raw, sources };
}

/**
 * `Z4J_HOME` locates config.env and secret.env, so it has to be known before
 * they are read: only the process environment can set it. A file that sets it
 * to the same directory is harmless (`z4j init` may write it); a different
 * directory would split the brain across two homes, so it is refused.
 */
function checkHomeLayers(layers: Partial<ConfigLayers>, context: PathContext): ConfigIssue[] {
  const home = expandPath(nonBlank(layers.env?.Z4J_HOME) ?? '~/.z4j', context);
  const issues: ConfigIssue[] = [];
  for (const [key, source] of LAYER_ORDER.slice(1)) {
    const value = nonBlank(layers[key]?.Z4J_HOME);
    if (value === undefined || expandPath(value, context) === home) continue;
    const where = source === 'dotenv' ? './.env' : source;
    issues.push(
      createIssue(
        'Z4J_HOME',
        'it in the process environment only (it locates config.env and secret.env)',
        `${describeGot(value, false)} in ${where}`,
      ),
    );
  }
  return issues.slice(0, 1);
}

function schemaIssues(issues: readonly v.BaseIssue<unknown>[], raw: Readonly<Record<string, string | undefined>>): ConfigIssue[] {
  const seen = new Set<string>();
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const key = issue.path?.[0]?.key;
    const variable = typeof key === 'string' ? key : 'settings';
    if (seen.has(variable)) continue; // one message per variable: the first failing step says it all
    seen.add(variable);
    out.push(createIssue(variable, issue.message, describeGot(raw[variable], isSecretName(variable))));
  }
  return out;
}

function isSecretName(name: string): boolean {
  return (VARIABLE_NAMES as readonly string[]).includes(name) && variableSpec(name as VariableName).secret === true;
}

/**
 * Fills the values that must exist for the brain to run. Missing secrets are
 * refused in every mode (embedded callers mint them before resolving); the
 * public URL is only mandatory for a production Postgres deployment, where a
 * localhost default would put wrong links in emails.
 */
function completeSettings(parsed: ParsedSettings, mode: ConfigMode): { settings: Settings } | { issues: ConfigIssue[] } {
  const productionPostgres = mode === 'postgres' && isProduction(parsed);
  const why =
    mode === 'embedded'
      ? 'in embedded mode ensureEmbeddedSecrets mints it into $Z4J_HOME/secret.env before resolving'
      : productionPostgres
        ? 'required in postgres mode with Z4J_ENVIRONMENT=production; generate one with `openssl rand -hex 32`'
        : 'required with Z4J_DATABASE_URL; generate one with `openssl rand -hex 32`';
  const issues: ConfigIssue[] = [];
  const { secret, sessionSecret } = parsed;
  if (secret === undefined) issues.push(createIssue('Z4J_SECRET', `a secret of at least 32 bytes (${why})`, 'nothing'));
  if (sessionSecret === undefined) issues.push(createIssue('Z4J_SESSION_SECRET', `a secret of at least 32 bytes (${why})`, 'nothing'));
  if (productionPostgres && parsed.publicUrl === undefined) {
    issues.push(
      createIssue(
        'Z4J_PUBLIC_URL',
        'the externally reachable https:// URL (required in postgres mode with Z4J_ENVIRONMENT=production)',
        'nothing',
      ),
    );
  }
  if (secret === undefined || sessionSecret === undefined || issues.length > 0) return { issues };
  return {
    settings: {
      ...parsed,
      secret,
      sessionSecret,
      // Port 0 means "ephemeral", unknown until listen(); links then use the documented default port.
      publicUrl: parsed.publicUrl ?? `http://localhost:${parsed.bindPort === 0 ? 7700 : parsed.bindPort}`,
      embeddedSchedulerPkiDir: parsed.embeddedSchedulerPkiDir ?? join(parsed.home, 'embedded-pki'),
      // The embedded scheduler talks to the brain over this gRPC server, so it implies it (as in the original).
      schedulerGrpcEnabled: parsed.schedulerGrpcEnabled || parsed.embeddedScheduler,
    },
  };
}

function findUnknown(layers: Partial<ConfigLayers>): string[] {
  const names = new Set<string>();
  for (const [key] of LAYER_ORDER) for (const name of Object.keys(layers[key] ?? {})) names.add(name);
  return [...names]
    .filter((name) => name.startsWith('Z4J_') && !KNOWN_NAMES.has(name) && !AGENT_SIDE_NAMES.has(name))
    .filter((name) => !IGNORED_PREFIXES.some((prefix) => name.startsWith(prefix)))
    .sort();
}

/**
 * Merges the four layers, parses every variable, applies derived defaults
 * and cross-field rules. Pure: no I/O, no process state unless the path
 * anchors are left to default.
 *
 * @throws ConfigError naming the first bad variable (all of them in `issues`).
 */
export function resolveConfig(layers: Partial<ConfigLayers>, options: ResolveConfigOptions = {}): ResolvedConfig {
  const context: PathContext = { homeDir: options.homeDir ?? homedir(), cwd: options.cwd ?? process.cwd() };
  const { raw, sources } = mergeLayers(layers);

  const parsed = v.safeParse(createSettingsSchema(context), raw);
  const valueIssues = [...checkHomeLayers(layers, context), ...(parsed.success ? [] : schemaIssues(parsed.issues, raw))];
  if (!parsed.success || valueIssues.length > 0) throw new ConfigError(valueIssues);

  const mode: ConfigMode = parsed.output.databaseUrl === undefined ? 'embedded' : 'postgres';
  const completed = completeSettings(parsed.output, mode);
  if ('issues' in completed) throw new ConfigError(completed.issues);
  const { settings } = completed;
  const violations = checkCrossFieldRules(settings, mode).map((violation) =>
    createIssue(violation.variable, violation.expected, describeGot(raw[violation.variable], isSecretName(violation.variable))),
  );
  if (violations.length > 0) throw new ConfigError(violations);

  const unknown = findUnknown(layers);
  if (settings.databaseUrl === undefined) {
    // The embedded database cannot deliver NOTIFY to other connections, so routing stays in-process.
    return { mode: 'embedded', settings: { ...settings, databaseUrl: undefined, registryBackend: 'local' }, sources, unknown };
  }
  return { mode: 'postgres', settings: { ...settings, databaseUrl: settings.databaseUrl }, sources, unknown };
}
