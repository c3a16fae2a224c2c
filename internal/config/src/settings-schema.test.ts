import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { resolveConfig } from './resolve-config.js';
import {
  createSettingsSchema,
  SETTING_VARIABLES,
  settingKey,
  VARIABLE_NAMES,
  variableSpec,
  type Settings,
  type VariableName,
} from './settings-schema.js';

const HOME_DIR = '/home/op';
const CWD = '/srv/app';
const SECRET = 'S'.repeat(40);
const SESSION_SECRET = 'T'.repeat(40);
/** The minimum an embedded brain needs once its secrets are minted. */
const MINTED = { Z4J_SECRET: SECRET, Z4J_SESSION_SECRET: SESSION_SECRET };

function resolveEnv(env: Record<string, string>) {
  return resolveConfig({ env: { ...MINTED, ...env } }, { homeDir: HOME_DIR, cwd: CWD });
}

function errorOf(env: Record<string, string>): ConfigError {
  try {
    resolveEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

/**
 * Defaults from the seed (002), written out independently of the table so a
 * wrong default there fails here. Typed by VariableName, so adding a
 * variable without listing its default here is a compile error.
 */
const SEED_DEFAULTS: Record<VariableName, unknown> = {
  Z4J_DATABASE_URL: undefined,
  Z4J_SECRET: SECRET,
  Z4J_SESSION_SECRET: SESSION_SECRET,
  Z4J_PUBLIC_URL: 'http://localhost:7700',
  Z4J_PREVIOUS_SECRETS: [],
  Z4J_PREVIOUS_SESSION_SECRETS: [],
  Z4J_HOME: '/home/op/.z4j',
  Z4J_DB_POOL_SIZE: 10,
  Z4J_DATABASE_STATEMENT_CACHE_SIZE: 50,
  Z4J_DATABASE_MAX_INACTIVE_CONNECTION_LIFETIME_SECONDS: 60,
  Z4J_AUTO_MIGRATE: true,
  Z4J_REQUIRE_DB_SSL: true,
  Z4J_DB_STATEMENT_TIMEOUT_MS: 10_000,
  Z4J_DB_LOCK_TIMEOUT_MS: 3000,
  Z4J_DB_IDLE_IN_TX_TIMEOUT_MS: 30_000,
  Z4J_ASYNCPG_CONNECT_TIMEOUT: 10,
  Z4J_ASYNCPG_CLOSE_TIMEOUT: 5,
  Z4J_WAL_CHECKPOINT_INTERVAL_SECONDS: 300,
  Z4J_PASSWORD_MIN_LENGTH: 8,
  Z4J_ARGON2_TIME_COST: 3,
  Z4J_ARGON2_MEMORY_COST: 65_536,
  Z4J_ARGON2_PARALLELISM: 4,
  Z4J_SESSION_ABSOLUTE_LIFETIME_SECONDS: 604_800,
  Z4J_SESSION_IDLE_TIMEOUT_SECONDS: 1800,
  Z4J_SESSION_COOKIE_SAMESITE: 'lax',
  Z4J_SESSION_PIN_USER_AGENT: false,
  Z4J_LOGIN_LOCKOUT_THRESHOLD: 10,
  Z4J_LOGIN_LOCKOUT_DURATION_SECONDS: 900,
  Z4J_LOGIN_BACKOFF_BASE_SECONDS: 0.5,
  Z4J_LOGIN_BACKOFF_MAX_SECONDS: 5,
  Z4J_LOGIN_MIN_DURATION_MS: 300,
  Z4J_LOG_LOGIN_EMAIL: false,
  Z4J_RECONCILIATION_SWEEP_SECONDS: 300,
  Z4J_RECONCILIATION_STALE_THRESHOLD_SECONDS: 900,
  Z4J_EVENT_RETENTION_DAYS: 30,
  Z4J_AUDIT_RETENTION_DAYS: 90,
  Z4J_AUDIT_RETENTION_SWEEP_INTERVAL_SECONDS: 3600,
  Z4J_AUDIT_RETENTION_SWEEP_BATCH_SIZE: 5000,
  Z4J_AUDIT_RETENTION_SWEEP_MAX_PER_PASS: 200_000,
  Z4J_METRICS_AUTH_TOKEN: undefined,
  Z4J_METRICS_PUBLIC: false,
  Z4J_METRICS_ENABLED: true,
  Z4J_BOOTSTRAP_ADMIN_EMAIL: undefined,
  Z4J_BOOTSTRAP_ADMIN_PASSWORD: undefined,
  Z4J_FIRST_BOOT_TOKEN_TTL_SECONDS: 900,
  Z4J_FIRST_BOOT_ATTEMPTS_PER_IP: 30,
  Z4J_MFA_ENFORCE_FOR_ADMINS: false,
  Z4J_MFA_ENFORCE_FOR_ALL: false,
  Z4J_MFA_ENROLLMENT_GRACE_DAYS: 7,
  Z4J_MFA_RECOVERY_CODE_COUNT: 10,
  Z4J_MFA_VERIFICATION_TTL_SECONDS: 900,
  Z4J_MFA_REMEMBER_DEVICE_DAYS: 30,
  Z4J_MFA_VERIFICATION_RATE_PER_MIN: 10,
  Z4J_NOTIFICATIONS_WEBHOOK_ALLOW_HTTP: false,
  Z4J_AGENT_OFFLINE_TIMEOUT_SECONDS: 30,
  Z4J_AGENT_HEALTH_SWEEP_SECONDS: 10,
  Z4J_AGENT_STALE_PRUNE_DAYS: 30,
  Z4J_WS_IDLE_TIMEOUT_SECONDS: 90,
  Z4J_WS_INGEST_QUEUE_MAXSIZE: 2000,
  Z4J_WS_MAX_FRAME_BYTES: 1_048_576,
  Z4J_WS_PER_AGENT_CONCURRENCY_CAP: 64,
  Z4J_INGEST_GRPC_BIND_HOST: '0.0.0.0',
  Z4J_INGEST_GRPC_BIND_PORT: 7702,
  Z4J_INGEST_GRPC_URL: undefined,
  Z4J_REGISTRY_BACKEND: 'local', // seed default postgres_notify, forced local on the embedded database
  Z4J_REGISTRY_LISTENER_HEARTBEAT_SECONDS: 10,
  Z4J_REGISTRY_LISTENER_HEARTBEAT_TIMEOUT_SECONDS: 25,
  Z4J_REGISTRY_LISTENER_MAX_AGE_SECONDS: 900,
  Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS: 30,
  Z4J_MAX_PAYLOAD_SIZE_BYTES: 8192,
  Z4J_TASKS_EXPORT_MAX_ROWS: 50_000,
  Z4J_RATELIMIT_COMMANDS_PER_MINUTE: 100,
  Z4J_RATELIMIT_EVENTS_PER_SECOND: 10_000,
  Z4J_ADMIN_PROJECT_LIST_CAP: 500,
  Z4J_REQUEST_TIMEOUT_SECONDS: 30,
  Z4J_REST_DEFAULT_PAGE_SIZE: 50,
  Z4J_REST_MAX_PAGE_SIZE: 500,
  Z4J_OPENAPI_VISIBILITY: 'private',
  Z4J_ALLOWED_HOSTS: [],
  Z4J_CORS_ORIGINS: [],
  Z4J_CORS_ALLOW_CREDENTIALS: true,
  Z4J_TRUSTED_PROXIES: [],
  Z4J_HSTS_MAX_AGE_SECONDS: 31_536_000,
  Z4J_HSTS_INCLUDE_SUBDOMAINS: true,
  Z4J_ALLOW_HTTP_PUBLIC_URL: false,
  Z4J_BIND_HOST: '0.0.0.0',
  Z4J_BIND_PORT: 7700,
  Z4J_ENVIRONMENT: 'production',
  Z4J_LOG_JSON: true,
  Z4J_LOG_LEVEL: 'info',
  Z4J_VERSION_CHECK_URL: 'https://raw.githubusercontent.com/z4jdev/z4j/main/versions.json',
  Z4J_AUDIT_WEBHOOK_URL: undefined,
  Z4J_AUDIT_WEBHOOK_HMAC_SECRET: undefined,
  Z4J_DASHBOARD_DIST: undefined,
  Z4J_DISABLE_SPA_FALLBACK: false,
  Z4J_REDACTION_EXTRA_KEY_PATTERNS: [],
  Z4J_REDACTION_EXTRA_VALUE_PATTERNS: [],
  Z4J_REDACTION_DISABLE_DEFAULTS: false,
  Z4J_COMMAND_TIMEOUT_SECONDS: 60,
  Z4J_COMMAND_TIMEOUT_SWEEP_SECONDS: 5,
  Z4J_SCHEDULER_GRPC_ENABLED: false,
  Z4J_SCHEDULER_GRPC_BIND_HOST: '0.0.0.0',
  Z4J_SCHEDULER_GRPC_BIND_PORT: 7701,
  Z4J_SCHEDULER_GRPC_ALLOWED_CNS: [],
  Z4J_SCHEDULER_GRPC_REQUIRE_ALLOWLIST: false,
  Z4J_SCHEDULER_GRPC_CN_PROJECT_BINDINGS: {},
  Z4J_SCHEDULER_GRPC_TLS_CERT: undefined,
  Z4J_SCHEDULER_GRPC_TLS_KEY: undefined,
  Z4J_SCHEDULER_GRPC_TLS_CA: undefined,
  Z4J_SCHEDULER_GRPC_INSECURE: false,
  Z4J_SCHEDULER_GRPC_GRACE_SECONDS: 5,
  Z4J_SCHEDULER_GRPC_FIRE_RATE_LIMIT_ENABLED: true,
  Z4J_SCHEDULER_GRPC_FIRE_RATE_PER_SECOND: 10,
  Z4J_SCHEDULER_GRPC_FIRE_RATE_CAPACITY: 600,
  Z4J_SCHEDULER_GRPC_WATCH_MAX_CONCURRENT: 64,
  Z4J_SCHEDULER_GRPC_WATCH_MAX_PER_CERT: 4,
  Z4J_SCHEDULER_GRPC_WATCH_POLL_SECONDS: 2,
  Z4J_SCHEDULER_INFO_URLS: [],
  Z4J_SCHEDULER_TRIGGER_URL: undefined,
  Z4J_SCHEDULER_TRIGGER_TLS_CERT: undefined,
  Z4J_SCHEDULER_TRIGGER_TLS_KEY: undefined,
  Z4J_SCHEDULER_TRIGGER_TLS_CA: undefined,
  Z4J_EMBEDDED_SCHEDULER: false,
  Z4J_EMBEDDED_SCHEDULER_ARGV: ['serve'],
  Z4J_EMBEDDED_SCHEDULER_PKI_DIR: '/home/op/.z4j/embedded-pki',
  Z4J_EMBEDDED_SCHEDULER_RESTART_MAX_ATTEMPTS: 10,
  Z4J_EMBEDDED_SCHEDULER_RESTART_BACKOFF_SECONDS: 2,
  Z4J_EMBEDDED_SCHEDULER_SHUTDOWN_GRACE_SECONDS: 10,
  Z4J_SCHEDULE_FIRES_RETENTION_DAYS: 30,
  Z4J_PENDING_FIRES_RETENTION_DAYS: 7,
  Z4J_PENDING_FIRES_REPLAY_INTERVAL_SECONDS: 10,
  Z4J_SCHEDULE_CIRCUIT_BREAKER_THRESHOLD: 5,
  Z4J_SCHEDULE_CIRCUIT_BREAKER_INTERVAL_SECONDS: 60,
};

describe('the settings table', () => {
  it('derives camelCase keys from the names', () => {
    expect(settingKey('Z4J_WS_IDLE_TIMEOUT_SECONDS')).toBe('wsIdleTimeoutSeconds');
    expect(settingKey('Z4J_DB_IDLE_IN_TX_TIMEOUT_MS')).toBe('dbIdleInTxTimeoutMs');
    expect(settingKey('Z4J_HOME')).toBe('home');
    expectTypeOf<Settings['wsIdleTimeoutSeconds']>().toEqualTypeOf<number>();
    expectTypeOf<Settings['secret']>().toEqualTypeOf<string>();
    expectTypeOf<Settings['databaseUrl']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<Settings['registryBackend']>().toEqualTypeOf<'postgres_notify' | 'local'>();
    expectTypeOf<Settings['trustedProxies']>().toEqualTypeOf<readonly string[]>();
  });

  it('gives every variable a one-line description and a Z4J_ name', () => {
    for (const name of VARIABLE_NAMES) {
      const spec = variableSpec(name);
      expect(name).toMatch(/^Z4J_[A-Z0-9_]+$/);
      expect(spec.description.length, name).toBeGreaterThan(10);
      expect(spec.description, name).not.toMatch(/\n/);
    }
  });

  it('marks the variables that must never be echoed as secret', () => {
    const secrets = VARIABLE_NAMES.filter((name) => variableSpec(name).secret === true);
    expect(secrets).toEqual([
      'Z4J_DATABASE_URL',
      'Z4J_SECRET',
      'Z4J_SESSION_SECRET',
      'Z4J_PREVIOUS_SECRETS',
      'Z4J_PREVIOUS_SESSION_SECRETS',
      'Z4J_METRICS_AUTH_TOKEN',
      'Z4J_BOOTSTRAP_ADMIN_PASSWORD',
      'Z4J_AUDIT_WEBHOOK_URL',
      'Z4J_AUDIT_WEBHOOK_HMAC_SECRET',
    ]);
  });

  it('covers every brain variable of the seed table', () => {
    // SEED_DEFAULTS is typed by VariableName, so the two lists match exactly: the 120 brain variables of
    // seed 002 plus DB_POOL_SIZE, HOME, OPENAPI_VISIBILITY, AUDIT_WEBHOOK_URL/_HMAC_SECRET, DASHBOARD_DIST,
    // DISABLE_SPA_FALLBACK, the three REDACTION_* settings and the three INGEST_GRPC_* settings.
    expect(Object.keys(SEED_DEFAULTS).sort()).toEqual([...VARIABLE_NAMES].sort());
    expect(VARIABLE_NAMES).toHaveLength(133);
    expect(SETTING_VARIABLES.Z4J_METRICS_AUTH_TOKEN.aliases).toEqual(['Z4J_METRICS_TOKEN']);
  });
});

describe('defaults', () => {
  const { settings } = resolveEnv({});
  const byKey = settings as unknown as Record<string, unknown>;

  it.each(VARIABLE_NAMES)('%s defaults to the seed value', (name) => {
    expect(byKey[settingKey(name)]).toEqual(SEED_DEFAULTS[name]);
  });

  it('matches a handful of seed values literally', () => {
    expect(settings.dbStatementTimeoutMs).toBe(10_000);
    expect(settings.wsMaxFrameBytes).toBe(1_048_576);
    expect(settings.sessionAbsoluteLifetimeSeconds).toBe(604_800);
    expect(settings.hstsMaxAgeSeconds).toBe(31_536_000);
    expect(settings.schedulerGrpcBindPort).toBe(7701);
    expect(settings.ingestGrpcBindPort).toBe(7702);
    expect(settings.bindPort).toBe(7700);
    expect(settings.passwordMinLength).toBe(8);
    expect(settings.mfaVerificationTtlSeconds).toBe(900);
    expect(settings.logLevel).toBe('info');
    expect(settings.embeddedSchedulerArgv).toEqual(['serve']);
    expect(settings.publicUrl).toBe('http://localhost:7700');
    expect(settings.dbPoolSize).toBe(10);
  });

  it('parses every literal default with its own kind (a default can never break its own range)', () => {
    const schema = createSettingsSchema({ homeDir: HOME_DIR, cwd: CWD });
    const input = Object.fromEntries(VARIABLE_NAMES.map((name) => [name, variableSpec(name).default]));
    expect(v.safeParse(schema, input).success).toBe(true);
  });
});

describe('parsing', () => {
  it('reads integers, floats, booleans and enums', () => {
    const { settings } = resolveEnv({
      Z4J_WS_MAX_FRAME_BYTES: ' 8192 ',
      Z4J_LOGIN_BACKOFF_BASE_SECONDS: '.25',
      Z4J_SCHEDULER_GRPC_FIRE_RATE_PER_SECOND: '2.5e1',
      Z4J_AUTO_MIGRATE: 'OFF',
      Z4J_METRICS_PUBLIC: 'Yes',
      Z4J_LOG_JSON: '0',
      Z4J_SESSION_COOKIE_SAMESITE: 'Strict',
      Z4J_OPENAPI_VISIBILITY: 'DISABLED',
    });
    expect(settings.wsMaxFrameBytes).toBe(8192);
    expect(settings.loginBackoffBaseSeconds).toBe(0.25);
    expect(settings.schedulerGrpcFireRatePerSecond).toBe(25);
    expect(settings.autoMigrate).toBe(false);
    expect(settings.metricsPublic).toBe(true);
    expect(settings.logJson).toBe(false);
    expect(settings.sessionCookieSamesite).toBe('strict');
    expect(settings.openapiVisibility).toBe('disabled');
  });

  it.each([
    ['DEBUG', 'debug'],
    ['info', 'info'],
    ['WARNING', 'warn'],
    ['Error', 'error'],
    ['CRITICAL', 'fatal'],
    ['trace', 'trace'],
    ['FATAL', 'fatal'],
  ])('normalises log level %s to pino %s', (raw, level) => {
    expect(resolveEnv({ Z4J_LOG_LEVEL: raw }).settings.logLevel).toBe(level);
  });

  it('treats an empty or blank value as unset', () => {
    const { settings, sources } = resolveEnv({ Z4J_DB_POOL_SIZE: '', Z4J_BIND_PORT: '   ' });
    expect(settings.dbPoolSize).toBe(10);
    expect(settings.bindPort).toBe(7700);
    expect(sources.Z4J_DB_POOL_SIZE).toBe('default');
  });

  it('accepts host, origin and proxy lists as JSON or comma-separated', () => {
    const { settings } = resolveEnv({
      Z4J_ALLOWED_HOSTS: 'z4j.example.com, .example.org,localhost:7700',
      Z4J_CORS_ORIGINS: '["https://App.example.com:443", "http://localhost:5173/"]',
      Z4J_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1 , fd00::/8,::1',
    });
    expect(settings.allowedHosts).toEqual(['z4j.example.com', '.example.org', 'localhost:7700']);
    expect(settings.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(settings.trustedProxies).toEqual(['10.0.0.0/8', '192.168.1.1', 'fd00::/8', '::1']);
  });

  it('reads JSON-only lists and the CN bindings object', () => {
    const { settings } = resolveEnv({
      Z4J_SCHEDULER_GRPC_ALLOWED_CNS: '["scheduler-1","scheduler-2"]',
      Z4J_SCHEDULER_INFO_URLS: '["http://scheduler-1:7800"]',
      Z4J_EMBEDDED_SCHEDULER_ARGV: '["serve","--verbose"]',
      Z4J_SCHEDULER_GRPC_CN_PROJECT_BINDINGS: '{"scheduler-1": ["acme", "globex"]}',
    });
    expect(settings.schedulerGrpcAllowedCns).toEqual(['scheduler-1', 'scheduler-2']);
    expect(settings.schedulerInfoUrls).toEqual(['http://scheduler-1:7800']);
    expect(settings.embeddedSchedulerArgv).toEqual(['serve', '--verbose']);
    expect(settings.schedulerGrpcCnProjectBindings).toEqual({ 'scheduler-1': ['acme', 'globex'] });
  });

  it('splits comma-separated previous secrets and regex lists', () => {
    const old1 = 'o'.repeat(32);
    const old2 = 'p'.repeat(33);
    const { settings } = resolveEnv({
      Z4J_PREVIOUS_SECRETS: ` ${old1}, ${old2},,`,
      Z4J_REDACTION_EXTRA_KEY_PATTERNS: 'internal_.*,x-acme-key',
    });
    expect(settings.previousSecrets).toEqual([old1, old2]);
    expect(settings.redactionExtraKeyPatterns).toEqual(['internal_.*', 'x-acme-key']);
  });

  it('normalises the database URL spellings', () => {
    for (const url of ['postgres://u@db/z4j', 'postgresql://u@db/z4j', 'postgresql+asyncpg://u@db/z4j']) {
      const config = resolveEnv({ Z4J_DATABASE_URL: url, Z4J_PUBLIC_URL: 'https://z4j.example.com' });
      expect(config.mode).toBe('postgres');
      expect(config.settings.databaseUrl).toBe(url.replace('+asyncpg', ''));
    }
  });

  it('trims the public URL and keeps a path prefix', () => {
    expect(resolveEnv({ Z4J_PUBLIC_URL: 'https://Z4J.example.com/' }).settings.publicUrl).toBe('https://z4j.example.com');
    expect(resolveEnv({ Z4J_PUBLIC_URL: 'https://example.com/z4j//' }).settings.publicUrl).toBe('https://example.com/z4j');
    expect(resolveEnv({ Z4J_PUBLIC_URL: 'http://127.0.0.5:8080' }).settings.publicUrl).toBe('http://127.0.0.5:8080');
    expect(resolveEnv({ Z4J_PUBLIC_URL: 'http://[::1]:7700' }).settings.publicUrl).toBe('http://[::1]:7700');
  });

  it('expands ~ and relative paths', () => {
    const { settings } = resolveEnv({ Z4J_DASHBOARD_DIST: 'dist/dashboard', Z4J_SCHEDULER_GRPC_TLS_CA: '~/pki/ca.pem' });
    expect(settings.dashboardDist).toBe('/srv/app/dist/dashboard');
    expect(settings.schedulerGrpcTlsCa).toBe('/home/op/pki/ca.pem');
  });

  it('allows port 0 (ephemeral) for every listener', () => {
    const { settings } = resolveEnv({ Z4J_BIND_PORT: '0', Z4J_SCHEDULER_GRPC_BIND_PORT: '0', Z4J_INGEST_GRPC_BIND_PORT: '0' });
    expect(settings.bindPort).toBe(0);
    expect(settings.schedulerGrpcBindPort).toBe(0);
    expect(settings.ingestGrpcBindPort).toBe(0);
  });

  it('reads the ingest gRPC dial target as host:port', () => {
    expect(resolveEnv({ Z4J_INGEST_GRPC_URL: 'ingest:7702' }).settings.ingestGrpcUrl).toBe('ingest:7702');
    expect(resolveEnv({ Z4J_INGEST_GRPC_URL: ' [::1]:7702 ' }).settings.ingestGrpcUrl).toBe('[::1]:7702');
  });
});

describe('invalid values', () => {
  it.each([
    // integers
    ['Z4J_WS_MAX_FRAME_BYTES', 'abc', 'Z4J_WS_MAX_FRAME_BYTES: expected an integer from 8192 to 33554432, got "abc"'],
    ['Z4J_DB_POOL_SIZE', '1.5', 'Z4J_DB_POOL_SIZE: expected an integer from 1 to 1000, got "1.5"'],
    ['Z4J_DB_POOL_SIZE', '0', 'Z4J_DB_POOL_SIZE: expected an integer from 1 to 1000, got "0"'],
    ['Z4J_DB_POOL_SIZE', '1e2', 'expected an integer from 1 to 1000'],
    ['Z4J_RATELIMIT_EVENTS_PER_SECOND', '0', 'Z4J_RATELIMIT_EVENTS_PER_SECOND: expected an integer of at least 1, got "0"'],
    ['Z4J_WS_MAX_FRAME_BYTES', '8191', 'expected an integer from 8192 to 33554432, got "8191"'],
    ['Z4J_WS_MAX_FRAME_BYTES', '33554433', 'expected an integer from 8192 to 33554432'],
    ['Z4J_MFA_ENROLLMENT_GRACE_DAYS', '0', 'expected an integer from 1 to 90'],
    ['Z4J_MFA_ENROLLMENT_GRACE_DAYS', '91', 'expected an integer from 1 to 90'],
    ['Z4J_MFA_RECOVERY_CODE_COUNT', '4', 'expected an integer from 5 to 50'],
    ['Z4J_MFA_RECOVERY_CODE_COUNT', '51', 'expected an integer from 5 to 50'],
    ['Z4J_MFA_REMEMBER_DEVICE_DAYS', '91', 'expected an integer from 1 to 90'],
    ['Z4J_BIND_PORT', '65536', 'Z4J_BIND_PORT: expected an integer from 0 to 65535'],
    ['Z4J_SCHEDULER_GRPC_BIND_PORT', '-1', 'expected an integer from 0 to 65535'],
    ['Z4J_INGEST_GRPC_BIND_PORT', '65536', 'Z4J_INGEST_GRPC_BIND_PORT: expected an integer from 0 to 65535'],
    ['Z4J_DB_STATEMENT_TIMEOUT_MS', '0', 'expected an integer from 1 to 600000'],
    ['Z4J_COMMAND_TIMEOUT_SECONDS', '3601', 'expected an integer from 1 to 3600'],
    // floats
    ['Z4J_ASYNCPG_CONNECT_TIMEOUT', '0', 'Z4J_ASYNCPG_CONNECT_TIMEOUT: expected a number greater than 0 and at most 60, got "0"'],
    ['Z4J_ASYNCPG_CONNECT_TIMEOUT', 'soon', 'expected a number greater than 0 and at most 60'],
    ['Z4J_SCHEDULER_GRPC_GRACE_SECONDS', 'Infinity', 'expected a number greater than 0'],
    ['Z4J_LOGIN_BACKOFF_BASE_SECONDS', '-0.5', 'expected a number from 0 to 10'],
    // booleans and enums
    ['Z4J_AUTO_MIGRATE', 'maybe', 'Z4J_AUTO_MIGRATE: expected a boolean (true/false, 1/0, yes/no, on/off), got "maybe"'],
    ['Z4J_SESSION_COOKIE_SAMESITE', 'none', 'Z4J_SESSION_COOKIE_SAMESITE: expected one of lax, strict, got "none"'],
    ['Z4J_REGISTRY_BACKEND', 'redis', 'expected one of postgres_notify, local'],
    ['Z4J_OPENAPI_VISIBILITY', 'secret', 'expected one of public, private, disabled'],
    [
      'Z4J_LOG_LEVEL',
      'verbose',
      'Z4J_LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, trace, fatal (any case), got "verbose"',
    ],
    // JSON arrays and objects
    ['Z4J_SCHEDULER_GRPC_ALLOWED_CNS', 'scheduler-1', 'expected a JSON array of non-empty names'],
    ['Z4J_SCHEDULER_GRPC_ALLOWED_CNS', '[1, 2]', 'expected a JSON array of non-empty names (entry 1 is not a string)'],
    ['Z4J_EMBEDDED_SCHEDULER_ARGV', '{"a":1}', 'expected a JSON array of strings'],
    ['Z4J_SCHEDULER_INFO_URLS', '["ftp://x"]', 'expected a JSON array of http(s) URLs'],
    ['Z4J_ALLOWED_HOSTS', '["a.com",', 'expected a JSON array or comma-separated list of host names'],
    ['Z4J_ALLOWED_HOSTS', 'https://z4j.example.com', 'is not valid'],
    ['Z4J_SCHEDULER_GRPC_CN_PROJECT_BINDINGS', '["acme"]', 'expected a JSON object mapping certificate CN to a list of project slugs'],
    ['Z4J_SCHEDULER_GRPC_CN_PROJECT_BINDINGS', '{"cn": "acme"}', 'the value for "cn" is not a list of non-empty slugs'],
    ['Z4J_SCHEDULER_GRPC_CN_PROJECT_BINDINGS', '{not json}', 'expected a JSON object'],
    // CIDR and origins
    ['Z4J_TRUSTED_PROXIES', '10.0.0.0/33', '(entry 1, "10.0.0.0/33", is not valid)'],
    ['Z4J_TRUSTED_PROXIES', '10.0.0.1, 127.1', '(entry 2, "127.1", is not valid)'],
    ['Z4J_TRUSTED_PROXIES', '["proxy.internal"]', 'expected a JSON array or comma-separated list of IP addresses or CIDR ranges'],
    ['Z4J_CORS_ORIGINS', 'https://app.example.com/dashboard', 'expected a JSON array or comma-separated list of origins'],
    ['Z4J_CORS_ORIGINS', '*', 'origins like https://app.example.com[:port] (no path)'],
    ['Z4J_CORS_ORIGINS', 'ftp://files.example.com', 'is not valid'],
    ['Z4J_CORS_ORIGINS', 'https://app.example.com?x=1', 'is not valid'],
    // URLs
    ['Z4J_PUBLIC_URL', 'ftp://z4j.example.com', 'Z4J_PUBLIC_URL: expected an http(s) URL without whitespace, user info, query or fragment'],
    ['Z4J_PUBLIC_URL', 'https://admin@z4j.example.com', 'without whitespace, user info'],
    ['Z4J_PUBLIC_URL', 'https://good.example.com@evil.example.com', 'without whitespace, user info'],
    ['Z4J_PUBLIC_URL', 'https://z4j.example.com/a b', 'without whitespace'],
    ['Z4J_PUBLIC_URL', ' https://z4j.example.com', 'without whitespace'],
    ['Z4J_PUBLIC_URL', 'https://z4j.example.com/?next=1', 'query or fragment'],
    ['Z4J_PUBLIC_URL', 'z4j.example.com', 'expected an http(s) URL'],
    ['Z4J_SCHEDULER_TRIGGER_URL', 'scheduler', 'expected host:port'],
    ['Z4J_SCHEDULER_TRIGGER_URL', 'scheduler:99999', 'expected host:port'],
    ['Z4J_INGEST_GRPC_URL', 'ingest', 'Z4J_INGEST_GRPC_URL: expected host:port'],
    ['Z4J_INGEST_GRPC_URL', 'http://ingest:7702', 'expected host:port'],
    ['Z4J_INGEST_GRPC_URL', 'ingest:0', 'expected host:port'],
    ['Z4J_VERSION_CHECK_URL', 'file:///etc/passwd', 'expected an http:// or https:// URL'],
    // regexes and text
    [
      'Z4J_REDACTION_EXTRA_VALUE_PATTERNS',
      'ok_[a-z]+,bad(',
      'Z4J_REDACTION_EXTRA_VALUE_PATTERNS: expected comma-separated regular expressions (entry 2, "bad(", is invalid',
    ],
    ['Z4J_BOOTSTRAP_ADMIN_EMAIL', 'admin', 'expected an email address'],
    ['Z4J_BIND_HOST', 'local host', 'expected a value without spaces'],
    ['Z4J_ENVIRONMENT', 'x'.repeat(41), 'expected one line of text, at most 40 characters'],
  ])('%s=%j is refused', (name, value, message) => {
    const error = errorOf({ [name]: value });
    expect(error.variable).toBe(name);
    expect(error.message).toContain(message);
    expect(error.message.split('\n')).toHaveLength(1);
  });

  it('refuses an unsupported database URL scheme without echoing it', () => {
    const error = errorOf({ Z4J_DATABASE_URL: 'mysql://root:hunter2@db/z4j' });
    expect(error.message).toBe(
      'Z4J_DATABASE_URL: expected a postgres://, postgresql:// or postgresql+asyncpg:// URL, got <redacted, 27 bytes>',
    );
  });

  it.each([
    ['Z4J_SECRET', 'shortsecret!', 'Z4J_SECRET: expected a secret of at least 32 bytes, got <redacted, 12 bytes>'],
    ['Z4J_SESSION_SECRET', 'é'.repeat(15), 'Z4J_SESSION_SECRET: expected a secret of at least 32 bytes, got <redacted, 30 bytes>'],
    ['Z4J_AUDIT_WEBHOOK_HMAC_SECRET', 'tiny-webhook-key', 'got <redacted, 16 bytes>'],
    [
      'Z4J_PREVIOUS_SECRETS',
      `${'a'.repeat(40)},too-short-previous`,
      'Z4J_PREVIOUS_SECRETS: expected comma-separated secrets of at least 32 bytes each (entry 2 is 18 bytes), got <redacted, 59 bytes>',
    ],
    ['Z4J_PREVIOUS_SESSION_SECRETS', 'too-short-previous', '(entry 1 is 18 bytes)'],
    ['Z4J_METRICS_AUTH_TOKEN', 'has a space', 'Z4J_METRICS_AUTH_TOKEN: expected a token without whitespace, got <redacted, 11 bytes>'],
  ])('%s: a bad secret is reported by length only', (name, value, message) => {
    const error = errorOf({ [name]: value });
    expect(error.message).toContain(message);
    for (const part of value.split(',')) expect(error.message).not.toContain(part);
  });

  it('counts secret bytes in UTF-8, not characters', () => {
    // 16 two-byte characters = 32 bytes: accepted although only 16 characters long.
    expect(resolveEnv({ Z4J_SECRET: 'é'.repeat(16) }).settings.secret).toBe('é'.repeat(16));
  });

  it('reports every bad variable, the first one on a self-contained line, in table order', () => {
    const error = errorOf({ Z4J_LOG_LEVEL: 'loud', Z4J_BIND_PORT: 'x', Z4J_DB_POOL_SIZE: '0' });
    expect(error.issues.map((issue) => issue.variable)).toEqual(['Z4J_DB_POOL_SIZE', 'Z4J_BIND_PORT', 'Z4J_LOG_LEVEL']);
    expect(error.message).toBe('Z4J_DB_POOL_SIZE: expected an integer from 1 to 1000, got "0" (and 2 more: Z4J_BIND_PORT, Z4J_LOG_LEVEL)');
    expect(error.expected).toBe('an integer from 1 to 1000');
    expect(error.name).toBe('ConfigError');
  });
});
