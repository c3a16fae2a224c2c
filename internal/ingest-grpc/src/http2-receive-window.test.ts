import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { defer } from './deferred.js';
import { IngestService, type IngestRequest, type IngestResponse } from './gen/z4j/ingest/v1/ingest_pb.js';
import { grpcMethodDefinition, grpcServiceDefinition } from './grpc-service-definition.js';
import { http2SessionOf, widenReceiveWindow } from './http2-receive-window.js';

const METHOD = grpcMethodDefinition(IngestService.method.ingest);
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/**
 * Guards the grpc-js internals http2-receive-window.ts relies on: if this
 * fails after a grpc-js upgrade, either grpc-js now honours
 * `grpc-node.flow_control_window` on the server (delete the module) or the
 * path to the session moved (update `http2SessionOf`).
 */
describe('widenReceiveWindow', () => {
  it('finds the HTTP/2 session under a grpc-js server call and raises its receive window', async () => {
    const called = defer<grpc.ServerDuplexStream<IngestRequest, IngestResponse>>();
    const server = new grpc.Server();
    server.addService(grpcServiceDefinition(IngestService), {
      ingest: (call: grpc.ServerDuplexStream<IngestRequest, IngestResponse>) => called.resolve(call),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    cleanups.push(() => server.forceShutdown());
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const stream = client.makeBidiStreamRequest(METHOD.path, METHOD.requestSerialize, METHOD.responseDeserialize);
    stream.on('error', () => {});

    const call = await called.promise;
    const session = http2SessionOf(call);
    expect(session).toBeDefined();
    const sessions = new WeakSet<object>();
    expect(widenReceiveWindow(call, 8 * 1024 * 1024, sessions)).toBe(true);
    expect(session!.state.localWindowSize).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(widenReceiveWindow(call, 8 * 1024 * 1024, sessions)).toBe(true); // once per session, idempotent
    stream.cancel();
  });

  it('returns false (and changes nothing) for a call without the expected internals', () => {
    const fake = { call: { nextCall: { stream: {} } } } as unknown as grpc.ServerDuplexStream<unknown, unknown>;
    expect(http2SessionOf(fake)).toBeUndefined();
    expect(widenReceiveWindow(fake, 1024, new WeakSet())).toBe(false);
  });
});
