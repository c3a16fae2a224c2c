export { AGENT_REVOKED_CHANNEL, listAgents, mintAgent, revokeAgent } from './agent-enrolment.js';
export type { AgentSummary, MintAgentOptions, MintedAgent } from './agent-enrolment.js';
