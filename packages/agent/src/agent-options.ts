import { hostname } from 'node:os';
import * as v from 'valibot';
import { decodeHmacSecret, describeIssues } from '@z4j/protocol';
import { AgentConfigError, type AgentConfigSource } from './agent-config-error.js';
import { agentSocketUrl } from './brain-url.js';

/**
 * The role of this process among the agent's workers (`hello.worker_role`).
 *
 * @example
 * const role: WorkerRole = 'task';
 */
export type WorkerRole = 'web' | 'task' | 'scheduler' | 'beat' | 'other';

/**
 * Agent settings. Every field is optional here because the three layers (code, env, file settings) are merged before
 * validation: {@link resolveAgentConfig} says which required field is missing from all of them.
 *
 * @example
 * const options: AgentOptions = { brainUrl: 'https://z4j.example.com', token, hmacSecret, agentName: 'billing' };
 */
export interface AgentOptions {
  /** URL of the brain (`https://…` → `wss://…/ws/agent`). Required. Env `Z4J_BRAIN_URL`, setting `brain_url`. */
  readonly brainUrl?: string;
  /** Agent bearer token (shown once when the agent is minted). Required. Env `Z4J_TOKEN`, setting `token`. */
  readonly token?: string;
  /** Per-project HMAC secret returned with the token (URL-safe base64). Required. Env `Z4J_HMAC_SECRET`. */
  readonly hmacSecret?: string;
  /** Project slug; only labels logs (the brain takes the project from the token). Default `"default"`. */
  readonly projectId?: string;
  /** Display name (`hello.host.name`). Default: the host name. Env `Z4J_AGENT_NAME`. */
  readonly agentName?: string;
  /** Most events held while the brain has not acked them; the oldest are dropped beyond. Default 1000. */
  readonly bufferSize?: number;
  /** Most encoded bytes of events held; the oldest are dropped beyond. Default 64 MiB. Env `Z4J_BUFFER_MAX_BYTES`. */
  readonly bufferMaxBytes?: number;
  /**
   * File where events the brain has not acked are kept when the agent stops, and read back (and sent first) when an
   * agent with the same path starts: events survive a host restart. One path per process. Default: none (unacked
   * events are lost on stop, and reported). Env `Z4J_BUFFER_SPILL_PATH`.
   */
  readonly spillPath?: string;
  /** Seconds between heartbeats until the brain's `hello_ack` says otherwise (the brain's value wins). Default 10. */
  readonly heartbeatInterval?: number;
  /** Longest wait between reconnects after connection errors, seconds. Default 60. */
  readonly reconnectBackoffMax?: number;
  /** Extra redaction key patterns (regex source, whole key). Default none. Env `Z4J_REDACTION_EXTRA_KEY_PATTERNS` (CSV). */
  readonly redactionExtraKeyPatterns?: readonly string[];
  /** Extra redaction value patterns (regex source, searched). Default none. Env `Z4J_REDACTION_EXTRA_VALUE_PATTERNS` (CSV). */
  readonly redactionExtraValuePatterns?: readonly string[];
  /** This process's role among the agent's workers. Default null. Env `Z4J_WORKER_ROLE`. */
  readonly workerRole?: WorkerRole | null;
  /** Send an `agent_status` frame with every heartbeat. Default true. Env `Z4J_AGENT_STATUS_DISABLED=1` turns it off. */
  readonly agentStatus?: boolean;
  /** Most `event_batch` frames sent and not yet acked. Default 2 (1–16). */
  readonly maxInFlightBatches?: number;
  /** Most events in one `event_batch` frame. Default 500 (1–1000; the brain reads at most 1000). */
  readonly maxBatchEvents?: number;
  /** A sent batch with no ack after this many ms is sent again (same frame id). Default 30 000. */
  readonly ackTimeoutMs?: number;
  /** How long new events wait for company before a partial batch goes out, ms. Default 20. */
  readonly batchLingerMs?: number;
  /** Allow plain `ws://`/`http://` to a non-loopback brain. Code only: no env variable turns it on. Default false. */
  readonly devMode?: boolean;
}

/**
 * Settings as the Python agents take them from a file or a framework settings dict: snake_case keys (`brain_url`,
 * `buffer_size`, …) or the `Z4J_*` variable names of `~/.z4j/config.env`. Values may be strings.
 *
 * @example
 * const settings: AgentSettings = { brain_url: 'https://z4j.example.com', buffer_size: '5000' };
 */
export type AgentSettings = Readonly<Record<string, unknown>>;

/**
 * The validated configuration an agent runs with.
 *
 * @example
 * const config = resolveAgentConfig({ options: { brainUrl, token, hmacSecret } });
 * config.socketUrl // 'wss://…/ws/agent'
 */
export interface AgentConfig {
  readonly brainUrl: string;
  /** The WebSocket URL derived from `brainUrl`. */
  readonly socketUrl: string;
  readonly token: string;
  /** The decoded 32+ byte project secret. */
  readonly secret: Buffer;
  readonly projectId: string;
  readonly agentName: string;
  readonly bufferSize: number;
  readonly bufferMaxBytes: number;
  readonly spillPath: string | undefined;
  /** Seconds. */
  readonly heartbeatInterval: number;
  /** Seconds. */
  readonly reconnectBackoffMax: number;
  readonly redactionExtraKeyPatterns: readonly string[];
  readonly redactionExtraValuePatterns: readonly string[];
  readonly workerRole: WorkerRole | null;
  readonly agentStatus: boolean;
  readonly maxInFlightBatches: number;
  readonly maxBatchEvents: number;
  readonly ackTimeoutMs: number;
  readonly batchLingerMs: number;
  readonly devMode: boolean;
}

type Key = keyof AgentOptions;
type Kind = 'string' | 'int' | 'list' | 'bool' | 'role';

interface FieldSpec {
  readonly kind: Kind;
  /** Environment variable names, preferred first (the second is the Python agent's spelling). */
  readonly env: readonly string[];
  readonly schema: v.GenericSchema<unknown, unknown>;
}

const int = (min: number, max: number) =>
  v.pipe(
    v.number('expected a number'),
    v.integer('expected an integer'),
    v.minValue(min, `expected at least ${min}`),
    v.maxValue(max, `expected at most ${max}`),
  );
const text = (max: number) =>
  v.pipe(
    v.string('expected a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(max, `expected at most ${max} characters`),
  );
const patterns = v.array(v.string('expected a string'), 'expected a list of strings');

/** One row per setting; its env names, the coercion for string sources, and the schema every source must pass. */
const FIELDS: { readonly [K in Key]-?: FieldSpec } = {
  brainUrl: { kind: 'string', env: ['Z4J_BRAIN_URL'], schema: text(2048) },
  // Visible ASCII only: it goes into an HTTP header, where a control character would make every connect throw.
  token: {
    kind: 'string',
    env: ['Z4J_TOKEN'],
    schema: v.pipe(text(512), v.regex(/^[\x21-\x7e]+$/, 'expected printable ASCII without spaces')),
  },
  hmacSecret: { kind: 'string', env: ['Z4J_HMAC_SECRET'], schema: text(512) },
  projectId: { kind: 'string', env: ['Z4J_PROJECT_ID'], schema: text(200) },
  agentName: { kind: 'string', env: ['Z4J_AGENT_NAME'], schema: text(200) },
  bufferSize: { kind: 'int', env: ['Z4J_BUFFER_SIZE', 'Z4J_BUFFER_MAX_EVENTS'], schema: int(1, 10_000_000) },
  bufferMaxBytes: { kind: 'int', env: ['Z4J_BUFFER_MAX_BYTES'], schema: int(65_536, 4 * 1024 ** 3) },
  spillPath: { kind: 'string', env: ['Z4J_BUFFER_SPILL_PATH'], schema: text(4096) },
  heartbeatInterval: { kind: 'int', env: ['Z4J_HEARTBEAT_INTERVAL', 'Z4J_HEARTBEAT_SECONDS'], schema: int(1, 3600) },
  reconnectBackoffMax: { kind: 'int', env: ['Z4J_RECONNECT_BACKOFF_MAX'], schema: int(1, 3600) },
  redactionExtraKeyPatterns: { kind: 'list', env: ['Z4J_REDACTION_EXTRA_KEY_PATTERNS'], schema: patterns },
  redactionExtraValuePatterns: { kind: 'list', env: ['Z4J_REDACTION_EXTRA_VALUE_PATTERNS'], schema: patterns },
  workerRole: {
    kind: 'role',
    env: ['Z4J_WORKER_ROLE'],
    schema: v.nullable(v.picklist(['web', 'task', 'scheduler', 'beat', 'other'], 'expected web, task, scheduler, beat or other')),
  },
  agentStatus: { kind: 'bool', env: [], schema: v.boolean('expected true or false') },
  maxInFlightBatches: { kind: 'int', env: [], schema: int(1, 16) },
  maxBatchEvents: { kind: 'int', env: [], schema: int(1, 1000) },
  ackTimeoutMs: { kind: 'int', env: [], schema: int(100, 3_600_000) },
  batchLingerMs: { kind: 'int', env: [], schema: int(0, 10_000) },
  devMode: { kind: 'bool', env: [], schema: v.boolean('expected true or false') },
};

const KEYS = Object.keys(FIELDS) as Key[];

/** Fields that only code may set: a dev-mode switch in the environment would be a way to downgrade TLS. */
const CODE_ONLY: ReadonlySet<Key> = new Set(['devMode']);

function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Reads a string from env/settings into the field's type; `undefined` when the text cannot be one. */
function coerce(kind: Kind, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const s = raw.trim();
  switch (kind) {
    case 'int':
      return /^[+-]?\d+$/.test(s) ? Number(s) : raw;
    case 'list':
      return s === ''
        ? []
        : s
            .split(',')
            .map((part) => part.trim())
            .filter((part) => part !== '');
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(s)) return true;
      if (/^(0|false|no|off)$/i.test(s)) return false;
      return raw;
    case 'role':
      return s === '' ? null : s;
    default:
      return raw;
  }
}

function check(key: Key, value: unknown, field: string, source: AgentConfigSource): unknown {
  const result = v.safeParse(FIELDS[key].schema, value);
  if (result.success) return result.output;
  throw new AgentConfigError(field, source, `${field}: ${describeIssues(result.issues).replace(/^\(root\): /, '')}`);
}

/**
 * Reads the agent's settings from an environment (the Python agents' `Z4J_*` names; the Node spelling first where
 * both exist: `Z4J_BUFFER_SIZE` then `Z4J_BUFFER_MAX_EVENTS`, `Z4J_HEARTBEAT_INTERVAL` then `Z4J_HEARTBEAT_SECONDS`).
 * Only variables that are set appear in the result, so it layers under explicit options. The agent never reads the
 * environment by itself: call this and pass the result as `env` to {@link createAgent}.
 *
 * @throws {AgentConfigError} naming the variable whose value is invalid.
 * @example
 * const agent = createAgent({ adapters: [adapter], env: agentOptionsFromEnv(process.env) });
 */
export function agentOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): AgentOptions {
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const name = FIELDS[key].env.find((candidate) => env[candidate] !== undefined && env[candidate] !== '');
    if (name === undefined) continue;
    out[key] = check(key, coerce(FIELDS[key].kind, env[name]), name, 'env');
  }
  const statusDisabled = env.Z4J_AGENT_STATUS_DISABLED;
  if (statusDisabled !== undefined && statusDisabled !== '') {
    const disabled = check('agentStatus', coerce('bool', statusDisabled), 'Z4J_AGENT_STATUS_DISABLED', 'env');
    out.agentStatus = disabled !== true;
  }
  return out;
}

/** Validates one layer; every value must pass its field's schema. */
function readLayer(layer: object, source: 'options' | 'env'): Partial<Record<Key, unknown>> {
  const out: Partial<Record<Key, unknown>> = {};
  for (const [key, value] of Object.entries(layer)) {
    if (!(key in FIELDS) || value === undefined) continue;
    if (source === 'env' && CODE_ONLY.has(key as Key)) continue;
    out[key as Key] = check(key as Key, value, key, source);
  }
  return out;
}

function readSettings(settings: AgentSettings): Partial<Record<Key, unknown>> {
  const out: Partial<Record<Key, unknown>> = {};
  for (const key of KEYS) {
    if (CODE_ONLY.has(key)) continue;
    const names = [snakeCase(key), ...FIELDS[key].env];
    const name = names.find((candidate) => settings[candidate] !== undefined && settings[candidate] !== '');
    if (name !== undefined) out[key] = check(key, coerce(FIELDS[key].kind, settings[name]), name, 'settings');
  }
  for (const name of ['agent_status_disabled', 'Z4J_AGENT_STATUS_DISABLED']) {
    if (settings[name] === undefined || settings[name] === '' || out.agentStatus !== undefined) continue;
    out.agentStatus = check('agentStatus', coerce('bool', settings[name]), name, 'settings') !== true;
  }
  return out;
}

/**
 * The three layers of agent settings, highest precedence first: explicit options in code, then the environment (as
 * read by {@link agentOptionsFromEnv}), then file settings.
 *
 * @example
 * const layers: AgentConfigLayers = { options: { agentName: 'web' }, env: agentOptionsFromEnv(process.env) };
 */
export interface AgentConfigLayers {
  readonly options?: AgentOptions;
  readonly env?: AgentOptions;
  readonly settings?: AgentSettings;
}

/**
 * Merges and validates the layers (explicit options > env > settings), applies the defaults and derives the socket
 * URL and the decoded secret.
 *
 * @throws {AgentConfigError} naming the field (as written in its source) that is missing or invalid.
 * @example
 * resolveAgentConfig({ options: { token }, env: agentOptionsFromEnv(process.env), settings: { buffer_size: '500' } })
 */
export function resolveAgentConfig(layers: AgentConfigLayers): AgentConfig {
  const merged: Partial<Record<Key, unknown>> = {
    ...readSettings(layers.settings ?? {}),
    ...readLayer(layers.env ?? {}, 'env'),
    ...readLayer(layers.options ?? {}, 'options'),
  };
  const required = (key: 'brainUrl' | 'token' | 'hmacSecret'): string => {
    const value = merged[key];
    if (typeof value === 'string') return value;
    const [envName] = FIELDS[key].env;
    throw new AgentConfigError(key, 'options', `${key} is required: pass it in code, set ${envName} or the ${snakeCase(key)} setting`);
  };
  const brainUrl = required('brainUrl');
  const token = required('token');
  const devMode = merged.devMode === true;
  let socketUrl: string;
  try {
    socketUrl = agentSocketUrl(brainUrl, devMode);
  } catch (error) {
    throw new AgentConfigError('brainUrl', 'options', `brainUrl: ${(error as Error).message}`, { cause: error });
  }
  let secret: Buffer;
  try {
    secret = decodeHmacSecret(required('hmacSecret'));
  } catch (error) {
    if (error instanceof AgentConfigError) throw error;
    throw new AgentConfigError('hmacSecret', 'options', `hmacSecret: ${(error as Error).message}`, { cause: error });
  }
  return {
    brainUrl,
    socketUrl,
    token,
    secret,
    projectId: (merged.projectId as string | undefined) ?? 'default',
    agentName: (merged.agentName as string | undefined) ?? (hostname() || 'z4j-agent'),
    bufferSize: (merged.bufferSize as number | undefined) ?? 1000,
    bufferMaxBytes: (merged.bufferMaxBytes as number | undefined) ?? 64 * 1024 * 1024,
    spillPath: merged.spillPath as string | undefined,
    heartbeatInterval: (merged.heartbeatInterval as number | undefined) ?? 10,
    reconnectBackoffMax: (merged.reconnectBackoffMax as number | undefined) ?? 60,
    redactionExtraKeyPatterns: (merged.redactionExtraKeyPatterns as string[] | undefined) ?? [],
    redactionExtraValuePatterns: (merged.redactionExtraValuePatterns as string[] | undefined) ?? [],
    workerRole: (merged.workerRole as WorkerRole | null | undefined) ?? null,
    agentStatus: (merged.agentStatus as boolean | undefined) ?? true,
    maxInFlightBatches: (merged.maxInFlightBatches as number | undefined) ?? 2,
    maxBatchEvents: (merged.maxBatchEvents as number | undefined) ?? 500,
    ackTimeoutMs: (merged.ackTimeoutMs as number | undefined) ?? 30_000,
    batchLingerMs: (merged.batchLingerMs as number | undefined) ?? 20,
    devMode,
  };
}
