import { runBrainMain } from '@z4j/runtime';
import { createApiService } from './api-service.js';

await runBrainMain(process, { services: [['api', createApiService]] });
