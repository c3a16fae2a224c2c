export { createSchedulerBridgeService } from './scheduler-bridge-service.js';
