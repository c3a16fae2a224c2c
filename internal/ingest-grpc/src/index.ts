export { createGrpcIngestClient, DEFAULT_MAX_MESSAGE_BYTES } from './grpc-ingest-client.js';
export type { GrpcIngestClient, GrpcIngestClientOptions, GrpcIngestClientState, GrpcIngestClientStats } from './grpc-ingest-client.js';
export { createGrpcIngestServer } from './grpc-ingest-server.js';
export type { GrpcIngestServer, GrpcIngestServerOptions } from './grpc-ingest-server.js';
export { INGEST_ERROR_CODES, IngestGrpcError } from './ingest-grpc-error.js';
export { grpcMethodDefinition, grpcServiceDefinition } from './grpc-service-definition.js';
export {
  IngestRequestSchema,
  IngestResponseSchema,
  IngestService,
  file_z4j_ingest_v1_ingest,
  type IngestRequest,
  type IngestResponse,
} from './gen/z4j/ingest/v1/ingest_pb.js';
export { ingestStreamToken } from './ingest-stream-token.js';
