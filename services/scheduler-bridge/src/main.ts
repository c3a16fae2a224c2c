import { runBrainMain } from '@z4j/runtime';
import { createSchedulerBridgeService } from './scheduler-bridge-service.js';

await runBrainMain(process, { services: [['scheduler-bridge', createSchedulerBridgeService]] });
