import { ingestStreamToken } from './ingest-stream-token.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import type { IngestBatchResult, IngestEventBatch, IngestSink } from '@z4j/ingest-contract';
import { createLogger } from '@z4j/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestRequestSchema, IngestService, type IngestRequest, type IngestResponse } from './gen/z4j/ingest/v1/ingest_pb.js';
import { defer } from './deferred.js';
import { createGrpcIngestServer } from './grpc-ingest-server.js';
import { grpcMethodDefinition } from './grpc-service-definition.js';

const logger = createLogger({ level: 'silent', json: true });
const METHOD = grpcMethodDefinition(IngestService.method.ingest);

class RecordingSink implements IngestSink {
  readonly batches: IngestEventBatch[] = [];
  settled = 0;
  constructor(private readonly gate: Promise<void> = Promise.resolve()) {}
  async submit(batch: IngestEventBatch): Promise<IngestBatchResult> {
    this.batches.push(batch);
    await this.gate;
    this.settled += 1;
    return { received: batch.events.length, accepted: batch.events.length, rejected: 0 };
  }
  async close(): Promise<void> {}
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(gate?: Promise<void>) {
  const sink = new RecordingSink(gate);
  const server = createGrpcIngestServer({ sink, logger, authToken: ingestStreamToken('test-master-secret-0123456789-abcdefghijklmnop') });
  const port = await server.listen('127.0.0.1', 0);
  cleanups.push(() => server.close(0));
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  return { sink, client, server };
}

/** A raw stream (no IngestSink client in the way), collecting responses by request id. */
function rawStream(client: grpc.Client, serialize: (value: IngestRequest) => Buffer = METHOD.requestSerialize) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${ingestStreamToken('test-master-secret-0123456789-abcdefghijklmnop')}`);
  const call = client.makeBidiStreamRequest(METHOD.path, serialize, METHOD.responseDeserialize, metadata);
  const responses: IngestResponse[] = [];
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('data', (response: IngestResponse) => responses.push(response));
  call.on('error', () => {});
  return { call, responses, status };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function request(fields: Partial<IngestRequest> & { requestId: bigint }): IngestRequest {
  return create(IngestRequestSchema, {
    projectId: 'proj-1',
    agentId: 'agent-1',
    frameId: `frame-${fields.requestId}`,
    receivedAt: timestampFromDate(new Date('2025-01-02T03:04:05Z')),
    eventsJson: Buffer.from('[{"kind":"task.started","engine":"rq","n":1.0}]'),
    ...fields,
  });
}

describe('malformed requests', () => {
  it('answers invalid_request for each and keeps the stream serving', async () => {
    const { sink, client } = await start();
    const { call, responses } = rawStream(client);

    call.write(request({ requestId: 1n, eventsJson: Buffer.from('{not json') }));
    call.write(request({ requestId: 2n, projectId: '' }));
    call.write(request({ requestId: 3n, eventsJson: Buffer.from('{"events":[]}') }));
    call.write(request({ requestId: 4n, receivedAt: undefined }));
    call.write(request({ requestId: 5n, agentId: '' }));
    call.write(request({ requestId: 6n, frameId: '' }));
    call.write(request({ requestId: 7n, eventsJson: new Uint8Array([0x5b, 0xff, 0x5d]) })); // invalid UTF-8
    call.write(request({ requestId: 0n }));
    call.write(request({ requestId: 8n }));
    await waitFor(() => responses.length === 9, 'nine responses');

    const byId = new Map(responses.map((r) => [r.requestId, r]));
    for (const id of [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n]) expect(byId.get(id)?.errorCode, `request ${id}`).toBe('invalid_request');
    expect(byId.get(1n)?.errorMessage).toMatch(/^events_json is not valid JSON/);
    expect(byId.get(2n)?.errorMessage).toBe('project_id is missing');
    expect(byId.get(3n)?.errorMessage).toBe('events_json is not a JSON array');
    expect(byId.get(4n)?.errorMessage).toBe('received_at is missing');
    expect(byId.get(0n)?.errorMessage).toBe('request_id is missing');
    expect(byId.get(8n)).toMatchObject({ errorCode: '', received: 1, accepted: 1, rejected: 0 });
    expect(sink.batches.map((b) => b.frameId)).toEqual(['frame-8']);
    call.end();
  });

  it('ends only the stream that sent undecodable protobuf; the server keeps serving', async () => {
    const { sink, client } = await start();
    const garbage = rawStream(client, () => Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    garbage.call.write(request({ requestId: 1n }));
    const status = await garbage.status;
    expect(status.code).not.toBe(grpc.status.OK);

    const healthy = rawStream(client);
    healthy.call.write(request({ requestId: 1n }));
    await waitFor(() => healthy.responses.length === 1, 'a response on a fresh stream');
    expect(healthy.responses[0]).toMatchObject({ errorCode: '', accepted: 1 });
    expect(sink.batches).toHaveLength(1);
    healthy.call.end();
  });

  it('ends the stream with OK once the client half-closes and every answer is out', async () => {
    const { client } = await start();
    const { call, responses, status } = rawStream(client);
    call.write(request({ requestId: 1n }));
    call.write(request({ requestId: 2n }));
    call.end();
    expect((await status).code).toBe(grpc.status.OK);
    expect(responses.map((r) => r.requestId).sort()).toEqual([1n, 2n]);
  });
});

describe('graceful close', () => {
  it('waits for batches still in the sink even when their gateway went away', async () => {
    const gate = defer();
    const { sink, client, server } = await start(gate.promise);
    const { call } = rawStream(client);
    call.write(request({ requestId: 1n }));
    await waitFor(() => sink.batches.length === 1, 'the batch in the sink');
    call.cancel();

    let closed = false;
    const closing = server.close(10_000).then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    gate.resolve();
    await closing;
    expect(sink.settled).toBe(1);
  });
});
