import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { readConfigLayers, resolveHome } from './config-sources.js';
import { resolveConfig } from './resolve-config.js';

function tempDirs() {
  const root = mkdtempSync(join(tmpdir(), 'z4j-config-'));
  const cwd = join(root, 'app');
  const home = join(root, 'home');
  mkdirSync(cwd);
  mkdirSync(home);
  return { cwd, home };
}

describe('readConfigLayers', () => {
  it('reads ./.env, config.env and secret.env, and the env minus undefined values', () => {
    const { cwd, home } = tempDirs();
    writeFileSync(join(cwd, '.env'), '# app settings\nZ4J_DB_POOL_SIZE=2\nOTHER_APP_VAR="x y"\n');
    writeFileSync(join(home, 'config.env'), 'export Z4J_EVENT_RETENTION_DAYS=3\nZ4J_DB_POOL_SIZE=3\n');
    writeFileSync(join(home, 'secret.env'), `Z4J_SECRET=${'s'.repeat(64)}\nZ4J_SESSION_SECRET='${'t'.repeat(64)}'\n`);
    const layers = readConfigLayers({ env: { Z4J_LOG_LEVEL: 'debug', UNSET: undefined }, cwd, home });
    expect(layers.env).toEqual({ Z4J_LOG_LEVEL: 'debug' });
    expect(layers.dotenv).toEqual({ Z4J_DB_POOL_SIZE: '2', OTHER_APP_VAR: 'x y' });
    expect(layers.configEnv).toEqual({ Z4J_EVENT_RETENTION_DAYS: '3', Z4J_DB_POOL_SIZE: '3' });
    expect(layers.secretEnv.Z4J_SESSION_SECRET).toBe('t'.repeat(64));

    const config = resolveConfig(layers, { homeDir: home, cwd });
    expect(config.settings.dbPoolSize).toBe(2);
    expect(config.sources.Z4J_EVENT_RETENTION_DAYS).toBe('config.env');
    expect(config.sources.Z4J_SECRET).toBe('secret.env');
  });

  it('treats missing files as empty layers', () => {
    const { cwd, home } = tempDirs();
    expect(readConfigLayers({ env: {}, cwd, home: join(home, 'not-created-yet') })).toEqual({
      env: {},
      dotenv: {},
      configEnv: {},
      secretEnv: {},
    });
  });

  it('names a file it cannot read', () => {
    const { cwd, home } = tempDirs();
    mkdirSync(join(home, 'config.env')); // a directory where a file should be: EISDIR, even for root
    const error = (() => {
      try {
        readConfigLayers({ env: {}, cwd, home });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(join(home, 'config.env'));
    expect((error as ConfigError).message).toBe(`${join(home, 'config.env')}: expected a readable dotenv file, got EISDIR reading it`);
  });

  it('names a file with a line dotenv would silently skip, without echoing the line', () => {
    const { cwd, home } = tempDirs();
    writeFileSync(join(cwd, '.env'), `Z4J_DB_POOL_SIZE=2\nZ4J_SECRET ${'x'.repeat(40)}\n`);
    const file = join(cwd, '.env');
    expect(() => readConfigLayers({ env: {}, cwd, home })).toThrow(
      `${file}: expected a dotenv file of KEY=value lines, got line 2 is not KEY=value`,
    );
    expect(() => readConfigLayers({ env: {}, cwd, home })).not.toThrow(/x{40}/);
  });
});

describe('resolveHome', () => {
  it('defaults to ~/.z4j and expands ~ and relative paths', () => {
    expect(resolveHome({}, { homeDir: '/home/op', cwd: '/srv' })).toBe('/home/op/.z4j');
    expect(resolveHome({ Z4J_HOME: '' }, { homeDir: '/home/op', cwd: '/srv' })).toBe('/home/op/.z4j');
    expect(resolveHome({ Z4J_HOME: '~/brain' }, { homeDir: '/home/op', cwd: '/srv' })).toBe('/home/op/brain');
    expect(resolveHome({ Z4J_HOME: 'state/' }, { homeDir: '/home/op', cwd: '/srv' })).toBe('/srv/state');
    expect(resolveHome({ Z4J_HOME: '/var/lib/z4j' })).toBe('/var/lib/z4j');
  });

  it('agrees with the home resolveConfig reports', () => {
    const env = { Z4J_HOME: '~/brain', Z4J_SECRET: 'S'.repeat(32), Z4J_SESSION_SECRET: 'T'.repeat(32) };
    const anchors = { homeDir: '/home/op', cwd: '/srv' };
    expect(resolveConfig({ env }, anchors).settings.home).toBe(resolveHome(env, anchors));
  });
});
