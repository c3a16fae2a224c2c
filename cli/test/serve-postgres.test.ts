import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createEmptyTestDatabase, FakeAgent, probePostgres, taskEvent } from '@z4j/testing';
import { cleanEnv, runZ4j, startServe } from './serve-process.js';

const postgres = await probePostgres();

function productionEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return cleanEnv({
    Z4J_HOME: mkdtempSync(join(tmpdir(), 'z4j-home-')),
    Z4J_DATABASE_URL: databaseUrl,
    Z4J_SECRET: 'test-secret-0123456789-0123456789-0123456789',
    Z4J_SESSION_SECRET: 'test-session-secret-0123456789-0123456789',
    Z4J_PUBLIC_URL: 'https://z4j.example.com',
    Z4J_METRICS_PUBLIC: 'true',
  });
}

describe.skipIf(!postgres.available)('z4j serve on Postgres', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'z4j-cwd-'));

  it('migrates an empty database while a second instance starts at the same time, then both serve', async () => {
    const database = await createEmptyTestDatabase();
    try {
      const env = productionEnv(database.url);
      const [a, b] = await Promise.all([startServe([], env, cwd), startServe([], env, cwd)]);
      try {
        for (const instance of [a, b]) {
          const ready = await fetch(`${instance.url}/api/v1/health/ready`);
          expect(ready.status).toBe(200);
        }
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          const ledger = await client.query<{ versions: number[] }>(
            'select array_agg(version order by version) as versions from z4j_schema_migrations',
          );
          const versions = ledger.rows[0]?.versions ?? [];
          expect(versions[0]).toBe(1);
          expect(versions).toEqual(versions.map((_, index) => index + 1));
          const partitions = await client.query("select count(*)::int as n from pg_inherits where inhparent = 'events'::regclass");
          expect((partitions.rows[0] as { n: number }).n).toBeGreaterThanOrEqual(8);
        } finally {
          await client.end();
        }
      } finally {
        expect(await a.stop()).toBe(0);
        expect(await b.stop()).toBe(0);
      }
    } finally {
      await database.drop();
    }
  });

  it('runs a single service alone with its own health endpoints, even before the service it feeds is up', async () => {
    const database = await createEmptyTestDatabase();
    try {
      // Nothing listens on port 9 (discard): the gateway must still start and keep retrying ingest.
      const gateway = await startServe(['--only', 'gateway'], { ...productionEnv(database.url), Z4J_INGEST_GRPC_URL: '127.0.0.1:9' }, cwd);
      try {
        expect((await fetch(`${gateway.url}/api/v1/health`)).status).toBe(200);
        expect((await fetch(`${gateway.url}/api/v1/health/ready`)).status).toBe(200);
        expect((await fetch(`${gateway.url}/metrics`)).status).toBe(200);
      } finally {
        expect(await gateway.stop()).toBe(0);
      }
    } finally {
      await database.drop();
    }
  });

  it('runs gateway and ingest as two processes joined by the gRPC stream', async () => {
    const database = await createEmptyTestDatabase();
    try {
      const env = { ...productionEnv(database.url), Z4J_INGEST_GRPC_BIND_HOST: '127.0.0.1', Z4J_INGEST_GRPC_BIND_PORT: '0' };
      const ingest = await startServe(['--only', 'ingest'], env, cwd);
      const grpcLine = ingest
        .stdout()
        .split('\n')
        .find((line) => line.includes('"ingest:grpc:listening"'));
      const grpcPort = (JSON.parse(grpcLine ?? '{}') as { port?: number }).port;
      expect(grpcPort).toBeGreaterThan(0);
      const gateway = await startServe(['--only', 'gateway'], { ...env, Z4J_INGEST_GRPC_URL: `127.0.0.1:${grpcPort}` }, cwd);
      try {
        const minted = await runZ4j(['agents', 'mint', '--project', 'default', '--name', 'two-process-agent'], env, cwd);
        expect(minted.code).toBe(0);
        const { token, hmac_secret: hmacSecret } = JSON.parse(minted.stdout) as { token: string; hmac_secret: string };
        const agent = await FakeAgent.handshake({ url: `${gateway.url.replace(/^http/, 'ws')}/ws/agent`, token, hmacSecret });
        const at = new Date();
        const frameId = agent.eventBatch([
          taskEvent('task.received', 'two-proc-1', at),
          taskEvent('task.succeeded', 'two-proc-1', new Date(at.getTime() + 5)),
        ]);
        const ack = await agent.waitForAck(frameId);
        expect(ack.payload).toEqual({ acked_id: frameId, received: 2, accepted: 2, rejected: 0 });
        await agent.close();
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          const task = await client.query<{ state: string }>("select state from tasks where task_id = 'two-proc-1'");
          expect(task.rows).toEqual([{ state: 'success' }]);
          const events = await client.query<{ n: number }>("select count(*)::int as n from events where task_id = 'two-proc-1'");
          expect(events.rows[0]?.n).toBe(2);
        } finally {
          await client.end();
        }
      } finally {
        expect(await gateway.stop()).toBe(0);
        expect(await ingest.stop()).toBe(0);
      }
    } finally {
      await database.drop();
    }
  });

  it('with Z4J_AUTO_MIGRATE=false stays up but unready until "z4j migrate up" has run', async () => {
    const database = await createEmptyTestDatabase();
    try {
      const env = { ...productionEnv(database.url), Z4J_AUTO_MIGRATE: 'false' };
      const brain = await startServe([], env, cwd, 'listening');
      try {
        const unready = await fetch(`${brain.url}/api/v1/health/ready`);
        expect(unready.status).toBe(503);
        expect(await unready.json()).toEqual({ status: 'unready', reason: 'migrations_pending' });
        expect((await fetch(`${brain.url}/api/v1/health`)).status).toBe(200);
        // Agents are turned away (503 on the upgrade) until the services have started.
        await expect(
          FakeAgent.connect({ url: `${brain.url.replace(/^http/, 'ws')}/ws/agent`, token: 'x', hmacSecret: 'A'.repeat(44) }),
        ).rejects.toThrow(/HTTP 503/);

        const migrate = await runZ4j(['migrate', 'up'], env, cwd);
        expect(migrate.code).toBe(0);
        expect(migrate.stdout).toMatch(/applied \d+ migration\(s\)/);
        // The brain re-checks the schema every few seconds; poll, bounded.
        let status = 503;
        for (let attempt = 0; attempt < 100 && status !== 200; attempt += 1) {
          status = (await fetch(`${brain.url}/api/v1/health/ready`)).status;
          if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(status).toBe(200);
      } finally {
        expect(await brain.stop()).toBe(0);
      }
    } finally {
      await database.drop();
    }
  });

  it('refuses production without the required variables, naming the missing one', async () => {
    const env = cleanEnv({
      Z4J_HOME: mkdtempSync(join(tmpdir(), 'z4j-home-')),
      Z4J_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
    });
    const result = await runZ4j(['serve'], env, cwd);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/Z4J_SECRET/);
  });

  it('refuses a non-loopback database URL that does not require SSL, before connecting', async () => {
    const env = productionEnv('postgres://z4j:pw@db.example.com:5432/z4j');
    const result = await runZ4j(['serve'], env, cwd);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Z4J_DATABASE_URL: host "db\.example\.com" is not loopback .*\?sslmode=require/);
    expect(result.stderr).not.toContain(':pw@');
  });
});
