import { runBrainMain } from '@z4j/runtime';
import { createGatewayService } from './gateway-service.js';

await runBrainMain(process, { services: [['gateway', createGatewayService]] });
