export { AGENT_REVOKED_CHANNEL, listAgents, markAgentRevoked, mintAgent, revokeAgent } from './agent-enrolment.js';
export type { AgentSummary, MarkAgentRevokedOptions, MarkAgentRevokedResult, MintAgentOptions, MintedAgent } from './agent-enrolment.js';
