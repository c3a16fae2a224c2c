import type { Agent, AgentStartOptions } from './agent.js';
import type { AgentLogger } from './agent-logger.js';

/**
 * The part of a Node `http.Server` (what `app.listen()` returns in Express, and `serve()` in `@hono/node-server`)
 * the helpers use.
 *
 * @example
 * const server: ListeningServer = app.listen(3000);
 */
export interface ListeningServer {
  readonly listening: boolean;
  once(event: 'listening' | 'close', listener: () => void): unknown;
}

/**
 * The part of a Fastify instance the helper uses: its `onReady` and `onClose` application hooks.
 *
 * @example
 * const app: FastifyLike = Fastify();
 */
export interface FastifyLike {
  addHook(name: 'onReady', hook: () => Promise<void>): unknown;
  addHook(name: 'onClose', hook: (instance: unknown) => Promise<void>): unknown;
}

/**
 * Options shared by the helpers.
 *
 * @example
 * void attachToExpress(server, agent, { stopGraceMs: 10_000, logger: pinoLogger });
 */
export interface AttachOptions {
  /** Grace for {@link Agent.stop} when the server closes, ms. Default 5000. */
  readonly stopGraceMs?: number;
  /** Where a failed agent start is reported (the server keeps running). Default: `console.error`. */
  readonly logger?: Pick<AgentLogger, 'error'>;
}

function startQuietly(agent: Agent, start: AgentStartOptions, options: AttachOptions): Promise<void> {
  return agent.start(start).catch((error: unknown) => {
    // The app must keep serving even if monitoring cannot start; the error is reported, not thrown.
    if (options.logger) options.logger.error({ err: error }, 'agent:start_failed');
    else console.error('[z4j-agent] agent:start_failed', error);
  });
}

/**
 * Ties an agent to a Node HTTP server: it starts when the server is listening (at once if it already is) and stops
 * gracefully when the server closes. Resolves once the agent's start has been attempted; never rejects.
 *
 * @example
 * const server = app.listen(3000);
 * await attachToHttpServer(server, agent, { framework: 'express' });
 */
export function attachToHttpServer(
  server: ListeningServer,
  agent: Agent,
  start: AgentStartOptions = {},
  options: AttachOptions = {},
): Promise<void> {
  server.once('close', () => void agent.stop({ graceMs: options.stopGraceMs ?? 5_000 }));
  if (server.listening) return startQuietly(agent, start, options);
  return new Promise((resolve) => server.once('listening', () => void startQuietly(agent, start, options).then(resolve)));
}

/**
 * Express: starts the agent with the server `app.listen()` returned and stops it when the server closes
 * (`framework: "express"`, worker role `web` in hello).
 *
 * @example
 * const server = app.listen(3000);
 * void attachToExpress(server, agent);
 * // later: server.close() → the agent flushes and disconnects
 */
export function attachToExpress(server: ListeningServer, agent: Agent, options: AttachOptions = {}): Promise<void> {
  return attachToHttpServer(server, agent, { framework: 'express', workerRole: 'web' }, options);
}

/**
 * Hono on Node: pass the server `serve()` from `@hono/node-server` returned (`framework: "hono"`, role `web`).
 *
 * @example
 * const server = serve({ fetch: app.fetch, port: 3000 });
 * void attachToHono(server, agent);
 */
export function attachToHono(server: ListeningServer, agent: Agent, options: AttachOptions = {}): Promise<void> {
  return attachToHttpServer(server, agent, { framework: 'hono', workerRole: 'web' }, options);
}

/**
 * Fastify: registers `onReady` (start the agent) and `onClose` (stop it gracefully) hooks; call it before
 * `app.listen()` / `app.ready()` (`framework: "fastify"`, role `web`). A failed agent start is logged and does not
 * stop the server from starting.
 *
 * @example
 * const app = Fastify();
 * attachToFastify(app, agent);
 * await app.listen({ port: 3000 });
 */
export function attachToFastify(app: FastifyLike, agent: Agent, options: AttachOptions = {}): void {
  app.addHook('onReady', () => startQuietly(agent, { framework: 'fastify', workerRole: 'web' }, options));
  app.addHook('onClose', () => agent.stop({ graceMs: options.stopGraceMs ?? 5_000 }));
}
