/**
 * `@z4j/agent-bullmq`: the BullMQ engine adapter for `@z4j/agent`. See README.md.
 *
 * @example
 * import { createAgent, agentOptionsFromEnv } from '@z4j/agent';
 * import { createBullMQAdapter } from '@z4j/agent-bullmq';
 * const agent = createAgent({ adapters: [createBullMQAdapter({ queues: [queue], workers: [worker] })], env: agentOptionsFromEnv(process.env) });
 * await agent.start();
 */
export { createBullMQAdapter } from './bullmq-adapter.js';
export type { BullMQAdapterOptions } from './bullmq-adapter.js';
export { parseTaskId, taskIdOf } from './task-id.js';
