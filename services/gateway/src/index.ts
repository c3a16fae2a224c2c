export { createGatewayService, AGENT_SOCKET_PATHS } from './gateway-service.js';
export { AgentConnectionRegistry } from './agent-registry.js';
export { readAdapterHealth, WORKER_CONF_ALLOWLIST } from './adapter-health.js';
export { createCommandRouter, parseCommandNotification, RECONCILE_LIMIT } from './command-router.js';
export type { CommandNotificationPayload, CommandRouter, CommandRouterDeps, CommandTarget } from './command-router.js';
