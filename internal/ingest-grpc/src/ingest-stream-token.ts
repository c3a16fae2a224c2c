import { createHmac } from 'node:crypto';

/**
 * The bearer token gateways present to the ingest gRPC stream: derived from
 * `Z4J_SECRET`, which every replica already shares, so there is nothing new
 * to distribute — and a pod without the secret cannot write events.
 *
 * @example
 * createGrpcIngestClient({ address, logger, authToken: ingestStreamToken(settings.secret) });
 */
export function ingestStreamToken(masterSecret: string): string {
  return createHmac('sha256', Buffer.from(masterSecret, 'utf8')).update('z4j-ingest-grpc-v1').digest('hex');
}
