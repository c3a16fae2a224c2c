export { createGatewayService } from './gateway-service.js';
