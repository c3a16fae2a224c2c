/**
 * `@z4j/agent-pg-boss`: the pg-boss engine adapter for `@z4j/agent`. See README.md.
 *
 * @example
 * import { createAgent, agentOptionsFromEnv } from '@z4j/agent';
 * import { createPgBossAdapter } from '@z4j/agent-pg-boss';
 * const adapter = createPgBossAdapter({ boss });
 * const agent = createAgent({ adapters: [adapter], env: agentOptionsFromEnv(process.env) });
 * await agent.start();
 * await adapter.work('mail', async ([job], { signal }) => sendMail(job.data, { signal }));
 */
export { createPgBossAdapter } from './pg-boss-adapter.js';
export type { PgBossAdapter, PgBossAdapterOptions } from './pg-boss-adapter.js';
export type { PgBossWorkContext, PgBossWorkHandler } from './local-workers.js';
export { parseTaskId, taskIdOf } from './task-id.js';
