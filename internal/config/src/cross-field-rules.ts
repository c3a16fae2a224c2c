import { isLoopbackHost } from './network.js';
import type { Settings, VariableName } from './settings-schema.js';

export type ConfigMode = 'embedded' | 'postgres';

/** A rule's verdict: the variable the operator should change and what it should be. */
export interface RuleViolation {
  readonly variable: VariableName;
  readonly expected: string;
}

/** The one environment label with behaviour attached (the rest are free-form, as in the original). */
export function isProduction(settings: Pick<Settings, 'environment'>): boolean {
  return settings.environment.trim().toLowerCase() === 'production';
}

type Rule = (settings: Settings, mode: ConfigMode) => RuleViolation[];

/**
 * Rules over several settings at once, checked after every value parsed. Each
 * names the variable to set, and none echoes a value (the caller renders the
 * "got" half with secret masking). Order is the order of this list, so the
 * first error is stable.
 */
const RULES: readonly Rule[] = [
  // Plain http public URLs end up in emailed links; allow them only where they cannot leave the machine.
  (s) => {
    const url = new URL(s.publicUrl);
    if (url.protocol !== 'http:' || s.allowHttpPublicUrl || isLoopbackHost(url.hostname)) return [];
    return [
      {
        variable: 'Z4J_PUBLIC_URL',
        expected: 'an https:// URL (plain http:// needs a loopback host or Z4J_ALLOW_HTTP_PUBLIC_URL=true)',
      },
    ];
  },
  // The scheduler channel is the brain's most privileged inbound surface.
  (s) =>
    s.schedulerGrpcInsecure && isProduction(s)
      ? [
          {
            variable: 'Z4J_SCHEDULER_GRPC_INSECURE',
            expected: 'false when Z4J_ENVIRONMENT=production (insecure gRPC is for dev and tests)',
          },
        ]
      : [],
  // Half a bootstrap admin would silently fall back to the setup link.
  (s) => {
    if (s.bootstrapAdminEmail !== undefined && s.bootstrapAdminPassword === undefined) {
      return [{ variable: 'Z4J_BOOTSTRAP_ADMIN_PASSWORD', expected: 'a password, because Z4J_BOOTSTRAP_ADMIN_EMAIL is set' }];
    }
    if (s.bootstrapAdminPassword !== undefined && s.bootstrapAdminEmail === undefined) {
      return [{ variable: 'Z4J_BOOTSTRAP_ADMIN_EMAIL', expected: 'an email address, because Z4J_BOOTSTRAP_ADMIN_PASSWORD is set' }];
    }
    return [];
  },
  (s) =>
    s.restDefaultPageSize > s.restMaxPageSize
      ? [{ variable: 'Z4J_REST_DEFAULT_PAGE_SIZE', expected: `at most Z4J_REST_MAX_PAGE_SIZE (${s.restMaxPageSize})` }]
      : [],
  (s) =>
    s.loginBackoffBaseSeconds > s.loginBackoffMaxSeconds
      ? [{ variable: 'Z4J_LOGIN_BACKOFF_BASE_SECONDS', expected: `at most Z4J_LOGIN_BACKOFF_MAX_SECONDS (${s.loginBackoffMaxSeconds})` }]
      : [],
  // A watchdog timeout at or below the heartbeat period would recycle the LISTEN connection forever.
  (s) =>
    s.registryBackend === 'postgres_notify' && s.registryListenerHeartbeatTimeoutSeconds <= s.registryListenerHeartbeatSeconds
      ? [
          {
            variable: 'Z4J_REGISTRY_LISTENER_HEARTBEAT_TIMEOUT_SECONDS',
            expected: `more than Z4J_REGISTRY_LISTENER_HEARTBEAT_SECONDS (${s.registryListenerHeartbeatSeconds})`,
          },
        ]
      : [],
  // Fail closed when the operator asked for an allow-list and forgot to fill it.
  (s) =>
    s.schedulerGrpcEnabled && s.schedulerGrpcRequireAllowlist && s.schedulerGrpcAllowedCns.length === 0
      ? [
          {
            variable: 'Z4J_SCHEDULER_GRPC_ALLOWED_CNS',
            expected: 'at least one client CN, because Z4J_SCHEDULER_GRPC_REQUIRE_ALLOWLIST=true',
          },
        ]
      : [],
  // mTLS needs all three files; the embedded scheduler mints its own PKI instead.
  (s) => {
    if (!s.schedulerGrpcEnabled || s.schedulerGrpcInsecure || s.embeddedScheduler) return [];
    const files = [
      ['Z4J_SCHEDULER_GRPC_TLS_CERT', s.schedulerGrpcTlsCert],
      ['Z4J_SCHEDULER_GRPC_TLS_KEY', s.schedulerGrpcTlsKey],
      ['Z4J_SCHEDULER_GRPC_TLS_CA', s.schedulerGrpcTlsCa],
    ] as const;
    return files
      .filter(([, value]) => value === undefined)
      .map(([variable]) => ({
        variable,
        expected: 'a PEM file path, because Z4J_SCHEDULER_GRPC_ENABLED=true (or set Z4J_SCHEDULER_GRPC_INSECURE=true outside production)',
      }));
  },
  // Partial client TLS for TriggerSchedule is always a mistake: set all three or none.
  (s) => {
    const files = [
      ['Z4J_SCHEDULER_TRIGGER_TLS_CERT', s.schedulerTriggerTlsCert],
      ['Z4J_SCHEDULER_TRIGGER_TLS_KEY', s.schedulerTriggerTlsKey],
      ['Z4J_SCHEDULER_TRIGGER_TLS_CA', s.schedulerTriggerTlsCa],
    ] as const;
    const given = files.filter(([, value]) => value !== undefined);
    if (given.length === 0 || given.length === files.length) return [];
    return files
      .filter(([, value]) => value === undefined)
      .map(([variable]) => ({ variable, expected: `a PEM file path, because ${given[0]?.[0]} is set (set all three or none)` }));
  },
  // An unsigned audit mirror is worse than none: a receiver cannot tell it from a forgery.
  (s) =>
    s.auditWebhookUrl !== undefined && s.auditWebhookHmacSecret === undefined
      ? [{ variable: 'Z4J_AUDIT_WEBHOOK_HMAC_SECRET', expected: 'a secret of at least 32 bytes, because Z4J_AUDIT_WEBHOOK_URL is set' }]
      : [],
];

export function checkCrossFieldRules(settings: Settings, mode: ConfigMode): RuleViolation[] {
  return RULES.flatMap((rule) => rule(settings, mode));
}
