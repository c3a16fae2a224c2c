import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeAgent, taskEvent } from '@z4j/testing';
import { cleanEnv, runZ4j, startServe, type ServeProcess } from './serve-process.js';

/**
 * The README's start path on the embedded database: first boot mints
 * secrets and a setup link, a restart reuses both secrets and data, and
 * SIGTERM drains and exits 0.
 */
describe('z4j serve on the embedded database', () => {
  const home = mkdtempSync(join(tmpdir(), 'z4j-home-'));
  const cwd = mkdtempSync(join(tmpdir(), 'z4j-cwd-'));
  const env = cleanEnv({ Z4J_HOME: home });
  let running: ServeProcess | undefined;
  afterAll(async () => {
    await running?.stop('SIGKILL');
  });

  it('boots, answers health and readiness, mints 0600 secrets and prints the setup link', async () => {
    running = await startServe([], env, cwd);
    const health = await fetch(`${running.url}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${running.url}/api/v1/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    const secretFile = join(home, 'secret.env');
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    const secrets = readFileSync(secretFile, 'utf8');
    for (const name of ['Z4J_SECRET', 'Z4J_SESSION_SECRET', 'Z4J_METRICS_AUTH_TOKEN'])
      expect(secrets).toMatch(new RegExp(`^${name}=.{32,}$`, 'm'));
    expect(running.stderr()).toMatch(/http:\/\/localhost:7700\/setup\?token=[\w-]{43}/);
    // Secrets never reach the logs.
    const secretValue = /^Z4J_SECRET=(.+)$/m.exec(secrets)?.[1] ?? 'missing';
    expect(running.stdout()).not.toContain(secretValue);

    const metricsToken = /^Z4J_METRICS_AUTH_TOKEN=(.+)$/m.exec(secrets)?.[1] ?? '';
    expect((await fetch(`${running.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${running.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status).toBe(200);

    expect(await running.stop('SIGTERM')).toBe(0);
    await expect(fetch(`${running.url}/api/v1/health`)).rejects.toThrow();
    running = undefined;
  });

  it('reuses the same secrets and data on restart', async () => {
    const before = readFileSync(join(home, 'secret.env'), 'utf8');
    running = await startServe([], env, cwd);
    expect((await fetch(`${running.url}/api/v1/health/ready`)).status).toBe(200);
    expect(readFileSync(join(home, 'secret.env'), 'utf8')).toBe(before);
    // The setup token minted on first boot is still stored and valid, so no new link is printed.
    expect(running.stderr()).not.toMatch(/setup\?token=/);
    expect(await running.stop('SIGTERM')).toBe(0);
    running = undefined;

    const status = await runZ4j(['migrate', 'status'], env, cwd);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^applied {2}0001_/m);
    expect(status.stdout).not.toMatch(/^pending/m);
  });

  it('refuses a second brain on the same data directory with one clear line', async () => {
    running = await startServe([], env, cwd);
    const second = await runZ4j(['serve', '--host', '127.0.0.1', '--port', '0'], env, cwd);
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toMatch(/another z4j process \(pid \d+\) is using the embedded database/);
    expect(await running.stop('SIGTERM')).toBe(0);
    running = undefined;
  });

  it('takes agents on the embedded database: mint, connect, ack a batch, project the task', async () => {
    const minted = await runZ4j(['agents', 'mint', '--project', 'default', '--name', 'embedded-agent'], env, cwd);
    expect(minted.code).toBe(0);
    const { token, hmac_secret: hmacSecret } = JSON.parse(minted.stdout) as { token: string; hmac_secret: string };
    running = await startServe([], env, cwd);
    const agent = await FakeAgent.handshake({ url: `${running.url.replace(/^http/, 'ws')}/ws/agent`, token, hmacSecret });
    const at = new Date();
    const frameId = agent.eventBatch([
      taskEvent('task.received', 'embedded-1', at),
      taskEvent('task.failed', 'embedded-1', new Date(at.getTime() + 3), { exception: 'KeyError' }),
    ]);
    expect((await agent.waitForAck(frameId)).payload).toEqual({ acked_id: frameId, received: 2, accepted: 2, rejected: 0 });
    await agent.close();
    expect(await running.stop('SIGTERM')).toBe(0);
    running = undefined;
    const listed = await runZ4j(['agents', 'list'], env, cwd);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ name: 'embedded-agent', project_slug: 'default', revoked: false }),
    ]);
  });

  it('prints and rotates the metrics token', async () => {
    const shown = await runZ4j(['metrics-token'], env, cwd);
    expect(shown.code).toBe(0);
    const rotated = await runZ4j(['metrics-token', 'rotate'], env, cwd);
    expect(rotated.code).toBe(0);
    const newToken = rotated.stdout.split('\n')[0] ?? '';
    expect(newToken).toMatch(/^[\w-]{32,}$/);
    expect(newToken).not.toBe(shown.stdout.trim());
    expect(readFileSync(join(home, 'secret.env'), 'utf8')).toContain(`Z4J_METRICS_AUTH_TOKEN=${newToken}`);
  });

  it('stops start-up with one line naming a wrong variable', async () => {
    const result = await runZ4j(['serve'], { ...env, Z4J_WS_MAX_FRAME_BYTES: 'lots' }, cwd);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/Z4J_WS_MAX_FRAME_BYTES/);
    const usage = await runZ4j(['serve', '--only', 'frontend'], env, cwd);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--only: expected one or more of/);
  });
});
