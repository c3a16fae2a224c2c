import { Counter, Gauge, type Registry } from 'prom-client';

/** The gateway's Prometheus series (`z4j_<noun>_<unit>`). */
export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  return {
    connections: new Gauge({ name: 'z4j_ws_connections', help: 'Open agent WebSocket connections on this gateway', registers }),
    framesReceived: new Counter({ name: 'z4j_gateway_frames_received_total', help: 'Agent frames received', registers }),
    repeatedFrames: new Counter({
      name: 'z4j_gateway_repeated_frames_total',
      help: 'event_batch frames the agent sent again (answered from memory, no database work)',
      labelNames: ['state'] as const,
      registers,
    }),
    verificationFailures: new Counter({
      name: 'z4j_gateway_frame_rejections_total',
      help: 'Frames closed with 4403 (HMAC or replay)',
      registers,
    }),
    authFailures: new Counter({ name: 'z4j_gateway_auth_failures_total', help: 'Connections closed with 4401', registers }),
    pauses: new Counter({
      name: 'z4j_gateway_socket_pauses_total',
      help: 'Times a socket was paused for backpressure',
      labelNames: ['reason'] as const,
      registers,
    }),
    ingestFailures: new Counter({
      name: 'z4j_gateway_ingest_failures_total',
      help: 'Event batches ingest did not commit (not acked; the agent re-sends)',
      registers,
    }),
    commandsPushed: new Counter({ name: 'z4j_gateway_commands_pushed_total', help: 'Command frames pushed to agents', registers }),
    commandsRecovered: new Counter({
      name: 'z4j_gateway_commands_recovered_total',
      help: 'Pending commands the reconcile loop delivered (their z4j_commands NOTIFY never led to a push)',
      registers,
    }),
    malformedCommandNotifications: new Counter({
      name: 'z4j_gateway_command_notifications_malformed_total',
      help: 'z4j_commands payloads that were not {"c": uuid, "a": uuid} (ignored)',
      registers,
    }),
    lateResults: new Counter({
      name: 'z4j_command_late_results_total',
      help: 'command_result frames for commands already terminal (e.g. timed out)',
      labelNames: ['status'] as const,
      registers,
    }),
    queueDepth: new Gauge({
      name: 'z4j_queue_depth',
      help: 'Queue depth reported by agents',
      labelNames: ['project', 'queue', 'engine'] as const,
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
