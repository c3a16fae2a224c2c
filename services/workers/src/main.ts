import { runBrainMain } from '@z4j/runtime';
import { createWorkersService } from './workers-service.js';

await runBrainMain(process, { services: [['workers', createWorkersService]] });
