import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { encodeHmacSecret } from '@z4j/protocol';
import { createAgent } from './agent.js';
import { AgentConfigError } from './agent-config-error.js';
import { agentOptionsFromEnv, resolveAgentConfig } from './agent-options.js';
import { AGENT_VERSION } from './agent-version.js';

const SECRET = encodeHmacSecret(Buffer.alloc(32, 7));
const REQUIRED = { brainUrl: 'https://z4j.example.com', token: 'tok-code', hmacSecret: SECRET };

function configError(run: () => unknown): AgentConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof AgentConfigError) return error;
    throw error;
  }
  throw new Error('expected an AgentConfigError');
}

describe('resolveAgentConfig', () => {
  it('applies the documented defaults', () => {
    const config = resolveAgentConfig({ options: REQUIRED });
    expect(config).toMatchObject({
      socketUrl: 'wss://z4j.example.com/ws/agent',
      projectId: 'default',
      agentName: hostname(),
      bufferSize: 1000,
      heartbeatInterval: 10,
      reconnectBackoffMax: 60,
      agentStatus: true,
      maxInFlightBatches: 2,
      workerRole: null,
      devMode: false,
    });
    expect(config.secret).toEqual(Buffer.alloc(32, 7));
  });

  it('layers explicit options over env over file settings, field by field', () => {
    const config = resolveAgentConfig({
      options: { token: 'tok-code' },
      env: agentOptionsFromEnv({ Z4J_TOKEN: 'tok-env', Z4J_BUFFER_SIZE: '250', Z4J_HMAC_SECRET: SECRET }),
      settings: {
        brain_url: 'https://from-file.example.com',
        token: 'tok-file',
        buffer_size: '9',
        heartbeat_interval: 3,
        agent_name: 'file',
      },
    });
    expect(config.token).toBe('tok-code');
    expect(config.bufferSize).toBe(250);
    expect(config.brainUrl).toBe('https://from-file.example.com');
    expect(config.heartbeatInterval).toBe(3);
    expect(config.agentName).toBe('file');
  });

  it('reads file settings written as Z4J_* variables (config.env) too', () => {
    const config = resolveAgentConfig({
      settings: { Z4J_BRAIN_URL: 'https://f.example.com', Z4J_TOKEN: 't', Z4J_HMAC_SECRET: SECRET, Z4J_RECONNECT_BACKOFF_MAX: '5' },
    });
    expect(config.reconnectBackoffMax).toBe(5);
  });

  it('names a missing required field and where it could come from', () => {
    const error = configError(() => resolveAgentConfig({ options: { token: 't', hmacSecret: SECRET } }));
    expect(error.field).toBe('brainUrl');
    expect(error.message).toContain('Z4J_BRAIN_URL');
  });

  it('names the field as written in its source when a value is invalid', () => {
    expect(configError(() => resolveAgentConfig({ options: { ...REQUIRED, bufferSize: 0 } }))).toMatchObject({
      field: 'bufferSize',
      source: 'options',
    });
    expect(configError(() => resolveAgentConfig({ options: REQUIRED, settings: { buffer_size: 'lots' } }))).toMatchObject({
      field: 'buffer_size',
      source: 'settings',
    });
    expect(configError(() => resolveAgentConfig({ options: { ...REQUIRED, hmacSecret: 'c2hvcnQ=' } })).field).toBe('hmacSecret');
    expect(configError(() => resolveAgentConfig({ options: { ...REQUIRED, brainUrl: 'ftp://x' } })).field).toBe('brainUrl');
    expect(configError(() => resolveAgentConfig({ options: { ...REQUIRED, token: 'tok\nen' } })).field).toBe('token');
  });

  it('refuses plain ws:// to a remote host unless devMode is set in code', () => {
    expect(configError(() => resolveAgentConfig({ options: { ...REQUIRED, brainUrl: 'http://z4j.internal:7700' } })).field).toBe(
      'brainUrl',
    );
    expect(resolveAgentConfig({ options: { ...REQUIRED, brainUrl: 'http://z4j.internal:7700/', devMode: true } }).socketUrl).toBe(
      'ws://z4j.internal:7700/ws/agent',
    );
    expect(resolveAgentConfig({ options: { ...REQUIRED, brainUrl: 'http://127.0.0.1:7700' } }).socketUrl).toBe(
      'ws://127.0.0.1:7700/ws/agent',
    );
    // devMode never comes from the environment or a file.
    expect(() => resolveAgentConfig({ options: { ...REQUIRED, brainUrl: 'http://z4j.internal' }, settings: { dev_mode: 'true' } })).toThrow(
      AgentConfigError,
    );
  });
});

describe('agentOptionsFromEnv', () => {
  it('returns only the variables that are set, coerced to their types', () => {
    expect(agentOptionsFromEnv({})).toEqual({});
    expect(
      agentOptionsFromEnv({
        Z4J_BRAIN_URL: 'https://b',
        Z4J_HEARTBEAT_SECONDS: '4',
        Z4J_BUFFER_MAX_EVENTS: '77',
        Z4J_REDACTION_EXTRA_KEY_PATTERNS: 'tenant_.*, internal_id',
        Z4J_WORKER_ROLE: 'task',
        Z4J_AGENT_STATUS_DISABLED: '1',
        UNRELATED: 'x',
      }),
    ).toEqual({
      brainUrl: 'https://b',
      heartbeatInterval: 4,
      bufferSize: 77,
      redactionExtraKeyPatterns: ['tenant_.*', 'internal_id'],
      workerRole: 'task',
      agentStatus: false,
    });
  });

  it('prefers the Node spelling over the Python one when both are set', () => {
    expect(agentOptionsFromEnv({ Z4J_BUFFER_SIZE: '5', Z4J_BUFFER_MAX_EVENTS: '6' }).bufferSize).toBe(5);
  });

  it('names the variable whose value is invalid', () => {
    expect(configError(() => agentOptionsFromEnv({ Z4J_BUFFER_SIZE: '12abc' }))).toMatchObject({ field: 'Z4J_BUFFER_SIZE', source: 'env' });
    expect(configError(() => agentOptionsFromEnv({ Z4J_WORKER_ROLE: 'boss' })).field).toBe('Z4J_WORKER_ROLE');
    expect(configError(() => agentOptionsFromEnv({ Z4J_AGENT_STATUS_DISABLED: 'maybe' })).field).toBe('Z4J_AGENT_STATUS_DISABLED');
  });
});

describe('createAgent validation', () => {
  it('refuses a bad redaction pattern, naming the option', () => {
    expect(configError(() => createAgent({ ...REQUIRED, redactionExtraKeyPatterns: ['(unclosed'] })).field).toBe(
      'redactionExtraKeyPatterns',
    );
    expect(configError(() => createAgent({ ...REQUIRED, redactionExtraValuePatterns: ['a|'] })).field).toBe('redactionExtraValuePatterns');
  });

  it('refuses duplicate engines', () => {
    const adapter = {
      engine: 'fake',
      capabilities: new Set<never>(),
      start: () => undefined,
      stop: () => undefined,
      queueDepths: async () => ({}),
      workerDetails: async () => [],
      execute: async () => undefined,
    };
    expect(configError(() => createAgent({ ...REQUIRED, adapters: [adapter, adapter] })).field).toBe('adapters');
  });

  it('reports the version from package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(AGENT_VERSION).toBe(pkg.version);
  });
});
