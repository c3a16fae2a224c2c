import { runBrainMain } from '@z4j/runtime';
import { createIngestService } from './ingest-service.js';

await runBrainMain(process, { services: [['ingest', createIngestService]] });
