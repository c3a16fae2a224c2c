export { createWorkersService } from './workers-service.js';
export { runPartitionMaintenance, PARTITION_DAYS_AHEAD } from './partition-maintenance.js';
export type { PartitionMaintenanceOptions, PartitionMaintenanceResult } from './partition-maintenance.js';
export { createPeriodicTask } from './periodic-task.js';
export type { PeriodicTask, PeriodicTaskOptions } from './periodic-task.js';
export { sweepCommandTimeouts, COMMAND_TIMEOUT_ERROR } from './command-timeouts.js';
export type { CommandTimeoutSweepOptions } from './command-timeouts.js';
export { sweepAgentHealth } from './agent-health.js';
export type { AgentHealthSweepOptions, AgentHealthSweepResult } from './agent-health.js';
