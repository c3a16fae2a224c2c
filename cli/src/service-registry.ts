import { createApiService } from '@z4j/api';
import { createGatewayService } from '@z4j/gateway';
import { createIngestService } from '@z4j/ingest';
import type { ServiceFactory, ServiceName } from '@z4j/runtime';
import { createSchedulerBridgeService } from '@z4j/scheduler-bridge';
import { createWorkersService } from '@z4j/workers';

/**
 * The CLI is the one composition root that sees every service: `z4j serve`
 * runs them together. Services never import each other.
 */
export const SERVICE_FACTORIES: Readonly<Record<ServiceName, ServiceFactory>> = {
  gateway: createGatewayService,
  ingest: createIngestService,
  api: createApiService,
  workers: createWorkersService,
  'scheduler-bridge': createSchedulerBridgeService,
};
