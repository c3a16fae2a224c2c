import { describe, expect, it } from 'vitest';
import { parseCliArgs } from './cli-args.js';

describe('parseCliArgs', () => {
  it('parses serve with all services by default and validated overrides', () => {
    expect(parseCliArgs(['serve'])).toEqual({ name: 'serve', only: ['gateway', 'ingest', 'api', 'workers', 'scheduler-bridge'] });
    expect(parseCliArgs(['serve', '--only', 'gateway,api', '--port', '0', '--host', '127.0.0.1'])).toEqual({
      name: 'serve',
      only: ['gateway', 'api'],
      host: '127.0.0.1',
      port: 0,
    });
  });

  it('names the flag and the bad value', () => {
    expect(() => parseCliArgs(['serve', '--only', 'gateway,frontend'])).toThrow(
      /--only: expected one or more of gateway, ingest, api, workers, scheduler-bridge, got "gateway,frontend"/,
    );
    expect(() => parseCliArgs(['serve', '--port', '70000'])).toThrow(/--port: expected a port from 0 to 65535, got "70000"/);
    expect(() => parseCliArgs(['serve', '--port', 'abc'])).toThrow(/--port: expected a port number/);
    expect(() => parseCliArgs(['serve', '--bogus'])).toThrow(/bogus/);
    expect(() => parseCliArgs(['migrate'])).toThrow(/migrate: expected "status" or "up", got nothing/);
    expect(() => parseCliArgs(['migrate', 'down'])).toThrow(/got "down"/);
    expect(() => parseCliArgs(['frobnicate'])).toThrow(/unknown command "frobnicate"/);
  });

  it('parses the other commands', () => {
    expect(parseCliArgs(['migrate', 'status'])).toEqual({ name: 'migrate', action: 'status' });
    expect(parseCliArgs(['migrate', 'up'])).toEqual({ name: 'migrate', action: 'up' });
    expect(parseCliArgs(['metrics-token'])).toEqual({ name: 'metrics-token', action: 'show' });
    expect(parseCliArgs(['metrics-token', 'rotate'])).toEqual({ name: 'metrics-token', action: 'rotate' });
    expect(parseCliArgs(['--version'])).toEqual({ name: 'version' });
    expect(parseCliArgs([])).toEqual({ name: 'help' });
  });
});

describe('parseCliArgs agents', () => {
  it('parses mint, revoke and list', () => {
    expect(parseCliArgs(['agents', 'mint', '--project', 'default', '--name', 'worker-1'])).toEqual({
      name: 'agents',
      action: 'mint',
      project: 'default',
      agentName: 'worker-1',
    });
    expect(parseCliArgs(['agents', 'revoke', 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE'])).toEqual({
      name: 'agents',
      action: 'revoke',
      agentId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
    });
    expect(parseCliArgs(['agents', 'list'])).toEqual({ name: 'agents', action: 'list' });
    expect(parseCliArgs(['agents', 'list', '--project', 'payments'])).toEqual({ name: 'agents', action: 'list', project: 'payments' });
  });

  it('names what is wrong', () => {
    expect(() => parseCliArgs(['agents', 'mint', '--name', 'x'])).toThrow(/--project is required/);
    expect(() => parseCliArgs(['agents', 'mint', '--project', 'default'])).toThrow(/--name is required/);
    expect(() => parseCliArgs(['agents', 'mint', '--project', 'Bad Slug', '--name', 'x'])).toThrow(/--project: expected a project slug/);
    expect(() => parseCliArgs(['agents', 'mint', '--project', 'default', '--name', 'a\u0007b'])).toThrow(
      /--name: expected a name without control characters/,
    );
    expect(() => parseCliArgs(['agents', 'revoke', 'not-a-uuid'])).toThrow(/agent id: expected an agent id \(UUID\)/);
    expect(() => parseCliArgs(['agents', 'frobnicate'])).toThrow(/agents: expected "mint", "revoke" or "list"/);
  });
});
