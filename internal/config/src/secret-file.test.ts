import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigLayers } from './config-sources.js';
import { resolveConfig } from './resolve-config.js';
import { ensureEmbeddedSecrets, readSecretFile, rotateMetricsToken } from './secret-file.js';

const MINTABLE = ['Z4J_SECRET', 'Z4J_SESSION_SECRET', 'Z4J_METRICS_AUTH_TOKEN'];

function freshHome(): string {
  // A home that does not exist yet, inside a private temp dir, as on a first boot.
  return join(mkdtempSync(join(tmpdir(), 'z4j-secrets-')), 'home');
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('ensureEmbeddedSecrets', () => {
  it('creates home 0700 and secret.env 0600 with three 64-character secrets', () => {
    const home = freshHome();
    const { minted } = ensureEmbeddedSecrets({ home, layers: { env: {} }, mintMetricsToken: true });
    expect(minted).toEqual(MINTABLE);
    expect(mode(home)).toBe(0o700);
    const file = join(home, 'secret.env');
    expect(mode(file)).toBe(0o600);
    const secrets = readSecretFile(home);
    for (const name of MINTABLE) expect(secrets[name]).toMatch(/^[\w-]{64}$/);
    expect(new Set(MINTABLE.map((name) => secrets[name])).size).toBe(3);
    expect(readdirSync(home)).toEqual(['secret.env']); // no temp file left behind
  });

  it('reuses the minted values on the next boot', () => {
    const home = freshHome();
    ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: true });
    const before = readFileSync(join(home, 'secret.env'), 'utf8');
    const layers = readConfigLayers({ env: {}, cwd: home, home });
    expect(ensureEmbeddedSecrets({ home, layers, mintMetricsToken: true })).toEqual({ minted: [] });
    expect(readFileSync(join(home, 'secret.env'), 'utf8')).toBe(before);
    // Even with stale layers, what is already on disk is not minted again.
    expect(ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: true })).toEqual({ minted: [] });
  });

  it('mints the metrics token only when asked', () => {
    const home = freshHome();
    expect(ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: false }).minted).toEqual(['Z4J_SECRET', 'Z4J_SESSION_SECRET']);
    expect(readSecretFile(home).Z4J_METRICS_AUTH_TOKEN).toBeUndefined();
    expect(ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: true }).minted).toEqual(['Z4J_METRICS_AUTH_TOKEN']);
  });

  it('does not mint what any layer already provides (including the metrics token alias)', () => {
    const home = freshHome();
    const layers = {
      env: { Z4J_SECRET: 'e'.repeat(40) },
      configEnv: { Z4J_METRICS_TOKEN: 'operator-token' },
      dotenv: { Z4J_SESSION_SECRET: '' }, // blank means unset: still minted
    };
    expect(ensureEmbeddedSecrets({ home, layers, mintMetricsToken: true }).minted).toEqual(['Z4J_SESSION_SECRET']);
  });

  it('keeps unrelated lines, replaces a blank assignment in place and tightens an existing file to 0600', () => {
    const home = freshHome();
    ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: false }); // creates home
    const file = join(home, 'secret.env');
    writeFileSync(file, '# written by hand\nZ4J_AUDIT_WEBHOOK_HMAC_SECRET="keep me"\nZ4J_SECRET=\nOTHER=1\n');
    chmodSync(file, 0o644);
    const { minted } = ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: false });
    expect(minted).toEqual(['Z4J_SECRET', 'Z4J_SESSION_SECRET']);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe('# written by hand');
    expect(lines[1]).toBe('Z4J_AUDIT_WEBHOOK_HMAC_SECRET="keep me"');
    expect(lines[2]).toMatch(/^Z4J_SECRET=[\w-]{64}$/);
    expect(lines[3]).toBe('OTHER=1');
    expect(lines[4]).toMatch(/^Z4J_SESSION_SECRET=[\w-]{64}$/);
    expect(lines[5]).toBe('');
    expect(mode(file)).toBe(0o600);
  });

  it('chmods an existing secret.env to 0600 even when nothing is minted', () => {
    const home = freshHome();
    ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: true });
    const file = join(home, 'secret.env');
    chmodSync(file, 0o640);
    expect(ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: true }).minted).toEqual([]);
    expect(mode(file)).toBe(0o600);
  });

  it('produces secrets resolveConfig accepts', () => {
    const home = freshHome();
    ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: true });
    const config = resolveConfig(readConfigLayers({ env: { Z4J_HOME: home }, cwd: home, home }));
    expect(config.mode).toBe('embedded');
    expect(config.settings.secret).toHaveLength(64);
    expect(config.settings.metricsAuthToken).toBe(readSecretFile(home).Z4J_METRICS_AUTH_TOKEN);
  });
});

describe('rotateMetricsToken', () => {
  it('replaces only the metrics token and returns it', () => {
    const home = freshHome();
    ensureEmbeddedSecrets({ home, layers: {}, mintMetricsToken: true });
    const before = readSecretFile(home);
    const token = rotateMetricsToken(home);
    const after = readSecretFile(home);
    expect(token).toMatch(/^[\w-]{64}$/);
    expect(token).not.toBe(before.Z4J_METRICS_AUTH_TOKEN);
    expect(after).toEqual({ ...before, Z4J_METRICS_AUTH_TOKEN: token });
    expect(mode(join(home, 'secret.env'))).toBe(0o600);
  });

  it('creates home and secret.env when there are none yet', () => {
    const home = freshHome();
    const token = rotateMetricsToken(home);
    expect(readSecretFile(home)).toEqual({ Z4J_METRICS_AUTH_TOKEN: token });
    expect(mode(home)).toBe(0o700);
  });
});

describe('readSecretFile', () => {
  it('is empty when there is no secret.env', () => {
    expect(readSecretFile(freshHome())).toEqual({});
  });
});
