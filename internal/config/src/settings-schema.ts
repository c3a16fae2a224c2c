import { homedir } from 'node:os';
import * as v from 'valibot';
import type { PathContext } from './expand-path.js';
import {
  bearerToken,
  boolean,
  email,
  float,
  integer,
  logLevel,
  oneOf,
  password,
  path,
  port,
  positiveFloat,
  secret,
  text,
  type FieldKind,
} from './field-kinds.js';
import { argvList, cidrList, cnProjectBindings, hostList, nameList, originList, regexList, secretList, urlList } from './list-kinds.js';
import { databaseUrl, hostPort, httpUrl, publicUrl } from './url-kinds.js';

/**
 * THE list of brain settings. Everything else is derived from it: the valibot
 * schema below, the `Settings` type, `config show` and the admin "effective
 * settings" page. Add a variable here and nowhere else.
 *
 * Each entry's `description` is its one-line comment (and what operators see).
 * `default` is the raw string an operator would write, parsed by the same
 * kind as a real value, so a default can never violate its own range.
 * `undefined` means no default: the setting is optional, or derived in
 * `resolveConfig` from other settings (`defaultNote` says how).
 */
export interface VariableSpec<T, D extends string | undefined> {
  readonly section: SettingsSection;
  readonly default: D;
  /** For settings without a literal default: how the value is obtained when unset. */
  readonly defaultNote?: string;
  /** Masked in errors, logs, `config show` and the admin page. */
  readonly secret?: boolean;
  /** Other names accepted for the same setting; the canonical name wins within a layer. */
  readonly aliases?: readonly string[];
  readonly description: string;
  readonly kind: FieldKind<T>;
}

export type SettingsSection =
  | 'secrets'
  | 'database'
  | 'passwords'
  | 'sessions'
  | 'reconciliation'
  | 'retention'
  | 'metrics'
  | 'first-boot'
  | 'mfa'
  | 'notifications'
  | 'agent-health'
  | 'websocket'
  | 'ingest-grpc'
  | 'registry'
  | 'rest'
  | 'security'
  | 'server'
  | 'audit'
  | 'dashboard'
  | 'redaction'
  | 'commands'
  | 'scheduler-grpc'
  | 'scheduler-trigger'
  | 'embedded-scheduler'
  | 'schedule-fires';

/** Identity function that pins `T` and the literal type of `default` for the types below. */
function variable<T, const D extends string | undefined>(spec: VariableSpec<T, D>): VariableSpec<T, D> {
  return spec;
}

const SECRET_MIN_BYTES = 32;

export const SETTING_VARIABLES = {
  // ── secrets and identity ────────────────────────────────────────────────
  Z4J_DATABASE_URL: variable({
    section: 'secrets',
    default: undefined,
    defaultNote: 'unset = embedded database under $Z4J_HOME',
    secret: true,
    description: 'Postgres connection string (postgres://, postgresql:// or postgresql+asyncpg://); unset runs the embedded database.',
    kind: databaseUrl(),
  }),
  Z4J_SECRET: variable({
    section: 'secrets',
    default: undefined,
    defaultNote: 'minted into $Z4J_HOME/secret.env in embedded mode; required otherwise',
    secret: true,
    description: 'Master HMAC key (≥32 bytes): per-project frame HMAC, audit-row HMAC, token hashes.',
    kind: secret(SECRET_MIN_BYTES),
  }),
  Z4J_SESSION_SECRET: variable({
    section: 'secrets',
    default: undefined,
    defaultNote: 'minted into $Z4J_HOME/secret.env in embedded mode; required otherwise',
    secret: true,
    description: 'Independent key (≥32 bytes) for session cookies; rotating it signs everyone out.',
    kind: secret(SECRET_MIN_BYTES),
  }),
  Z4J_PUBLIC_URL: variable({
    section: 'secrets',
    default: undefined,
    defaultNote: 'http://localhost:<Z4J_BIND_PORT> (7700 when the port is 0); required in postgres mode in production',
    description: 'Externally reachable base URL used in setup and invitation links; https unless loopback or Z4J_ALLOW_HTTP_PUBLIC_URL.',
    kind: publicUrl(),
  }),
  Z4J_PREVIOUS_SECRETS: variable({
    section: 'secrets',
    default: '',
    secret: true,
    description: 'Comma-separated former Z4J_SECRET values still accepted for verification during a rotation.',
    kind: secretList(SECRET_MIN_BYTES),
  }),
  Z4J_PREVIOUS_SESSION_SECRETS: variable({
    section: 'secrets',
    default: '',
    secret: true,
    description: 'Comma-separated former session secrets still accepted for cookies during a rotation.',
    kind: secretList(SECRET_MIN_BYTES),
  }),
  Z4J_HOME: variable({
    section: 'secrets',
    default: '~/.z4j',
    description: 'Directory for config.env, secret.env and the embedded database; only the process environment can set it.',
    kind: path(),
  }),

  // ── database ────────────────────────────────────────────────────────────
  Z4J_DB_POOL_SIZE: variable({
    section: 'database',
    default: '10',
    description: 'Connections in the Postgres pool per process.',
    kind: integer(1, 1000),
  }),
  Z4J_DATABASE_STATEMENT_CACHE_SIZE: variable({
    section: 'database',
    default: '50',
    description: 'Per-connection prepared-statement cache cap where the driver has one; 0 disables.',
    kind: integer(0, 10_000),
  }),
  Z4J_DATABASE_MAX_INACTIVE_CONNECTION_LIFETIME_SECONDS: variable({
    section: 'database',
    default: '60',
    description: 'Seconds an idle pooled connection lives before it is closed and reopened.',
    kind: float({ min: 1, max: 3600 }),
  }),
  Z4J_AUTO_MIGRATE: variable({
    section: 'database',
    default: 'true',
    description: 'Apply pending migrations at boot; false when an orchestrator runs `z4j migrate` separately.',
    kind: boolean(),
  }),
  Z4J_REQUIRE_DB_SSL: variable({
    section: 'database',
    default: 'true',
    description: 'Refuse Postgres URLs that do not require SSL (relaxed for loopback hosts).',
    kind: boolean(),
  }),
  Z4J_DB_STATEMENT_TIMEOUT_MS: variable({
    section: 'database',
    default: '10000',
    description: 'Postgres statement_timeout in milliseconds; caps any single query.',
    kind: integer(1, 600_000),
  }),
  Z4J_DB_LOCK_TIMEOUT_MS: variable({
    section: 'database',
    default: '3000',
    description: 'Postgres lock_timeout in milliseconds; caps waiting for a row lock.',
    kind: integer(1, 600_000),
  }),
  Z4J_DB_IDLE_IN_TX_TIMEOUT_MS: variable({
    section: 'database',
    default: '30000',
    description: 'Postgres idle_in_transaction_session_timeout in milliseconds.',
    kind: integer(1, 600_000),
  }),
  Z4J_ASYNCPG_CONNECT_TIMEOUT: variable({
    section: 'database',
    default: '10.0',
    description: 'Seconds before a database connect attempt times out.',
    kind: positiveFloat(60),
  }),
  Z4J_ASYNCPG_CLOSE_TIMEOUT: variable({
    section: 'database',
    default: '5.0',
    description: 'Seconds before closing a database connection times out.',
    kind: positiveFloat(30),
  }),
  Z4J_WAL_CHECKPOINT_INTERVAL_SECONDS: variable({
    section: 'database',
    default: '300',
    description: 'Embedded database checkpoint/vacuum cadence in seconds; ignored on Postgres.',
    kind: integer(1, 86_400),
  }),

  // ── passwords ───────────────────────────────────────────────────────────
  Z4J_PASSWORD_MIN_LENGTH: variable({
    section: 'passwords',
    default: '8',
    description: 'Minimum password length (8 is the NIST floor, so it cannot go lower).',
    kind: integer(8, 128),
  }),
  Z4J_ARGON2_TIME_COST: variable({
    section: 'passwords',
    default: '3',
    description: 'argon2id time cost (iterations).',
    kind: integer(1, 10),
  }),
  Z4J_ARGON2_MEMORY_COST: variable({
    section: 'passwords',
    default: '65536',
    description: 'argon2id memory in KiB (64 MiB default; at least 8 MiB).',
    kind: integer(8192, 4_194_304),
  }),
  Z4J_ARGON2_PARALLELISM: variable({
    section: 'passwords',
    default: '4',
    description: 'argon2id lanes (threads).',
    kind: integer(1, 16),
  }),

  // ── sessions and login ──────────────────────────────────────────────────
  Z4J_SESSION_ABSOLUTE_LIFETIME_SECONDS: variable({
    section: 'sessions',
    default: '604800',
    description: 'Hard cap on a session’s age in seconds (7 days), regardless of activity.',
    kind: integer(1),
  }),
  Z4J_SESSION_IDLE_TIMEOUT_SECONDS: variable({
    section: 'sessions',
    default: '1800',
    description: 'Sliding idle timeout in seconds (30 minutes) since the session was last seen.',
    kind: integer(1),
  }),
  Z4J_SESSION_COOKIE_SAMESITE: variable({
    section: 'sessions',
    default: 'lax',
    description: 'SameSite attribute of the session cookie: lax or strict (never none).',
    kind: oneOf(['lax', 'strict']),
  }),
  Z4J_SESSION_PIN_USER_AGENT: variable({
    section: 'sessions',
    default: 'false',
    description: 'Reject a session whose User-Agent changed since it was issued (false positives on mobile).',
    kind: boolean(),
  }),
  Z4J_LOGIN_LOCKOUT_THRESHOLD: variable({
    section: 'sessions',
    default: '10',
    description: 'Failed logins on one account before it is locked.',
    kind: integer(3, 100),
  }),
  Z4J_LOGIN_LOCKOUT_DURATION_SECONDS: variable({
    section: 'sessions',
    default: '900',
    description: 'Seconds an account stays locked after the threshold.',
    kind: integer(1, 86_400),
  }),
  Z4J_LOGIN_BACKOFF_BASE_SECONDS: variable({
    section: 'sessions',
    default: '0.5',
    description: 'Base of the per-failure login delay in seconds (doubles per failure); 0 disables.',
    kind: float({ min: 0, max: 10 }),
  }),
  Z4J_LOGIN_BACKOFF_MAX_SECONDS: variable({
    section: 'sessions',
    default: '5.0',
    description: 'Cap on the per-failure login delay in seconds.',
    kind: float({ min: 0, max: 60 }),
  }),
  Z4J_LOGIN_MIN_DURATION_MS: variable({
    section: 'sessions',
    default: '300',
    description: 'Minimum /auth/login response time in ms so timing cannot reveal whether an account exists.',
    kind: integer(0, 2000),
  }),
  Z4J_LOG_LOGIN_EMAIL: variable({
    section: 'sessions',
    default: 'false',
    description: 'Log the attempted email on failed logins (off: PII in log streams).',
    kind: boolean(),
  }),

  // ── reconciliation ──────────────────────────────────────────────────────
  Z4J_RECONCILIATION_SWEEP_SECONDS: variable({
    section: 'reconciliation',
    default: '300',
    description: 'Seconds between passes comparing in-flight tasks with engine result backends.',
    kind: integer(1, 3600),
  }),
  Z4J_RECONCILIATION_STALE_THRESHOLD_SECONDS: variable({
    section: 'reconciliation',
    default: '900',
    description: 'Age in seconds before a started task is eligible for reconciliation.',
    kind: integer(1, 86_400),
  }),

  // ── retention ───────────────────────────────────────────────────────────
  Z4J_EVENT_RETENTION_DAYS: variable({
    section: 'retention',
    default: '30',
    description: 'Days raw events live before their partition is dropped.',
    kind: integer(1, 3650),
  }),
  Z4J_AUDIT_RETENTION_DAYS: variable({
    section: 'retention',
    default: '90',
    description: 'Days audit_log rows live before they are pruned.',
    kind: integer(1, 3650),
  }),
  Z4J_AUDIT_RETENTION_SWEEP_INTERVAL_SECONDS: variable({
    section: 'retention',
    default: '3600',
    description: 'Seconds between audit retention sweeps.',
    kind: integer(1, 86_400),
  }),
  Z4J_AUDIT_RETENTION_SWEEP_BATCH_SIZE: variable({
    section: 'retention',
    default: '5000',
    description: 'Audit rows deleted per database round-trip within a sweep.',
    kind: integer(100, 100_000),
  }),
  Z4J_AUDIT_RETENTION_SWEEP_MAX_PER_PASS: variable({
    section: 'retention',
    default: '200000',
    description: 'Most audit rows deleted in one sweep; the rest wait for the next interval.',
    kind: integer(1000, 10_000_000),
  }),

  // ── metrics ─────────────────────────────────────────────────────────────
  Z4J_METRICS_AUTH_TOKEN: variable({
    section: 'metrics',
    default: undefined,
    defaultNote: 'minted into $Z4J_HOME/secret.env by `z4j serve` unless Z4J_METRICS_PUBLIC',
    secret: true,
    aliases: ['Z4J_METRICS_TOKEN'],
    description: 'Bearer token required by /metrics (Z4J_METRICS_TOKEN is accepted too).',
    kind: bearerToken(),
  }),
  Z4J_METRICS_PUBLIC: variable({
    section: 'metrics',
    default: 'false',
    description: 'Serve /metrics without a token; only behind a firewall or authenticating proxy.',
    kind: boolean(),
  }),
  Z4J_METRICS_ENABLED: variable({
    section: 'metrics',
    default: 'true',
    description: 'Mount the /metrics route at all.',
    kind: boolean(),
  }),

  // ── first boot ──────────────────────────────────────────────────────────
  Z4J_BOOTSTRAP_ADMIN_EMAIL: variable({
    section: 'first-boot',
    default: undefined,
    description: 'Provision this admin at first boot instead of printing a setup link.',
    kind: email(),
  }),
  Z4J_BOOTSTRAP_ADMIN_PASSWORD: variable({
    section: 'first-boot',
    default: undefined,
    secret: true,
    description: 'Password for Z4J_BOOTSTRAP_ADMIN_EMAIL (required with it).',
    kind: password(),
  }),
  Z4J_FIRST_BOOT_TOKEN_TTL_SECONDS: variable({
    section: 'first-boot',
    default: '900',
    description: 'Seconds the one-time setup token stays valid.',
    kind: integer(1, 86_400),
  }),
  Z4J_FIRST_BOOT_ATTEMPTS_PER_IP: variable({
    section: 'first-boot',
    default: '30',
    description: 'Setup-token attempts allowed per IP per 15 minutes.',
    kind: integer(1, 100),
  }),

  // ── MFA ─────────────────────────────────────────────────────────────────
  Z4J_MFA_ENFORCE_FOR_ADMINS: variable({
    section: 'mfa',
    default: 'false',
    description: 'Restrict un-enrolled global admins once their grace window ends.',
    kind: boolean(),
  }),
  Z4J_MFA_ENFORCE_FOR_ALL: variable({
    section: 'mfa',
    default: 'false',
    description: 'Restrict every un-enrolled user once their grace window ends.',
    kind: boolean(),
  }),
  Z4J_MFA_ENROLLMENT_GRACE_DAYS: variable({
    section: 'mfa',
    default: '7',
    description: 'Days a targeted user has to enroll in MFA.',
    kind: integer(1, 90),
  }),
  Z4J_MFA_RECOVERY_CODE_COUNT: variable({
    section: 'mfa',
    default: '10',
    description: 'Single-use recovery codes minted at enrollment.',
    kind: integer(5, 50),
  }),
  Z4J_MFA_VERIFICATION_TTL_SECONDS: variable({
    section: 'mfa',
    default: '900',
    description: 'Seconds a successful MFA verify counts as fresh for sensitive actions.',
    kind: integer(1, 86_400),
  }),
  Z4J_MFA_REMEMBER_DEVICE_DAYS: variable({
    section: 'mfa',
    default: '30',
    description: 'Lifetime in days of the "remember this device" cookie.',
    kind: integer(1, 90),
  }),
  Z4J_MFA_VERIFICATION_RATE_PER_MIN: variable({
    section: 'mfa',
    default: '10',
    description: 'Per-IP /auth/mfa/verify attempts per minute.',
    kind: integer(1, 300),
  }),

  // ── notifications ───────────────────────────────────────────────────────
  Z4J_NOTIFICATIONS_WEBHOOK_ALLOW_HTTP: variable({
    section: 'notifications',
    default: 'false',
    description: 'Allow plaintext http:// webhook channel URLs.',
    kind: boolean(),
  }),

  // ── agent health ────────────────────────────────────────────────────────
  Z4J_AGENT_OFFLINE_TIMEOUT_SECONDS: variable({
    section: 'agent-health',
    default: '30',
    description: 'Seconds without a heartbeat before an agent shows offline.',
    kind: integer(1, 3600),
  }),
  Z4J_AGENT_HEALTH_SWEEP_SECONDS: variable({
    section: 'agent-health',
    default: '10',
    description: 'Seconds between agent health sweeps.',
    kind: integer(1, 300),
  }),
  Z4J_AGENT_STALE_PRUNE_DAYS: variable({
    section: 'agent-health',
    default: '30',
    description: 'Days offline before an agent is soft-removed from listings; 0 never prunes.',
    kind: integer(0, 3650),
  }),

  // ── websocket ───────────────────────────────────────────────────────────
  Z4J_WS_IDLE_TIMEOUT_SECONDS: variable({
    section: 'websocket',
    default: '90',
    description: 'Seconds without a frame before /ws/agent or /ws/dashboard is closed.',
    kind: integer(1, 3600),
  }),
  Z4J_WS_INGEST_QUEUE_MAXSIZE: variable({
    section: 'websocket',
    default: '2000',
    description: 'Bounded per-connection ingest queue, so ping/pong flows while writes are slow.',
    kind: integer(16, 50_000),
  }),
  Z4J_WS_MAX_FRAME_BYTES: variable({
    section: 'websocket',
    default: '1048576',
    description: 'Largest inbound WebSocket frame in bytes (1 MiB); larger closes with 4400.',
    kind: integer(8192, 33_554_432),
  }),
  Z4J_WS_PER_AGENT_CONCURRENCY_CAP: variable({
    section: 'websocket',
    default: '64',
    description: 'Most distinct worker sockets per agent (beyond: close 4429); 0 is unlimited.',
    kind: integer(0, 10_000),
  }),

  // ── ingest gRPC (gateway → ingest, separate deployments) ────────────────
  Z4J_INGEST_GRPC_BIND_HOST: variable({
    section: 'ingest-grpc',
    default: '0.0.0.0',
    description: 'Interface the ingest gRPC server binds (ingest deployed on its own).',
    kind: text({ noSpaces: true, maxLength: 255 }),
  }),
  Z4J_INGEST_GRPC_BIND_PORT: variable({
    section: 'ingest-grpc',
    default: '7702',
    description: 'Port of the ingest gRPC server; 0 picks an ephemeral port (tests).',
    kind: port(),
  }),
  Z4J_INGEST_GRPC_URL: variable({
    section: 'ingest-grpc',
    default: undefined,
    description: 'host:port of the ingest gRPC server the gateway streams batches to; unset calls ingest in-process.',
    kind: hostPort(),
  }),

  // ── registry ────────────────────────────────────────────────────────────
  Z4J_REGISTRY_BACKEND: variable({
    section: 'registry',
    default: 'postgres_notify',
    description: 'Command routing across replicas: postgres_notify or local (forced local on the embedded database).',
    kind: oneOf(['postgres_notify', 'local']),
  }),
  Z4J_REGISTRY_LISTENER_HEARTBEAT_SECONDS: variable({
    section: 'registry',
    default: '10',
    description: 'Seconds between self-NOTIFY heartbeats on the LISTEN connection.',
    kind: integer(1, 300),
  }),
  Z4J_REGISTRY_LISTENER_HEARTBEAT_TIMEOUT_SECONDS: variable({
    section: 'registry',
    default: '25',
    description: 'Seconds without a heartbeat before the LISTEN connection is reopened.',
    kind: integer(2, 600),
  }),
  Z4J_REGISTRY_LISTENER_MAX_AGE_SECONDS: variable({
    section: 'registry',
    default: '900',
    description: 'Seconds before the LISTEN connection is recycled regardless.',
    kind: integer(1, 86_400),
  }),
  Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS: variable({
    section: 'registry',
    default: '30',
    description: 'Seconds between polls for pending commands to agents this replica holds.',
    kind: integer(1, 600),
  }),

  // ── REST and rate limits ────────────────────────────────────────────────
  Z4J_MAX_PAYLOAD_SIZE_BYTES: variable({
    section: 'rest',
    default: '8192',
    description: 'Largest REST request body in bytes; larger returns 413.',
    kind: integer(128),
  }),
  Z4J_TASKS_EXPORT_MAX_ROWS: variable({
    section: 'rest',
    default: '50000',
    description: 'Most rows a task or audit export may fetch.',
    kind: integer(100, 100_000),
  }),
  Z4J_RATELIMIT_COMMANDS_PER_MINUTE: variable({
    section: 'rest',
    default: '100',
    description: 'Commands a project may issue per minute.',
    kind: integer(1),
  }),
  Z4J_RATELIMIT_EVENTS_PER_SECOND: variable({
    section: 'rest',
    default: '10000',
    description: 'Events a project may ingest per second.',
    kind: integer(1),
  }),
  Z4J_ADMIN_PROJECT_LIST_CAP: variable({
    section: 'rest',
    default: '500',
    description: 'Most projects returned by admin project listings.',
    kind: integer(10, 100_000),
  }),
  Z4J_REQUEST_TIMEOUT_SECONDS: variable({
    section: 'rest',
    default: '30',
    description: 'Wall-clock budget in seconds for one REST request.',
    kind: integer(1, 600),
  }),
  Z4J_REST_DEFAULT_PAGE_SIZE: variable({
    section: 'rest',
    default: '50',
    description: 'Page size of list endpoints when the caller gives no limit.',
    kind: integer(1, 1000),
  }),
  Z4J_REST_MAX_PAGE_SIZE: variable({
    section: 'rest',
    default: '500',
    description: 'Largest page size a list endpoint accepts.',
    kind: integer(1, 5000),
  }),
  Z4J_OPENAPI_VISIBILITY: variable({
    section: 'rest',
    default: 'private',
    description: 'OpenAPI schema and docs: public, private (signed-in only) or disabled.',
    kind: oneOf(['public', 'private', 'disabled']),
  }),

  // ── security: hosts, CORS, proxies, HSTS ────────────────────────────────
  Z4J_ALLOWED_HOSTS: variable({
    section: 'security',
    default: '[]',
    description: 'Accepted Host headers (JSON array or comma list); production deployments should set it.',
    kind: hostList(),
  }),
  Z4J_CORS_ORIGINS: variable({
    section: 'security',
    default: '[]',
    description: 'Origins allowed to call the API cross-site (JSON array or comma list of https://host[:port]).',
    kind: originList(),
  }),
  Z4J_CORS_ALLOW_CREDENTIALS: variable({
    section: 'security',
    default: 'true',
    description: 'Allow credentials (cookies) on CORS requests.',
    kind: boolean(),
  }),
  Z4J_TRUSTED_PROXIES: variable({
    section: 'security',
    default: '[]',
    description: 'Proxy IPs/CIDRs whose X-Forwarded-For is trusted; empty trusts none.',
    kind: cidrList(),
  }),
  Z4J_HSTS_MAX_AGE_SECONDS: variable({
    section: 'security',
    default: '31536000',
    description: 'HSTS max-age in seconds (1 year), sent only in production over https.',
    kind: integer(0),
  }),
  Z4J_HSTS_INCLUDE_SUBDOMAINS: variable({
    section: 'security',
    default: 'true',
    description: 'Append includeSubDomains to the HSTS header.',
    kind: boolean(),
  }),
  Z4J_ALLOW_HTTP_PUBLIC_URL: variable({
    section: 'security',
    default: 'false',
    description: 'Dev/test escape hatch: accept a non-loopback plain http:// Z4J_PUBLIC_URL.',
    kind: boolean(),
  }),

  // ── server and logging ──────────────────────────────────────────────────
  Z4J_BIND_HOST: variable({
    section: 'server',
    default: '0.0.0.0',
    description: 'Interface the HTTP server binds.',
    kind: text({ noSpaces: true, maxLength: 255 }),
  }),
  Z4J_BIND_PORT: variable({
    section: 'server',
    default: '7700',
    description: 'Port the HTTP server binds; 0 picks an ephemeral port (tests).',
    kind: port(),
  }),
  Z4J_ENVIRONMENT: variable({
    section: 'server',
    default: 'production',
    description: 'Environment label for logs and the dashboard; `production` also turns on production-only checks.',
    kind: text({ maxLength: 40 }),
  }),
  Z4J_LOG_JSON: variable({
    section: 'server',
    default: 'true',
    description: 'JSON log lines (true) or human-readable console output (false).',
    kind: boolean(),
  }),
  Z4J_LOG_LEVEL: variable({
    section: 'server',
    default: 'INFO',
    description: 'Log level: DEBUG, INFO, WARNING, ERROR, CRITICAL (or trace, fatal); normalised to pino levels.',
    kind: logLevel(),
  }),
  Z4J_VERSION_CHECK_URL: variable({
    section: 'server',
    default: 'https://raw.githubusercontent.com/z4jdev/z4j/main/versions.json',
    description: 'Feed behind the dashboard’s "Check for updates" button; point it at a mirror when air-gapped.',
    kind: httpUrl(),
  }),

  // ── audit forwarding ────────────────────────────────────────────────────
  Z4J_AUDIT_WEBHOOK_URL: variable({
    section: 'audit',
    default: undefined,
    secret: true,
    description: 'Receiver that gets a signed copy of every audit row (its URL may embed a token, so it is masked).',
    kind: httpUrl(),
  }),
  Z4J_AUDIT_WEBHOOK_HMAC_SECRET: variable({
    section: 'audit',
    default: undefined,
    secret: true,
    description: 'Key (≥32 bytes) signing forwarded audit rows; required with Z4J_AUDIT_WEBHOOK_URL.',
    kind: secret(SECRET_MIN_BYTES),
  }),

  // ── dashboard ───────────────────────────────────────────────────────────
  Z4J_DASHBOARD_DIST: variable({
    section: 'dashboard',
    default: undefined,
    defaultNote: 'the dashboard build bundled with the package',
    description: 'Directory of built dashboard assets (set by container images).',
    kind: path(),
  }),
  Z4J_DISABLE_SPA_FALLBACK: variable({
    section: 'dashboard',
    default: 'false',
    description: 'Test-only: do not serve index.html for unknown paths.',
    kind: boolean(),
  }),

  // ── redaction ───────────────────────────────────────────────────────────
  Z4J_REDACTION_EXTRA_KEY_PATTERNS: variable({
    section: 'redaction',
    default: '',
    description: 'Extra comma-separated regexes for keys whose values are redacted (full match, any case).',
    kind: regexList(),
  }),
  Z4J_REDACTION_EXTRA_VALUE_PATTERNS: variable({
    section: 'redaction',
    default: '',
    description: 'Extra comma-separated regexes that redact a whole string value when found (any case).',
    kind: regexList(),
  }),
  Z4J_REDACTION_DISABLE_DEFAULTS: variable({
    section: 'redaction',
    default: 'false',
    description: 'Use only the extra patterns, not the built-in key and value patterns.',
    kind: boolean(),
  }),

  // ── commands ────────────────────────────────────────────────────────────
  Z4J_COMMAND_TIMEOUT_SECONDS: variable({
    section: 'commands',
    default: '60',
    description: 'Seconds before a dispatched command times out (sent to agents, whose frame allows 1..3600).',
    kind: integer(1, 3600),
  }),
  Z4J_COMMAND_TIMEOUT_SWEEP_SECONDS: variable({
    section: 'commands',
    default: '5',
    description: 'Seconds between command-timeout sweeps.',
    kind: integer(1, 300),
  }),

  // ── scheduler gRPC (brain as server) ────────────────────────────────────
  Z4J_SCHEDULER_GRPC_ENABLED: variable({
    section: 'scheduler-grpc',
    default: 'false',
    description: 'Serve mTLS gRPC for z4j-scheduler instances.',
    kind: boolean(),
  }),
  Z4J_SCHEDULER_GRPC_BIND_HOST: variable({
    section: 'scheduler-grpc',
    default: '0.0.0.0',
    description: 'Interface the scheduler gRPC server binds.',
    kind: text({ noSpaces: true, maxLength: 255 }),
  }),
  Z4J_SCHEDULER_GRPC_BIND_PORT: variable({
    section: 'scheduler-grpc',
    default: '7701',
    description: 'Port of the scheduler gRPC server; 0 picks an ephemeral port (tests).',
    kind: port(),
  }),
  Z4J_SCHEDULER_GRPC_ALLOWED_CNS: variable({
    section: 'scheduler-grpc',
    default: '[]',
    description: 'JSON array of client-certificate CNs/SANs accepted; empty trusts any cert the CA signed.',
    kind: nameList(),
  }),
  Z4J_SCHEDULER_GRPC_REQUIRE_ALLOWLIST: variable({
    section: 'scheduler-grpc',
    default: 'false',
    description: 'Refuse to start gRPC with an empty Z4J_SCHEDULER_GRPC_ALLOWED_CNS.',
    kind: boolean(),
  }),
  Z4J_SCHEDULER_GRPC_CN_PROJECT_BINDINGS: variable({
    section: 'scheduler-grpc',
    default: '{}',
    description: 'JSON object limiting a CN to project slugs: {"cn": ["slug", ...]}.',
    kind: cnProjectBindings(),
  }),
  Z4J_SCHEDULER_GRPC_TLS_CERT: variable({
    section: 'scheduler-grpc',
    default: undefined,
    description: 'PEM path of the gRPC server certificate.',
    kind: path(),
  }),
  Z4J_SCHEDULER_GRPC_TLS_KEY: variable({
    section: 'scheduler-grpc',
    default: undefined,
    description: 'PEM path of the gRPC server private key.',
    kind: path(),
  }),
  Z4J_SCHEDULER_GRPC_TLS_CA: variable({
    section: 'scheduler-grpc',
    default: undefined,
    description: 'PEM path of the CA bundle that client certificates must chain to.',
    kind: path(),
  }),
  Z4J_SCHEDULER_GRPC_INSECURE: variable({
    section: 'scheduler-grpc',
    default: 'false',
    description: 'Dev/test only: serve gRPC without TLS; refused in production.',
    kind: boolean(),
  }),
  Z4J_SCHEDULER_GRPC_GRACE_SECONDS: variable({
    section: 'scheduler-grpc',
    default: '5.0',
    description: 'Seconds in-flight RPCs get to finish on shutdown.',
    kind: positiveFloat(60),
  }),
  Z4J_SCHEDULER_GRPC_FIRE_RATE_LIMIT_ENABLED: variable({
    section: 'scheduler-grpc',
    default: 'true',
    description: 'Rate-limit FireSchedule per client certificate.',
    kind: boolean(),
  }),
  Z4J_SCHEDULER_GRPC_FIRE_RATE_PER_SECOND: variable({
    section: 'scheduler-grpc',
    default: '10.0',
    description: 'Sustained FireSchedule tokens per second per certificate.',
    kind: float({ min: 0.01, max: 10_000 }),
  }),
  Z4J_SCHEDULER_GRPC_FIRE_RATE_CAPACITY: variable({
    section: 'scheduler-grpc',
    default: '600.0',
    description: 'FireSchedule burst size per certificate.',
    kind: float({ min: 1, max: 1_000_000 }),
  }),
  Z4J_SCHEDULER_GRPC_WATCH_MAX_CONCURRENT: variable({
    section: 'scheduler-grpc',
    default: '64',
    description: 'Concurrent WatchSchedules streams per brain process.',
    kind: integer(1, 10_000),
  }),
  Z4J_SCHEDULER_GRPC_WATCH_MAX_PER_CERT: variable({
    section: 'scheduler-grpc',
    default: '4',
    description: 'Concurrent WatchSchedules streams per client certificate.',
    kind: integer(1, 1000),
  }),
  Z4J_SCHEDULER_GRPC_WATCH_POLL_SECONDS: variable({
    section: 'scheduler-grpc',
    default: '2.0',
    description: 'Seconds between polls of the watch-stream backend.',
    kind: positiveFloat(60),
  }),
  Z4J_SCHEDULER_INFO_URLS: variable({
    section: 'scheduler-grpc',
    default: '[]',
    description: 'JSON array of scheduler HTTP URLs shown on the dashboard’s fleet page.',
    kind: urlList(),
  }),

  // ── scheduler trigger (brain as client) ─────────────────────────────────
  Z4J_SCHEDULER_TRIGGER_URL: variable({
    section: 'scheduler-trigger',
    default: undefined,
    description: 'host:port of the scheduler’s TriggerSchedule listener; unset fires schedules in-process.',
    kind: hostPort(),
  }),
  Z4J_SCHEDULER_TRIGGER_TLS_CERT: variable({
    section: 'scheduler-trigger',
    default: undefined,
    description: 'PEM path of the brain’s client certificate for TriggerSchedule.',
    kind: path(),
  }),
  Z4J_SCHEDULER_TRIGGER_TLS_KEY: variable({
    section: 'scheduler-trigger',
    default: undefined,
    description: 'PEM path of the brain’s client key for TriggerSchedule.',
    kind: path(),
  }),
  Z4J_SCHEDULER_TRIGGER_TLS_CA: variable({
    section: 'scheduler-trigger',
    default: undefined,
    description: 'PEM path of the CA bundle that verifies the scheduler’s server certificate.',
    kind: path(),
  }),

  // ── embedded scheduler ──────────────────────────────────────────────────
  Z4J_EMBEDDED_SCHEDULER: variable({
    section: 'embedded-scheduler',
    default: 'false',
    description: 'Run z4j-scheduler as a supervised child process.',
    kind: boolean(),
  }),
  Z4J_EMBEDDED_SCHEDULER_ARGV: variable({
    section: 'embedded-scheduler',
    default: '["serve"]',
    description: 'JSON array of arguments after the scheduler entry point.',
    kind: argvList(),
  }),
  Z4J_EMBEDDED_SCHEDULER_PKI_DIR: variable({
    section: 'embedded-scheduler',
    default: undefined,
    defaultNote: '$Z4J_HOME/embedded-pki',
    description: 'Directory for the auto-minted loopback mTLS certificates.',
    kind: path(),
  }),
  Z4J_EMBEDDED_SCHEDULER_RESTART_MAX_ATTEMPTS: variable({
    section: 'embedded-scheduler',
    default: '10',
    description: 'Restarts after crashes before the supervisor gives up; 0 never restarts.',
    kind: integer(0, 10_000),
  }),
  Z4J_EMBEDDED_SCHEDULER_RESTART_BACKOFF_SECONDS: variable({
    section: 'embedded-scheduler',
    default: '2.0',
    description: 'Initial seconds between restarts (doubles up to 60).',
    kind: positiveFloat(60),
  }),
  Z4J_EMBEDDED_SCHEDULER_SHUTDOWN_GRACE_SECONDS: variable({
    section: 'embedded-scheduler',
    default: '10.0',
    description: 'Seconds between SIGTERM and SIGKILL when stopping the child.',
    kind: positiveFloat(60),
  }),

  // ── schedule fires and circuit breaker ──────────────────────────────────
  Z4J_SCHEDULE_FIRES_RETENTION_DAYS: variable({
    section: 'schedule-fires',
    default: '30',
    description: 'Days schedule_fires rows live.',
    kind: integer(1, 3650),
  }),
  Z4J_PENDING_FIRES_RETENTION_DAYS: variable({
    section: 'schedule-fires',
    default: '7',
    description: 'Days a buffered fire may wait for an agent before it is dropped.',
    kind: integer(1, 365),
  }),
  Z4J_PENDING_FIRES_REPLAY_INTERVAL_SECONDS: variable({
    section: 'schedule-fires',
    default: '10',
    description: 'Seconds between replays of buffered fires.',
    kind: integer(1, 300),
  }),
  Z4J_SCHEDULE_CIRCUIT_BREAKER_THRESHOLD: variable({
    section: 'schedule-fires',
    default: '5',
    description: 'Consecutive failed fires before a schedule is disabled; 0 turns the breaker off.',
    kind: integer(0, 100),
  }),
  Z4J_SCHEDULE_CIRCUIT_BREAKER_INTERVAL_SECONDS: variable({
    section: 'schedule-fires',
    default: '60',
    description: 'Seconds between circuit-breaker sweeps.',
    kind: integer(1, 3600),
  }),
} as const;

// ── types derived from the table ──────────────────────────────────────────

type Variables = typeof SETTING_VARIABLES;

/** Every canonical `Z4J_*` name the brain reads. */
export type VariableName = keyof Variables;

/** `IDLE_TIMEOUT_SECONDS` → `idleTimeoutSeconds`. */
type CamelFromSnake<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelFromSnake<Tail>>}`
  : Lowercase<S>;

/** `Z4J_WS_IDLE_TIMEOUT_SECONDS` → `wsIdleTimeoutSeconds`. */
export type SettingKey<N extends string> = N extends `Z4J_${infer Rest}` ? CamelFromSnake<Rest> : never;

type OutputOf<S> = S extends VariableSpec<infer T, infer D> ? (D extends string ? T : T | undefined) : never;

/** What the schema produces: every setting typed, optional ones possibly undefined. */
export type ParsedSettings = { readonly [N in VariableName as SettingKey<N>]: OutputOf<Variables[N]> };

/** Settings `resolveConfig` always fills in (refusing to start otherwise), so they are never undefined. */
type Completed = 'secret' | 'sessionSecret' | 'publicUrl' | 'embeddedSchedulerPkiDir';

/**
 * The brain's settings after `resolveConfig`: every default applied, derived
 * values filled in, cross-field rules passed. `secret` and `sessionSecret`
 * are plain strings because `resolveConfig` refuses to return without them;
 * embedded callers mint them first with `ensureEmbeddedSecrets`.
 */
export type Settings = Omit<ParsedSettings, Completed> & {
  readonly secret: string;
  readonly sessionSecret: string;
  /** Never ends with `/`. */
  readonly publicUrl: string;
  readonly embeddedSchedulerPkiDir: string;
};

export const VARIABLE_NAMES = Object.keys(SETTING_VARIABLES) as VariableName[];

/** Runtime twin of {@link SettingKey}. */
export function settingKey<N extends string>(name: N): SettingKey<N> {
  const [first = '', ...rest] = name.replace(/^Z4J_/, '').toLowerCase().split('_');
  return (first + rest.map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('')) as SettingKey<N>;
}

/** The spec of one variable, typed loosely for code that walks the whole table. */
export function variableSpec(name: VariableName): VariableSpec<unknown, string | undefined> {
  return SETTING_VARIABLES[name];
}

// ── the schema ────────────────────────────────────────────────────────────

/** Env-shaped input: names to raw strings; blank and missing both mean "unset". */
export type SettingsInput = Readonly<Record<string, string | undefined>>;

/**
 * Drops blank values (so defaults apply) and folds aliases onto their
 * canonical name when the canonical one is unset.
 */
function normaliseInput(input: SettingsInput): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(input)) if (value !== undefined && value.trim() !== '') out[name] = value;
  for (const name of VARIABLE_NAMES) {
    if (out[name] !== undefined) continue;
    const alias = variableSpec(name).aliases?.find((candidate) => out[candidate] !== undefined);
    if (alias !== undefined) out[name] = out[alias];
  }
  return out;
}

function toSettingKeys(parsed: Readonly<Record<string, unknown>>): ParsedSettings {
  return Object.fromEntries(VARIABLE_NAMES.map((name) => [settingKey(name), parsed[name]])) as ParsedSettings;
}

/** Reads `~` and relative paths against the real process, at parse time (not import time). */
const processPathContext: PathContext = {
  get homeDir() {
    return homedir();
  },
  get cwd() {
    return process.cwd();
  },
};

/**
 * The one valibot schema for every brain setting: env-shaped strings in,
 * typed camelCase settings out. Issues carry the variable name as the first
 * path key, in table order. Cross-field rules and derived defaults are not
 * here: they live in `resolveConfig`, which knows the mode.
 */
export function createSettingsSchema(context: PathContext = processPathContext): v.GenericSchema<SettingsInput, ParsedSettings> {
  const entries: Record<string, v.GenericSchema<string | undefined, unknown>> = {};
  for (const name of VARIABLE_NAMES) {
    const spec = variableSpec(name);
    const kind = spec.kind(context);
    entries[name] = spec.default === undefined ? v.optional(kind) : v.optional(kind, spec.default);
  }
  return v.pipe(v.record(v.string(), v.optional(v.string())), v.transform(normaliseInput), v.object(entries), v.transform(toSettingKeys));
}

/** The schema against the real process's home directory and cwd. */
export const settingsSchema = createSettingsSchema();
