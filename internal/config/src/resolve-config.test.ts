import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { resolveConfig, type ConfigLayers } from './resolve-config.js';

const ANCHORS = { homeDir: '/home/op', cwd: '/srv/app' };
const SECRET = 'S'.repeat(40);
const SESSION_SECRET = 'T'.repeat(40);
const MINTED = { Z4J_SECRET: SECRET, Z4J_SESSION_SECRET: SESSION_SECRET };
const PRODUCTION_POSTGRES = {
  ...MINTED,
  Z4J_DATABASE_URL: 'postgresql://z4j:pw@db.internal:5432/z4j?sslmode=require',
  Z4J_PUBLIC_URL: 'https://z4j.example.com',
};

function resolve(layers: Partial<ConfigLayers>) {
  return resolveConfig(layers, ANCHORS);
}

function errorOf(layers: Partial<ConfigLayers>): ConfigError {
  try {
    resolve(layers);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('layer precedence: env > ./.env > config.env > secret.env > default', () => {
  const layers: ConfigLayers = {
    env: { ...MINTED, Z4J_DB_POOL_SIZE: '1' },
    dotenv: { Z4J_DB_POOL_SIZE: '2', Z4J_WS_IDLE_TIMEOUT_SECONDS: '2' },
    configEnv: { Z4J_DB_POOL_SIZE: '3', Z4J_WS_IDLE_TIMEOUT_SECONDS: '3', Z4J_EVENT_RETENTION_DAYS: '3' },
    secretEnv: { Z4J_DB_POOL_SIZE: '4', Z4J_WS_IDLE_TIMEOUT_SECONDS: '4', Z4J_EVENT_RETENTION_DAYS: '4', Z4J_AUDIT_RETENTION_DAYS: '4' },
  };

  it('takes each value from the highest layer that sets it and reports that layer', () => {
    const { settings, sources } = resolve(layers);
    expect([settings.dbPoolSize, settings.wsIdleTimeoutSeconds, settings.eventRetentionDays, settings.auditRetentionDays]).toEqual([
      1, 2, 3, 4,
    ]);
    expect(settings.commandTimeoutSeconds).toBe(60);
    expect([sources.Z4J_DB_POOL_SIZE, sources.Z4J_WS_IDLE_TIMEOUT_SECONDS, sources.Z4J_EVENT_RETENTION_DAYS]).toEqual([
      'env',
      'dotenv',
      'config.env',
    ]);
    expect([sources.Z4J_AUDIT_RETENTION_DAYS, sources.Z4J_COMMAND_TIMEOUT_SECONDS, sources.Z4J_SECRET]).toEqual([
      'secret.env',
      'default',
      'env',
    ]);
  });

  it('lets a blank higher value fall through to the next layer', () => {
    const { settings, sources } = resolve({ ...layers, env: { ...layers.env, Z4J_DB_POOL_SIZE: '' } });
    expect(settings.dbPoolSize).toBe(2);
    expect(sources.Z4J_DB_POOL_SIZE).toBe('dotenv');
  });

  it('reads minted secrets from secret.env', () => {
    const { settings, sources } = resolve({ env: {}, secretEnv: MINTED });
    expect(settings.secret).toBe(SECRET);
    expect(sources.Z4J_SESSION_SECRET).toBe('secret.env');
  });

  it('reports a bad value from a lower layer by name', () => {
    expect(errorOf({ env: MINTED, configEnv: { Z4J_BIND_PORT: 'http' } }).message).toBe(
      'Z4J_BIND_PORT: expected an integer from 0 to 65535, got "http"',
    );
  });
});

describe('Z4J_METRICS_TOKEN alias', () => {
  it('is accepted for Z4J_METRICS_AUTH_TOKEN', () => {
    const { settings, sources } = resolve({ env: { ...MINTED, Z4J_METRICS_TOKEN: 'from-alias' } });
    expect(settings.metricsAuthToken).toBe('from-alias');
    expect(sources.Z4J_METRICS_AUTH_TOKEN).toBe('env');
  });

  it('loses to Z4J_METRICS_AUTH_TOKEN in the same layer', () => {
    const { settings } = resolve({ env: { ...MINTED, Z4J_METRICS_TOKEN: 'alias', Z4J_METRICS_AUTH_TOKEN: 'canonical' } });
    expect(settings.metricsAuthToken).toBe('canonical');
  });

  it('in the environment beats a token minted into secret.env earlier', () => {
    const { settings } = resolve({ env: { ...MINTED, Z4J_METRICS_TOKEN: 'operator' }, secretEnv: { Z4J_METRICS_AUTH_TOKEN: 'minted' } });
    expect(settings.metricsAuthToken).toBe('operator');
  });
});

describe('embedded mode', () => {
  it('is chosen when no layer sets Z4J_DATABASE_URL', () => {
    const config = resolve({ env: MINTED });
    expect(config.mode).toBe('embedded');
    expect(config.settings.databaseUrl).toBeUndefined();
  });

  it('forces the local registry even when postgres_notify is asked for', () => {
    const config = resolve({ env: { ...MINTED, Z4J_REGISTRY_BACKEND: 'postgres_notify' } });
    expect(config.settings.registryBackend).toBe('local');
  });

  it('defaults the public URL to localhost on the bind port, and to 7700 when the port is ephemeral', () => {
    expect(resolve({ env: MINTED }).settings.publicUrl).toBe('http://localhost:7700');
    expect(resolve({ env: { ...MINTED, Z4J_BIND_PORT: '8800' } }).settings.publicUrl).toBe('http://localhost:8800');
    expect(resolve({ env: { ...MINTED, Z4J_BIND_PORT: '0' } }).settings.publicUrl).toBe('http://localhost:7700');
    expect(resolve({ env: MINTED }).sources.Z4J_PUBLIC_URL).toBe('default');
  });

  it('refuses to resolve before the secrets are minted, and says so', () => {
    const error = errorOf({ env: {} });
    expect(error.variable).toBe('Z4J_SECRET');
    expect(error.message).toBe(
      'Z4J_SECRET: expected a secret of at least 32 bytes (in embedded mode ensureEmbeddedSecrets mints it into $Z4J_HOME/secret.env before resolving), got nothing (and 1 more: Z4J_SESSION_SECRET)',
    );
  });

  it('does not require a public URL even in production', () => {
    expect(resolve({ env: { ...MINTED, Z4J_ENVIRONMENT: 'production' } }).settings.publicUrl).toBe('http://localhost:7700');
  });
});

describe('postgres mode', () => {
  it('is chosen when Z4J_DATABASE_URL is set and keeps the configured registry backend', () => {
    const config = resolve({ env: PRODUCTION_POSTGRES });
    expect(config.mode).toBe('postgres');
    expect(config.settings.registryBackend).toBe('postgres_notify');
    if (config.mode === 'postgres') expectTypeOf(config.settings.databaseUrl).toEqualTypeOf<string>();
  });

  it('requires the secrets and the public URL in production, naming each missing one', () => {
    const error = errorOf({ env: { Z4J_DATABASE_URL: PRODUCTION_POSTGRES.Z4J_DATABASE_URL } });
    expect(error.issues.map((issue) => issue.variable)).toEqual(['Z4J_SECRET', 'Z4J_SESSION_SECRET', 'Z4J_PUBLIC_URL']);
    expect(error.message).toMatch(
      /^Z4J_SECRET: expected a secret of at least 32 bytes \(required in postgres mode with Z4J_ENVIRONMENT=production;/,
    );
    expect(error.message).toMatch(/\(and 2 more: Z4J_SESSION_SECRET, Z4J_PUBLIC_URL\)$/);
  });

  it('requires only the missing public URL when the secrets are there', () => {
    const { Z4J_PUBLIC_URL: _omitted, ...withoutUrl } = PRODUCTION_POSTGRES;
    const error = errorOf({ env: withoutUrl });
    expect(error.issues.map((issue) => issue.variable)).toEqual(['Z4J_PUBLIC_URL']);
    expect(error.message).toBe(
      'Z4J_PUBLIC_URL: expected the externally reachable https:// URL (required in postgres mode with Z4J_ENVIRONMENT=production), got nothing',
    );
  });

  it('outside production still needs the secrets but defaults the public URL', () => {
    const env = { Z4J_DATABASE_URL: 'postgres://postgres@127.0.0.1/z4j', Z4J_ENVIRONMENT: 'dev' };
    expect(errorOf({ env }).issues.map((issue) => issue.variable)).toEqual(['Z4J_SECRET', 'Z4J_SESSION_SECRET']);
    expect(resolve({ env: { ...env, ...MINTED } }).settings.publicUrl).toBe('http://localhost:7700');
  });
});

describe('cross-field rules', () => {
  it('refuses a plain-http public URL unless loopback or explicitly allowed', () => {
    const error = errorOf({ env: { ...PRODUCTION_POSTGRES, Z4J_PUBLIC_URL: 'http://z4j.example.com' } });
    expect(error.message).toBe(
      'Z4J_PUBLIC_URL: expected an https:// URL (plain http:// needs a loopback host or Z4J_ALLOW_HTTP_PUBLIC_URL=true), got "http://z4j.example.com"',
    );
    const allowed = resolve({ env: { ...PRODUCTION_POSTGRES, Z4J_PUBLIC_URL: 'http://z4j.internal', Z4J_ALLOW_HTTP_PUBLIC_URL: 'true' } });
    expect(allowed.settings.publicUrl).toBe('http://z4j.internal');
    for (const url of ['http://localhost:7700', 'http://127.0.0.1', 'http://127.9.9.9:8080', 'http://[::1]:7700']) {
      expect(resolve({ env: { ...PRODUCTION_POSTGRES, Z4J_PUBLIC_URL: url } }).settings.publicUrl).toBe(url);
    }
    expect(errorOf({ env: { ...PRODUCTION_POSTGRES, Z4J_PUBLIC_URL: 'http://128.0.0.1' } }).variable).toBe('Z4J_PUBLIC_URL');
  });

  it('refuses insecure scheduler gRPC in production only', () => {
    expect(errorOf({ env: { ...MINTED, Z4J_SCHEDULER_GRPC_INSECURE: 'true' } }).message).toBe(
      'Z4J_SCHEDULER_GRPC_INSECURE: expected false when Z4J_ENVIRONMENT=production (insecure gRPC is for dev and tests), got "true"',
    );
    const dev = resolve({
      env: { ...MINTED, Z4J_ENVIRONMENT: 'dev', Z4J_SCHEDULER_GRPC_INSECURE: '1', Z4J_SCHEDULER_GRPC_ENABLED: 'true' },
    });
    expect(dev.settings.schedulerGrpcInsecure).toBe(true);
  });

  it('requires the bootstrap password with the bootstrap email, without echoing either secret', () => {
    expect(errorOf({ env: { ...MINTED, Z4J_BOOTSTRAP_ADMIN_EMAIL: 'admin@example.com' } }).message).toBe(
      'Z4J_BOOTSTRAP_ADMIN_PASSWORD: expected a password, because Z4J_BOOTSTRAP_ADMIN_EMAIL is set, got nothing',
    );
    const reverse = errorOf({ env: { ...MINTED, Z4J_BOOTSTRAP_ADMIN_PASSWORD: 'correct horse battery' } });
    expect(reverse.variable).toBe('Z4J_BOOTSTRAP_ADMIN_EMAIL');
    expect(reverse.message).not.toContain('correct horse');
    const both = resolve({ env: { ...MINTED, Z4J_BOOTSTRAP_ADMIN_EMAIL: 'admin@example.com', Z4J_BOOTSTRAP_ADMIN_PASSWORD: 'pw pw pw' } });
    expect(both.settings.bootstrapAdminPassword).toBe('pw pw pw');
  });

  it('refuses a default page size above the maximum', () => {
    expect(errorOf({ env: { ...MINTED, Z4J_REST_DEFAULT_PAGE_SIZE: '600' } }).message).toBe(
      'Z4J_REST_DEFAULT_PAGE_SIZE: expected at most Z4J_REST_MAX_PAGE_SIZE (500), got "600"',
    );
    expect(resolve({ env: { ...MINTED, Z4J_REST_DEFAULT_PAGE_SIZE: '500' } }).settings.restDefaultPageSize).toBe(500);
  });

  const grpcTls = {
    Z4J_SCHEDULER_GRPC_TLS_CERT: '/pki/brain.pem',
    Z4J_SCHEDULER_GRPC_TLS_KEY: '/pki/brain-key.pem',
    Z4J_SCHEDULER_GRPC_TLS_CA: '/pki/ca.pem',
  };

  it('requires an allow-list when REQUIRE_ALLOWLIST is on and gRPC is enabled', () => {
    const env = { ...MINTED, ...grpcTls, Z4J_SCHEDULER_GRPC_REQUIRE_ALLOWLIST: 'true' };
    expect(resolve({ env }).settings.schedulerGrpcRequireAllowlist).toBe(true); // gRPC off: nothing to guard
    expect(errorOf({ env: { ...env, Z4J_SCHEDULER_GRPC_ENABLED: 'true' } }).message).toBe(
      'Z4J_SCHEDULER_GRPC_ALLOWED_CNS: expected at least one client CN, because Z4J_SCHEDULER_GRPC_REQUIRE_ALLOWLIST=true, got nothing',
    );
    const ok = resolve({ env: { ...env, Z4J_SCHEDULER_GRPC_ENABLED: 'true', Z4J_SCHEDULER_GRPC_ALLOWED_CNS: '["scheduler-1"]' } });
    expect(ok.settings.schedulerGrpcAllowedCns).toEqual(['scheduler-1']);
  });

  it('requires all three TLS files for gRPC unless insecure or the embedded scheduler mints them', () => {
    const error = errorOf({ env: { ...MINTED, Z4J_SCHEDULER_GRPC_ENABLED: 'true', Z4J_SCHEDULER_GRPC_TLS_CERT: '/pki/brain.pem' } });
    expect(error.issues.map((issue) => issue.variable)).toEqual(['Z4J_SCHEDULER_GRPC_TLS_KEY', 'Z4J_SCHEDULER_GRPC_TLS_CA']);
    expect(error.message).toMatch(/^Z4J_SCHEDULER_GRPC_TLS_KEY: expected a PEM file path, because Z4J_SCHEDULER_GRPC_ENABLED=true/);
    expect(resolve({ env: { ...MINTED, ...grpcTls, Z4J_SCHEDULER_GRPC_ENABLED: 'true' } }).settings.schedulerGrpcTlsCa).toBe('/pki/ca.pem');
    const embedded = resolve({ env: { ...MINTED, Z4J_EMBEDDED_SCHEDULER: 'true' } });
    expect(embedded.settings.schedulerGrpcEnabled).toBe(true);
    expect(embedded.settings.embeddedSchedulerPkiDir).toBe('/home/op/.z4j/embedded-pki');
  });

  it('refuses partial TriggerSchedule client TLS', () => {
    const error = errorOf({
      env: { ...MINTED, Z4J_SCHEDULER_TRIGGER_URL: 'scheduler:7802', Z4J_SCHEDULER_TRIGGER_TLS_CERT: '/pki/c.pem' },
    });
    expect(error.issues.map((issue) => issue.variable)).toEqual(['Z4J_SCHEDULER_TRIGGER_TLS_KEY', 'Z4J_SCHEDULER_TRIGGER_TLS_CA']);
  });

  it('requires an HMAC secret with the audit webhook and never echoes the URL', () => {
    const url = 'https://siem.example.com/hec?token=abcdef';
    const error = errorOf({ env: { ...MINTED, Z4J_AUDIT_WEBHOOK_URL: url } });
    expect(error.message).toBe(
      'Z4J_AUDIT_WEBHOOK_HMAC_SECRET: expected a secret of at least 32 bytes, because Z4J_AUDIT_WEBHOOK_URL is set, got nothing',
    );
    const ok = resolve({ env: { ...MINTED, Z4J_AUDIT_WEBHOOK_URL: url, Z4J_AUDIT_WEBHOOK_HMAC_SECRET: 'h'.repeat(32) } });
    expect(ok.settings.auditWebhookUrl).toBe(url);
  });

  it('keeps the registry watchdog timeout above the heartbeat', () => {
    const env = { ...PRODUCTION_POSTGRES, Z4J_REGISTRY_LISTENER_HEARTBEAT_SECONDS: '30' };
    expect(errorOf({ env }).message).toBe(
      'Z4J_REGISTRY_LISTENER_HEARTBEAT_TIMEOUT_SECONDS: expected more than Z4J_REGISTRY_LISTENER_HEARTBEAT_SECONDS (30), got nothing',
    );
  });

  it('keeps the login backoff base at or below its cap', () => {
    expect(errorOf({ env: { ...MINTED, Z4J_LOGIN_BACKOFF_BASE_SECONDS: '6' } }).variable).toBe('Z4J_LOGIN_BACKOFF_BASE_SECONDS');
  });

  it('never echoes a secret in any error', () => {
    const secretValue = 'p'.repeat(20);
    for (const env of [
      { Z4J_SECRET: secretValue, Z4J_SESSION_SECRET: SESSION_SECRET },
      { ...MINTED, Z4J_PREVIOUS_SESSION_SECRETS: `${SECRET},${secretValue}` },
      { ...MINTED, Z4J_METRICS_AUTH_TOKEN: `${secretValue} x` },
    ]) {
      const error = errorOf({ env });
      expect(error.message).not.toContain(secretValue);
      expect(JSON.stringify(error.issues)).not.toContain(secretValue);
    }
  });
});

describe('Z4J_HOME', () => {
  it('defaults to ~/.z4j under the home directory', () => {
    expect(resolve({ env: MINTED }).settings.home).toBe('/home/op/.z4j');
    expect(resolve({ env: { ...MINTED, Z4J_HOME: '~/z4j-data' } }).settings.home).toBe('/home/op/z4j-data');
    expect(resolve({ env: { ...MINTED, Z4J_HOME: 'data' } }).settings.home).toBe('/srv/app/data');
  });

  it('may repeat the same directory in a file, but not point elsewhere', () => {
    expect(resolve({ env: MINTED, configEnv: { Z4J_HOME: '/home/op/.z4j' } }).settings.home).toBe('/home/op/.z4j');
    expect(errorOf({ env: MINTED, dotenv: { Z4J_HOME: '/var/lib/z4j' } }).message).toBe(
      'Z4J_HOME: expected it in the process environment only (it locates config.env and secret.env), got "/var/lib/z4j" in ./.env',
    );
  });
});

describe('unknown variables', () => {
  it('lists unread Z4J_ names from every layer, ignoring agent-side and test-harness names', () => {
    const { unknown } = resolve({
      env: {
        ...MINTED,
        Z4J_WS_IDLE_TIMEOUT: '5',
        Z4J_TOKEN: 'agent',
        Z4J_BRAIN_URL: 'https://x',
        Z4J_TEST_DATABASE_URL: 'x',
        PATH: '/bin',
      },
      dotenv: { Z4J_HMAC_SECRET: 'agent', Z4J_PROJECT_ID: 'default', Z4J_AGENT_NAME: 'web-1' },
      configEnv: { Z4J_RETENTION_DAYS: '3', Z4J_METRICS_TOKEN: 'alias-is-known' },
    });
    expect(unknown).toEqual(['Z4J_RETENTION_DAYS', 'Z4J_WS_IDLE_TIMEOUT']);
  });
});
