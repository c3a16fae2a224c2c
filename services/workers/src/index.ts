export { createWorkersService } from './workers-service.js';
export { runPartitionMaintenance, PARTITION_DAYS_AHEAD } from './partition-maintenance.js';
export type { PartitionMaintenanceOptions, PartitionMaintenanceResult } from './partition-maintenance.js';
export { createPeriodicTask } from './periodic-task.js';
export type { PeriodicTask, PeriodicTaskOptions } from './periodic-task.js';
