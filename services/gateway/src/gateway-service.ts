import type { BrainService, ServiceContext } from '@z4j/runtime';

/**
 * Agent and dashboard WebSockets (`/ws`, `/ws/agent`, `/ws/dashboard`).
 * This slice runs the service shell (health, metrics, lifecycle) so the
 * deployment shape is real from day one; the protocol-2 handshake and frame
 * handling land with the agent data-path issue.
 */
export function createGatewayService(context: ServiceContext): BrainService {
  context.logger.debug('gateway:created');
  return { name: 'gateway' };
}
