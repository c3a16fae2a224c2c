export { createGatewayService, AGENT_SOCKET_PATHS } from './gateway-service.js';
export { AgentConnectionRegistry } from './agent-registry.js';
export { readAdapterHealth, WORKER_CONF_ALLOWLIST } from './adapter-health.js';
