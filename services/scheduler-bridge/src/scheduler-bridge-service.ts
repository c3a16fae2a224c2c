import { AppError } from '@z4j/errors';
import type { BrainService, ServiceContext } from '@z4j/runtime';

/**
 * The mTLS gRPC endpoint for external schedulers (`Z4J_SCHEDULER_GRPC_*`).
 * Off by default. The gRPC server lands with the scheduler issue; until then
 * turning it on is refused loudly rather than silently ignored.
 */
export function createSchedulerBridgeService(context: ServiceContext): BrainService {
  if (context.settings.schedulerGrpcEnabled) {
    throw new AppError(
      'CONFIG_UNSUPPORTED',
      'Z4J_SCHEDULER_GRPC_ENABLED: the scheduler gRPC bridge is not available in this build yet; set it to false',
    );
  }
  return { name: 'scheduler-bridge' };
}
