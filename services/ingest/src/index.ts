export { createIngestService } from './ingest-service.js';
