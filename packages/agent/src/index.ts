/**
 * `@z4j/agent`: the z4j agent SDK for Node.js. It connects task engines (through {@link EngineAdapter}s) to the z4j
 * brain over protocol 2: buffered and acked event batches, heartbeats with queue depths and worker details, and
 * commands with dedupe and capability checks. See README.md.
 *
 * @example
 * import { agentOptionsFromEnv, createAgent } from '@z4j/agent';
 * const agent = createAgent({ adapters: [adapter], env: agentOptionsFromEnv(process.env) });
 * await agent.start();
 */
export { createAgent } from './agent.js';
export type { Agent, AgentStartOptions, AgentState, AgentStats, CreateAgentOptions } from './agent.js';
export { agentOptionsFromEnv, resolveAgentConfig } from './agent-options.js';
export type { AgentConfig, AgentConfigLayers, AgentOptions, AgentSettings, WorkerRole } from './agent-options.js';
export { AgentConfigError } from './agent-config-error.js';
export type { AgentConfigSource } from './agent-config-error.js';
export { consoleLogger } from './agent-logger.js';
export type { AgentLogger } from './agent-logger.js';
export { AGENT_VERSION } from './agent-version.js';
export { agentSocketUrl } from './brain-url.js';
export { CommandError } from './command-error.js';
export type { CommandAction, CommandTarget, EngineAdapter, ScheduleAction, SchedulerAdapter, WorkerDetail } from './engine-adapter.js';
export type { EmitInput, EmittableEventKind, EventDataByKind, EventSink, TaskEventData, TaskEventKind } from './event-sink.js';
export { attachToExpress, attachToFastify, attachToHono, attachToHttpServer } from './framework-helpers.js';
export type { AttachOptions, FastifyLike, ListeningServer } from './framework-helpers.js';
export { backoffDelayMs, backoffPolicies, classifyClose } from './reconnect-backoff.js';
export type { BackoffPolicy, FailureKind } from './reconnect-backoff.js';
export { toJsonValue } from './to-json-value.js';
