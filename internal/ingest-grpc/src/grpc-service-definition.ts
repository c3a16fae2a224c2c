import {
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescMethodClientStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type DescService,
  type MessageShape,
} from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';

/**
 * grpc-js speaks its own service-definition shape and has no protobuf-es
 * integration, so the definition is built from the generated descriptor:
 * the HTTP/2 path is `/<package.Service>/<Method>`, the stream flags come
 * from `methodKind`, and protobuf-es's binary codec is the (de)serializer.
 */

type TypedDescMethod<I extends DescMessage, O extends DescMessage> =
  DescMethodUnary<I, O> | DescMethodServerStreaming<I, O> | DescMethodClientStreaming<I, O> | DescMethodBiDiStreaming<I, O>;

/** A Buffer view over the same memory (no copy): grpc-js wants Buffers, protobuf-es returns Uint8Arrays. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The grpc-js definition of one method, typed by its request and response messages. */
export function grpcMethodDefinition<I extends DescMessage, O extends DescMessage>(
  method: TypedDescMethod<I, O>,
): grpc.MethodDefinition<MessageShape<I>, MessageShape<O>> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    originalName: method.localName,
    requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: (value) => asBuffer(toBinary(method.input, value)),
    requestDeserialize: (bytes) => fromBinary(method.input, bytes),
    responseSerialize: (value) => asBuffer(toBinary(method.output, value)),
    responseDeserialize: (bytes) => fromBinary(method.output, bytes),
  };
}

/** The grpc-js definition of a whole service, keyed by each method's `localName` (`ingest`, `listSchedules`, ...). */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<MessageShape<DescMessage>, MessageShape<DescMessage>>> = {};
  for (const method of service.methods) definition[method.localName] = grpcMethodDefinition(method);
  return definition;
}
