import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { encodeHmacSecret } from '@z4j/protocol';
import { createAgent, type Agent } from './agent.js';
import type { AgentLogger } from './agent-logger.js';
import { attachToExpress, attachToFastify, attachToHono, type FastifyLike } from './framework-helpers.js';

const silent: AgentLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** An agent whose brain is unreachable: start/stop must not depend on the brain. */
function offlineAgent(): Agent {
  return createAgent({ brainUrl: 'http://127.0.0.1:9', token: 't', hmacSecret: encodeHmacSecret(Buffer.alloc(32, 1)), logger: silent });
}

const closeServer = (server: { close(callback: (error?: Error) => void): unknown }) =>
  new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));

async function stopped(agent: Agent): Promise<boolean> {
  for (let i = 0; i < 100 && agent.state !== 'stopped'; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  return agent.state === 'stopped';
}

describe('framework helpers', () => {
  it('Express-style: starts the agent when the server listens and stops it when the server closes', async () => {
    const agent = offlineAgent();
    const server = createServer((_request, response) => response.end('ok'));
    const attached = attachToExpress(server, agent);
    expect(agent.state).toBe('idle');
    server.listen(0, '127.0.0.1');
    await attached;
    expect(agent.state).toBe('running');
    const reply = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(await reply.text()).toBe('ok');
    await closeServer(server);
    expect(await stopped(agent)).toBe(true);
  });

  it('Hono on @hono/node-server: the same, with the server serve() returns (already listening)', async () => {
    const agent = offlineAgent();
    const app = new Hono().get('/', (c) => c.text('hono'));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    await attachToHono(server, agent);
    expect(agent.state).toBe('running');
    await closeServer(server);
    expect(await stopped(agent)).toBe(true);
  });

  it('Fastify: starts in onReady and stops in onClose; a failing start does not fail onReady', async () => {
    type Hook = (instance: unknown) => Promise<void>;
    const hooks: { onReady: Hook[]; onClose: Hook[] } = { onReady: [], onClose: [] };
    const app: FastifyLike = {
      addHook(name: 'onReady' | 'onClose', hook: Hook) {
        hooks[name].push(hook);
        return app;
      },
    };
    const agent = offlineAgent();
    attachToFastify(app, agent);
    expect(agent.state).toBe('idle');
    for (const hook of hooks.onReady) await hook(app);
    expect(agent.state).toBe('running');
    for (const hook of hooks.onClose) await hook(app);
    expect(agent.state).toBe('stopped');

    // Started twice (a second onReady): the error is logged, not thrown into the framework.
    const errors: unknown[] = [];
    attachToFastify(app, agent, { logger: { error: (fields) => errors.push(fields.err) } });
    await expect(hooks.onReady.at(-1)!(app)).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
