import { describe, expect, it } from 'vitest';
import { describeEffectiveSettings } from './effective-settings.js';
import { resolveConfig } from './resolve-config.js';
import { VARIABLE_NAMES } from './settings-schema.js';

describe('describeEffectiveSettings', () => {
  const secret = 'S'.repeat(40);
  const config = resolveConfig(
    {
      env: { Z4J_SECRET: secret, Z4J_DB_POOL_SIZE: '7' },
      secretEnv: { Z4J_SESSION_SECRET: 'T'.repeat(40) },
      configEnv: { Z4J_ALLOWED_HOSTS: 'a.example.com,b.example.com' },
    },
    { homeDir: '/home/op', cwd: '/srv' },
  );
  const rows = describeEffectiveSettings(config);
  const row = (name: string) => rows.find((candidate) => candidate.name === name);

  it('lists every variable once, in table order, with its source and description', () => {
    expect(rows.map((candidate) => candidate.name)).toEqual(VARIABLE_NAMES);
    expect(row('Z4J_DB_POOL_SIZE')).toMatchObject({ value: '7', source: 'env', default: '10', section: 'database', secret: false });
    expect(row('Z4J_ALLOWED_HOSTS')).toMatchObject({ value: '["a.example.com","b.example.com"]', source: 'config.env' });
    expect(row('Z4J_PUBLIC_URL')).toMatchObject({ value: 'http://localhost:7700', source: 'default' });
    expect(row('Z4J_EMBEDDED_SCHEDULER_PKI_DIR')?.default).toBe('$Z4J_HOME/embedded-pki');
  });

  it('masks secrets unless asked to reveal them', () => {
    expect(row('Z4J_SECRET')).toMatchObject({ value: '<redacted, 40 bytes>', source: 'env', secret: true });
    expect(row('Z4J_SESSION_SECRET')?.source).toBe('secret.env');
    expect(row('Z4J_METRICS_AUTH_TOKEN')?.value).toBe('');
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(describeEffectiveSettings(config, { revealSecrets: true }).find((candidate) => candidate.name === 'Z4J_SECRET')?.value).toBe(
      secret,
    );
  });
});
