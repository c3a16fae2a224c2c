import { ingestStreamToken } from './ingest-stream-token.js';
import { createServer } from 'node:net';
import type { IngestBatchResult, IngestEventBatch, IngestSink } from '@z4j/ingest-contract';
import { createLogger } from '@z4j/logger';
import { JsonFloat, type JsonValue } from '@z4j/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { defer, type Deferred } from './deferred.js';
import { createGrpcIngestClient, type GrpcIngestClient, type GrpcIngestClientOptions } from './grpc-ingest-client.js';
import { createGrpcIngestServer, type GrpcIngestServer, type GrpcIngestServerOptions } from './grpc-ingest-server.js';
import { IngestGrpcError } from './ingest-grpc-error.js';

const logger = createLogger({ level: 'silent', json: true });

/**
 * A real in-memory IngestSink: records every batch and answers with
 * `handler` (default: everything accepted). Tracks how many submits are
 * outstanding at once so flow-control tests can assert the cap.
 */
class MemorySink implements IngestSink {
  readonly batches: IngestEventBatch[] = [];
  outstanding = 0;
  maxOutstanding = 0;
  closed = false;

  constructor(private readonly handler: (batch: IngestEventBatch) => Promise<IngestBatchResult> = acceptAll) {}

  async submit(batch: IngestEventBatch): Promise<IngestBatchResult> {
    this.batches.push(batch);
    this.outstanding += 1;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    try {
      return await this.handler(batch);
    } finally {
      this.outstanding -= 1;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

async function acceptAll(batch: IngestEventBatch): Promise<IngestBatchResult> {
  return { received: batch.events.length, accepted: batch.events.length, rejected: 0 };
}

/** A sink whose submits all wait for `gate` (a never-resolving sink until the test opens it). */
function gatedSink(gate: Deferred<void>): MemorySink {
  return new MemorySink(async (batch) => {
    await gate.promise;
    return acceptAll(batch);
  });
}

/** Polls `condition` on every macrotask turn, failing after `timeoutMs`: no fixed sleeps. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A promise's outcome, observable synchronously. */
function track<T>(promise: Promise<T>) {
  const tracked = { settled: false, value: undefined as T | undefined, error: undefined as unknown, promise };
  promise.then(
    (value) => Object.assign(tracked, { settled: true, value }),
    (error: unknown) => Object.assign(tracked, { settled: true, error }),
  );
  return tracked;
}

function batch(frameId: string, events: readonly JsonValue[] = [{ kind: 'task.succeeded', engine: 'celery' }]): IngestEventBatch {
  return { projectId: 'proj-1', agentId: 'agent-1', frameId, events, receivedAt: new Date('2025-01-02T03:04:05.678Z') };
}

const AUTH_TOKEN = ingestStreamToken('test-master-secret-0123456789-abcdefghijklmnop');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(sink: IngestSink, options: Partial<GrpcIngestServerOptions> = {}, port = 0) {
  const server = createGrpcIngestServer({ sink, logger, authToken: AUTH_TOKEN, ...options });
  const bound = await server.listen('127.0.0.1', port);
  cleanups.push(() => server.close(0));
  return { server, port: bound };
}

function startClient(port: number, options: Partial<GrpcIngestClientOptions> = {}): GrpcIngestClient {
  const client = createGrpcIngestClient({
    address: `127.0.0.1:${port}`,
    logger,
    authToken: AUTH_TOKEN,
    reconnectBackoffMs: { initial: 10, max: 100 },
    closeTimeoutMs: 2000,
    ...options,
  });
  cleanups.push(() => client.close());
  return client;
}

/** A loopback port nothing listens on (bound and released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Deterministic shuffle (LCG) so out-of-order completion is reproducible. */
function shuffle<T>(items: T[], seed: number): T[] {
  let state = seed;
  for (let i = items.length - 1; i > 0; i -= 1) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

describe('round trip', () => {
  it('carries a batch to the sink and the counts back, with bigints and integral floats intact', async () => {
    const sink = new MemorySink(async (b) => ({ received: b.events.length, accepted: 1, rejected: 1 }));
    const { port } = await startServer(sink);
    const client = startClient(port);
    const events: JsonValue[] = [
      {
        kind: 'task.succeeded',
        engine: 'celery',
        big: 2n ** 64n + 1n,
        negativeBig: -(2n ** 60n),
        float: new JsonFloat(1),
        negativeZero: new JsonFloat(-0),
        half: 0.5,
        text: 'zé 🚀',
        nested: [null, true, { deep: new JsonFloat(2e3) }],
      },
      12_345_678_901_234_567_890n,
    ];

    const result = await client.submit(batch('frame-1', events));

    expect(result).toEqual({ received: 2, accepted: 1, rejected: 1 });
    expect(sink.batches).toHaveLength(1);
    const received = sink.batches[0]!;
    expect(received).toMatchObject({ projectId: 'proj-1', agentId: 'agent-1', frameId: 'frame-1' });
    expect(received.receivedAt.toISOString()).toBe('2025-01-02T03:04:05.678Z');
    expect(received.events).toEqual(events);
    const first = received.events[0] as Record<string, JsonValue>;
    expect(first.big).toBe(18_446_744_073_709_551_617n);
    expect(first.negativeBig).toBe(-1_152_921_504_606_846_976n);
    expect(first.float).toBeInstanceOf(JsonFloat);
    expect((first.float as JsonFloat).value).toBe(1);
    expect(first.negativeZero).toBeInstanceOf(JsonFloat);
    expect(Object.is((first.negativeZero as JsonFloat).value, -0)).toBe(true);
    expect(((first.nested as JsonValue[])[2] as Record<string, JsonValue>).deep).toBeInstanceOf(JsonFloat);
    expect(received.events[1]).toBe(12_345_678_901_234_567_890n);
    expect(client.stats()).toMatchObject({ state: 'ready', inFlight: 0, awaitingResponse: 0, streamsOpened: 1 });
  });

  it('resolves 5000 concurrent submits with their own results when the sink completes them out of order', async () => {
    const parked: { batch: IngestEventBatch; done: Deferred<IngestBatchResult> }[] = [];
    const completionOrder: number[] = [];
    let flushScheduled = false;
    let seed = 7;
    const sink = new MemorySink(async (b) => {
      const done = defer<IngestBatchResult>();
      parked.push({ batch: b, done });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(() => {
          flushScheduled = false;
          for (const { batch: parkedBatch, done: parkedDone } of shuffle(parked.splice(0), (seed += 1))) {
            const index = Number(parkedBatch.frameId.slice(2));
            completionOrder.push(index);
            parkedDone.resolve({ received: parkedBatch.events.length, accepted: index, rejected: index % 7 });
          }
        });
      }
      return done.promise;
    });
    const { port } = await startServer(sink);
    const client = startClient(port);

    const count = 5000;
    const results = await Promise.all(
      Array.from({ length: count }, (_, index) =>
        client.submit(
          batch(
            `f-${index}`,
            Array.from({ length: (index % 5) + 1 }, (__, n) => ({ n, index })),
          ),
        ),
      ),
    );

    results.forEach((result, index) => expect(result).toEqual({ received: (index % 5) + 1, accepted: index, rejected: index % 7 }));
    expect(sink.batches).toHaveLength(count);
    // The sink really did finish them out of order.
    expect(completionOrder.some((value, i) => i > 0 && value < completionOrder[i - 1]!)).toBe(true);
    expect(sink.maxOutstanding).toBeLessThanOrEqual(256);
  });
});

describe('flow control', () => {
  it('never has more than maxInFlight batches outstanding; further submits wait until the sink frees a slot', async () => {
    const gate = defer();
    const sink = gatedSink(gate);
    const { port } = await startServer(sink);
    const client = startClient(port, { maxInFlight: 8 });

    const submits = Array.from({ length: 20 }, (_, i) => track(client.submit(batch(`f-${i}`))));
    await waitFor(() => sink.batches.length === 8, 'eight batches in the sink');
    expect(client.stats()).toMatchObject({ inFlight: 8, awaitingResponse: 8, waitingForSlot: 12 });
    // Give the stream a generous window to (wrongly) deliver more: nothing moves while the sink is stuck.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sink.batches).toHaveLength(8);
    expect(submits.filter((s) => s.settled)).toHaveLength(0);

    gate.resolve();
    await Promise.all(submits.map((s) => s.promise));
    expect(sink.batches).toHaveLength(20);
    expect(sink.maxOutstanding).toBe(8);
    expect(client.stats()).toMatchObject({ inFlight: 0, waitingForSlot: 0 });
  });

  it('pauses a stream at maxInFlightPerStream on the server, backing up the client’s writes', async () => {
    const gate = defer();
    const sink = gatedSink(gate);
    const { port } = await startServer(sink, { maxInFlightPerStream: 2 });
    const client = startClient(port, { maxInFlight: 160 });
    // 160 × ~256 kB ≈ 41 MB: far more than the server's unread buffer plus its 8 MiB receive window,
    // so what the server does not read backs up into the client's write buffer.
    const bulky = [{ kind: 'task.received', engine: 'celery', blob: 'x'.repeat(256_000) }];

    const submits = Array.from({ length: 160 }, (_, i) => track(client.submit(batch(`f-${i}`, bulky))));
    await waitFor(() => sink.batches.length === 2, 'two batches in the sink');
    // Let the transport move whatever it can: the server reads no further, so the client stays blocked.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.batches).toHaveLength(2);
    expect(client.stats().writeBlocked).toBe(true);
    expect(client.stats().awaitingResponse).toBeLessThan(160); // some batches are not even written yet
    expect(submits.filter((s) => s.settled)).toHaveLength(0);

    gate.resolve();
    const results = await Promise.all(submits.map((s) => s.promise));
    expect(results.every((r) => r.received === 1)).toBe(true);
    expect(sink.batches).toHaveLength(160);
    expect(sink.maxOutstanding).toBe(2);
    expect(client.stats().writeBlocked).toBe(false);
  });
});

describe('broken streams', () => {
  it('rejects in-flight submits when the server dies, reconnects when a new server listens on the same port', async () => {
    const gate = defer();
    cleanups.push(async () => gate.resolve());
    const first = await startServer(gatedSink(gate));
    const client = startClient(first.port, { connectTimeoutMs: 10_000 });

    const inFlight = [0, 1, 2].map((i) => track(client.submit(batch(`lost-${i}`))));
    await waitFor(() => client.stats().awaitingResponse === 3, 'three batches in flight');
    await first.server.close(0); // no grace: the stream is cut with the batches still in the sink

    for (const submit of inFlight) {
      await expect(submit.promise).rejects.toMatchObject({ name: 'IngestGrpcError', code: 'stream_broken' });
    }
    await waitFor(() => client.stats().state !== 'ready', 'the client to notice');

    // Submitted while nothing listens: waits for the reconnect instead of failing.
    const early = track(client.submit(batch('early')));
    const secondSink = new MemorySink();
    await startServer(secondSink, {}, first.port);

    await expect(early.promise).resolves.toEqual({ received: 1, accepted: 1, rejected: 0 });
    await expect(client.submit(batch('later'))).resolves.toEqual({ received: 1, accepted: 1, rejected: 0 });
    expect(secondSink.batches.map((b) => b.frameId)).toEqual(['early', 'later']);
    expect(client.stats().state).toBe('ready');
    expect(client.stats().streamsOpened).toBeGreaterThan(1);
  });

  it('rejects with ingest_unavailable when no stream comes up within connectTimeoutMs', async () => {
    const client = startClient(await unusedPort(), { connectTimeoutMs: 200 });
    const error = await client.submit(batch('nowhere')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IngestGrpcError);
    expect(error).toMatchObject({ code: 'ingest_unavailable' });
    expect(client.stats().inFlight).toBe(0);
  });

  it('answers what is in the sink on a graceful server close, then the client moves on', async () => {
    const gate = defer();
    const sink = gatedSink(gate);
    const { server, port } = await startServer(sink);
    const client = startClient(port);

    const submits = [0, 1, 2].map((i) => track(client.submit(batch(`f-${i}`))));
    await waitFor(() => sink.batches.length === 3, 'three batches in the sink');
    const closing = track(server.close(10_000));
    await new Promise((resolve) => setImmediate(resolve));
    expect(closing.settled).toBe(false);

    gate.resolve();
    await closing.promise;
    const results = await Promise.all(submits.map((s) => s.promise));
    expect(results).toEqual([0, 1, 2].map(() => ({ received: 1, accepted: 1, rejected: 0 })));
    await waitFor(() => client.stats().state !== 'ready', 'the client to see the stream end');
  });
});

describe('errors', () => {
  it('rejects only the failed submit, with the sink’s code', async () => {
    const sink = new MemorySink(async (b) => {
      if (b.frameId === 'limited') throw Object.assign(new Error('project over its event rate'), { code: 'rate_limited' });
      if (b.frameId === 'broken') throw new Error('connection reset');
      return acceptAll(b);
    });
    const { port } = await startServer(sink);
    const client = startClient(port);

    const [ok1, limited, broken, ok2] = await Promise.allSettled([
      client.submit(batch('ok-1')),
      client.submit(batch('limited')),
      client.submit(batch('broken')),
      client.submit(batch('ok-2')),
    ]);

    expect(ok1).toEqual({ status: 'fulfilled', value: { received: 1, accepted: 1, rejected: 0 } });
    expect(ok2).toEqual({ status: 'fulfilled', value: { received: 1, accepted: 1, rejected: 0 } });
    expect(limited.status === 'rejected' && limited.reason).toBeInstanceOf(IngestGrpcError);
    expect(limited).toMatchObject({ status: 'rejected', reason: { code: 'rate_limited', message: 'project over its event rate' } });
    expect(broken).toMatchObject({ status: 'rejected', reason: { code: 'ingest_failed', message: 'connection reset' } });
    // The stream survived: the same stream keeps working.
    await expect(client.submit(batch('ok-3'))).resolves.toMatchObject({ accepted: 1 });
    expect(client.stats().streamsOpened).toBe(1);
  });

  it('answers invalid counts from the sink with ingest_failed instead of breaking the stream', async () => {
    const sink = new MemorySink(async () => ({ received: -1, accepted: 0.5, rejected: 0 }));
    const { port } = await startServer(sink);
    const client = startClient(port);
    await expect(client.submit(batch('weird'))).rejects.toMatchObject({ code: 'ingest_failed' });
    expect(client.stats().streamsOpened).toBe(1);
  });
});

describe('close()', () => {
  it('waits for in-flight responses, then ends the stream; later submits reject', async () => {
    const gate = defer();
    const sink = gatedSink(gate);
    const { port } = await startServer(sink);
    const client = startClient(port);

    const submits = Array.from({ length: 10 }, (_, i) => track(client.submit(batch(`f-${i}`))));
    await waitFor(() => sink.batches.length === 10, 'ten batches in the sink');
    const closing = track(client.close());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closing.settled).toBe(false);
    expect(client.stats().state).toBe('closing');
    await expect(client.submit(batch('too-late'))).rejects.toMatchObject({ code: 'client_closed' });

    gate.resolve();
    await closing.promise;
    const results = await Promise.all(submits.map((s) => s.promise));
    expect(results).toHaveLength(10);
    expect(client.stats()).toMatchObject({ state: 'closed', inFlight: 0 });
    expect(sink.batches.map((b) => b.frameId)).not.toContain('too-late');
  });

  it('gives up after closeTimeoutMs and rejects what is still unanswered', async () => {
    const gate = defer();
    cleanups.push(async () => gate.resolve());
    const sink = gatedSink(gate);
    const { port } = await startServer(sink);
    const client = startClient(port, { closeTimeoutMs: 100, maxInFlight: 2 });

    const inFlight = [0, 1].map((i) => track(client.submit(batch(`f-${i}`))));
    const waiting = track(client.submit(batch('f-2')));
    await waitFor(() => sink.batches.length === 2, 'two batches in the sink');

    await client.close();
    for (const submit of [...inFlight, waiting]) {
      await expect(submit.promise).rejects.toMatchObject({ code: 'client_closed' });
    }
    expect(client.stats()).toMatchObject({ state: 'closed', inFlight: 0, waitingForSlot: 0 });
  });
});

describe('response timeout', () => {
  it('rejects a written batch that ingest never answers, freeing its slot', async () => {
    const stuck: IngestSink = { submit: () => new Promise(() => undefined), close: async () => undefined };
    const { port } = await startServer(stuck);
    const client = startClient(port, { responseTimeoutMs: 50, maxInFlight: 1 });
    const batch = { projectId: 'p', agentId: 'a', frameId: 'f', events: [], receivedAt: new Date() };
    await expect(client.submit(batch)).rejects.toMatchObject({ code: 'response_timeout' });
    // The only slot is free again: the next submit is written (and times out the same way).
    await expect(client.submit(batch)).rejects.toMatchObject({ code: 'response_timeout' });
    await client.close();
  });
});

describe('authentication', () => {
  it('refuses a stream without the shared token, and one with a wrong token', async () => {
    const sink = new MemorySink();
    const { port } = await startServer(sink);
    for (const authToken of ['', 'wrong-token']) {
      const client = startClient(port, { authToken, connectTimeoutMs: 500, reconnectBackoffMs: { initial: 10, max: 20 } });
      await expect(client.submit({ projectId: 'p', agentId: 'a', frameId: 'f', events: [], receivedAt: new Date() })).rejects.toThrow();
      await client.close();
    }
    expect(sink.batches).toHaveLength(0);
  });
});

describe('server lifecycle', () => {
  it('reports the bound port and refuses a second listen', async () => {
    const server: GrpcIngestServer = createGrpcIngestServer({ sink: new MemorySink(), logger, authToken: AUTH_TOKEN });
    cleanups.push(() => server.close(0));
    const port = await server.listen('127.0.0.1', 0);
    expect(port).toBeGreaterThan(0);
    await expect(server.listen('127.0.0.1', 0)).rejects.toThrow('already listening');
  });

  it('rejects listen on a port in use and lets the caller retry', async () => {
    const { port } = await startServer(new MemorySink());
    const server = createGrpcIngestServer({ sink: new MemorySink(), logger, authToken: AUTH_TOKEN });
    cleanups.push(() => server.close(0));
    await expect(server.listen('127.0.0.1', port)).rejects.toThrow();
    await expect(server.listen('127.0.0.1', 0)).resolves.toBeGreaterThan(0);
  });
});
