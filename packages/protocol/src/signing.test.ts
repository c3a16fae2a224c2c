import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonObject, serializeInOrder, shuffleKeys } from './arbitraries.test-util.js';
import { canonicalBytes, canonicalJson } from './canonical-json.js';
import { FrameError, FrameVerificationError, type FrameVerificationReason } from './errors.js';
import { parseFrame, SIGNED_FRAME_TYPES } from './frames.js';
import { isoTimestamp, parseIsoWithTimezone } from './iso-time.js';
import { JsonParseError, parseJson } from './json-parse.js';
import { JsonFloat, type JsonObject, type JsonValue } from './json-value.js';
import { deriveProjectSecret } from './secrets.js';
import { computeFrameHmac, FrameSigner, FrameVerifier, ReplayGuard, type SessionBinding } from './signing.js';

const MASTER = 'test-master-secret-0123456789-abcdefghijklmnop';
const PROJECT_ID = '11111111-2222-4333-8444-555555555555';
const SECRET = deriveProjectSecret(MASTER, PROJECT_ID);
const BINDING: SessionBinding = {
  agentId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
  projectId: PROJECT_ID,
  sessionId: '00000000-0000-4000-8000-000000000001',
};
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A controllable clock. */
function clock(start = T0) {
  let ms = start;
  return {
    now: () => new Date(ms),
    advance(deltaMs: number) {
      ms += deltaMs;
    },
  };
}

/** A correctly signed frame with explicit envelope values. */
function signedFrame(fields: Partial<Record<'seq' | 'ts' | 'nonce' | 'type' | 'id', JsonValue>> & { payload?: JsonObject } = {}) {
  const frame: JsonObject = {
    v: 2,
    type: 'heartbeat',
    id: 'hb_000000000001',
    ts: '2026-01-01T00:00:00Z',
    nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
    seq: 1,
    payload: { buffer_size: 0, last_flush_at: null, dropped_events: 0, adapter_health: {} },
    ...fields,
  };
  frame.hmac = computeFrameHmac(SECRET, frame, BINDING);
  return frame;
}

function verificationFailure(fn: () => unknown): FrameVerificationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FrameVerificationError) return err;
    throw err;
  }
  throw new Error('expected a FrameVerificationError');
}

function expectReason(fn: () => unknown, reason: FrameVerificationReason): void {
  const err = verificationFailure(fn);
  expect(err.reason).toBe(reason);
  expect(err.closeCode).toBe(4403);
  expect(err).toBeInstanceOf(FrameError);
}

describe('FrameSigner', () => {
  it('reproduces the reference heartbeat signature', () => {
    const signer = new FrameSigner({
      secret: SECRET,
      binding: BINDING,
      now: () => new Date(T0),
      nonce: () => 'AAAAAAAAAAAAAAAAAAAAAA',
    });
    const frame = signer.sign({
      type: 'heartbeat',
      id: 'hb_000000000001',
      payload: { buffer_size: 0, last_flush_at: null, dropped_events: 0, adapter_health: {} },
    });
    expect(frame.hmac).toBe('02ece59b38b6977b203a5f33714ce8a58b0e09da1f8d76b48768cd20ba316036');
    expect(frame).toMatchObject({ v: 2, ts: '2026-01-01T00:00:00Z', seq: 1, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' });
  });

  it('stamps v, ts, a fresh 22-char nonce and seq 1, 2, 3', () => {
    const c = clock(T0 + 368);
    const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: c.now });
    const payload = { events: [] };
    const frames = [1, 2, 3].map((i) => signer.sign({ type: 'event_batch', id: `ev_${i}`, payload }));
    expect(frames.map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(signer.nextSeq).toBe(4);
    for (const f of frames) {
      expect(f.v).toBe(2);
      expect(f.ts).toBe('2026-01-01T00:00:00.368000Z');
      expect(f.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(f.hmac).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(new Set(frames.map((f) => f.nonce)).size).toBe(3);
    expect(payload).toEqual({ events: [] }); // input untouched
  });

  it('encodes frames as canonical JSON bytes', () => {
    const signer = new FrameSigner({ secret: SECRET, binding: BINDING });
    const frame = signer.sign({ type: 'command_ack', id: 'c1', payload: {} });
    const bytes = signer.encode(frame);
    expect(bytes.equals(canonicalBytes(frame))).toBe(true);
    expect(bytes.toString()).toMatch(/^\{"hmac":"[0-9a-f]{64}","id":"c1","nonce":"[^"]{22}","payload":\{\},"seq":1,/);
    expect(bytes.toString()).not.toContain('agent_id'); // binding keys never go on the wire
  });

  it('refuses unsigned types, bad ids, bad payloads and short secrets', () => {
    const signer = new FrameSigner({ secret: SECRET, binding: BINDING });
    expect(() => signer.sign({ type: 'hello' as 'heartbeat', id: 'x', payload: {} })).toThrow(TypeError);
    expect(() => signer.sign({ type: 'heartbeat', id: '', payload: {} })).toThrow(/1 to 64/);
    expect(() => signer.sign({ type: 'heartbeat', id: 'x'.repeat(65), payload: {} })).toThrow(/1 to 64/);
    expect(() => signer.sign({ type: 'heartbeat', id: 'x', payload: [] as unknown as JsonObject })).toThrow(/payload/);
    expect(signer.nextSeq).toBe(1); // nothing consumed
    expect(() => new FrameSigner({ secret: Buffer.alloc(31), binding: BINDING })).toThrow(/32 bytes/);
    expect(() => new FrameVerifier({ secret: Buffer.alloc(16), binding: BINDING })).toThrow(/32 bytes/);
  });
});

describe('FrameVerifier: envelope and HMAC', () => {
  const verifier = () => new FrameVerifier({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });

  it('accepts a good frame and returns it', () => {
    const frame = signedFrame();
    expect(verifier().verify(frame)).toBe(frame);
  });

  it('accepts a frame without payload', () => {
    const frame: JsonObject = { v: 2, type: 'command_ack', id: 'c', ts: '2026-01-01T00:00:00Z', nonce: 'n', seq: 1 };
    frame.hmac = computeFrameHmac(SECRET, frame, BINDING);
    expect(() => verifier().verify(frame)).not.toThrow();
  });

  it('checks v, type and payload before the HMAC', () => {
    expectReason(() => verifier().verify(signedFrame({ v: '2' } as never)), 'version');
    expectReason(() => verifier().verify({ ...signedFrame(), v: new JsonFloat(2) }), 'version');
    expectReason(() => verifier().verify({ ...signedFrame(), v: 3 }), 'version');
    expectReason(() => verifier().verify(signedFrame({ type: 'hello' })), 'type');
    expectReason(() => verifier().verify(signedFrame({ type: 'hello_ack' })), 'type');
    expectReason(() => verifier().verify(signedFrame({ type: 'bogus' })), 'type');
    expectReason(() => verifier().verify(signedFrame({ payload: [] as unknown as JsonObject })), 'payload');
    expectReason(() => verifier().verify({ ...signedFrame(), payload: null }), 'payload');
  });

  it('accepts every signed type', () => {
    for (const type of SIGNED_FRAME_TYPES) {
      expect(() => verifier().verify(signedFrame({ type, payload: {} }))).not.toThrow();
    }
  });

  it('rejects a missing, short, long, upper-case or tampered hmac', () => {
    const good = signedFrame();
    const hmac = good.hmac as string;
    expectReason(() => verifier().verify({ ...good, hmac: undefined } as unknown as JsonObject), 'hmac');
    expectReason(() => verifier().verify({ ...good, hmac: hmac.slice(0, 63) }), 'hmac');
    expectReason(() => verifier().verify({ ...good, hmac: hmac + '0' }), 'hmac');
    expectReason(() => verifier().verify({ ...good, hmac: hmac.toUpperCase() }), 'hmac');
    expectReason(() => verifier().verify({ ...good, hmac: 1 }), 'hmac');
    const flipped = (hmac[0] === '0' ? '1' : '0') + hmac.slice(1);
    expectReason(() => verifier().verify({ ...good, hmac: flipped }), 'hmac');
    // U+0161 folds to 'a' in latin1: must not pass as the hex digit.
    if (hmac.includes('a')) {
      expectReason(() => verifier().verify({ ...good, hmac: hmac.replace('a', '\u0161') }), 'hmac');
    }
  });

  it('binds the session: another session, agent or project fails', () => {
    const frame = signedFrame();
    for (const other of [
      { ...BINDING, sessionId: '00000000-0000-4000-8000-000000000002' },
      { ...BINDING, agentId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeef' },
      { ...BINDING, projectId: '11111111-2222-4333-8444-555555555556' },
    ]) {
      const v = new FrameVerifier({ secret: SECRET, binding: other, now: () => new Date(T0) });
      expectReason(() => v.verify(frame), 'hmac');
    }
  });

  it('overwrites binding keys found on the wire with its own', () => {
    const frame = signedFrame();
    const withWireBinding = { ...frame, agent_id: 'someone-else', session_id: 'x', project_id: 'y' };
    expect(() => verifier().verify(withWireBinding)).not.toThrow();
  });

  it('signs every other top-level key: adding one after signing fails', () => {
    const frame = signedFrame();
    expectReason(() => verifier().verify({ ...frame, extra: 1 }), 'hmac');
    const withExtra: JsonObject = { ...frame, extra: 1 };
    delete withExtra.hmac;
    withExtra.hmac = computeFrameHmac(SECRET, withExtra, BINDING);
    expect(() => verifier().verify(withExtra)).not.toThrow();
  });

  it('a bad-HMAC frame consumes neither seq nor nonce', () => {
    const v = verifier();
    const good = signedFrame({ seq: 1, nonce: 'N1' });
    expectReason(() => v.verify({ ...good, hmac: '0'.repeat(64) }), 'hmac');
    expect(v.replayGuard.lastSeq).toBe(0);
    expect(v.replayGuard.nonceCount).toBe(0);
    expect(() => v.verify(good)).not.toThrow();
    expect(v.replayGuard.lastSeq).toBe(1);
  });
});

describe('FrameVerifier: replay guard', () => {
  function setup(options: { maxNonces?: number } = {}) {
    const c = clock();
    const v = new FrameVerifier({ secret: SECRET, binding: BINDING, now: c.now, ...options });
    return { c, v };
  }

  it('rejects a replayed frame and lower seqs; allows gaps', () => {
    const { v } = setup();
    const f1 = signedFrame({ seq: 1, nonce: 'n1' });
    v.verify(f1);
    expectReason(() => v.verify(f1), 'seq');
    v.verify(signedFrame({ seq: 5, nonce: 'n5' })); // gap allowed
    expectReason(() => v.verify(signedFrame({ seq: 4, nonce: 'n4' })), 'seq');
    expectReason(() => v.verify(signedFrame({ seq: 5, nonce: 'n5b' })), 'seq');
    v.verify(signedFrame({ seq: 6, nonce: 'n6' }));
    expect(v.replayGuard.lastSeq).toBe(6);
  });

  it('requires seq to be an integer >= 1', () => {
    for (const seq of [0, -1, 1.5, '2', null, new JsonFloat(2), 2n ** 60n] as JsonValue[]) {
      expectReason(() => setup().v.verify(signedFrame({ seq })), 'seq');
    }
  });

  it('accepts ts within ±60 s and rejects ±61 s', () => {
    const at = (offsetS: number) => isoTimestamp(new Date(T0 + offsetS * 1000));
    for (const offset of [-60, -59, 0, 59, 60]) {
      expect(() => setup().v.verify(signedFrame({ ts: at(offset) }))).not.toThrow();
    }
    for (const offset of [-61, 61, -3600, 86400]) {
      expectReason(() => setup().v.verify(signedFrame({ ts: at(offset) })), 'ts');
    }
  });

  it('accepts both the pydantic Z form and the isoformat +00:00 form, and other offsets', () => {
    for (const ts of [
      '2026-01-01T00:00:00.368491Z',
      '2026-01-01T00:00:00.368491+00:00',
      '2026-01-01T02:00:10+02:00',
      '2025-12-31T19:00:00-05:00',
      '2026-01-01 00:00:00Z',
    ]) {
      expect(() => setup().v.verify(signedFrame({ ts })), ts).not.toThrow();
    }
  });

  it('rejects naive, missing and malformed ts', () => {
    for (const ts of ['2026-01-01T00:00:00', '2026-01-01T00:00:00.368491', '2026-01-01', 'yesterday', '', null, 1767225600]) {
      expectReason(() => setup().v.verify(signedFrame({ ts: ts as JsonValue })), 'ts');
    }
    const noTs = signedFrame();
    delete noTs.ts;
    noTs.hmac = computeFrameHmac(SECRET, noTs, BINDING);
    expectReason(() => setup().v.verify(noTs), 'ts');
  });

  it('rejects a nonce reused within the TTL and accepts it after', () => {
    const { c, v } = setup();
    v.verify(signedFrame({ seq: 1, nonce: 'same', ts: isoTimestamp(c.now()) }));
    c.advance(179_000);
    expectReason(() => v.verify(signedFrame({ seq: 2, nonce: 'same', ts: isoTimestamp(c.now()) })), 'nonce');
    c.advance(2_000); // 181 s after first use
    expect(() => v.verify(signedFrame({ seq: 3, nonce: 'same', ts: isoTimestamp(c.now()) }))).not.toThrow();
  });

  it('forgets the oldest nonce beyond the cap', () => {
    const { v } = setup({ maxNonces: 3 });
    ['a', 'b', 'c', 'd'].forEach((nonce, i) => v.verify(signedFrame({ seq: i + 1, nonce })));
    expect(v.replayGuard.nonceCount).toBe(3);
    expectReason(() => v.verify(signedFrame({ seq: 10, nonce: 'b' })), 'nonce');
    expect(() => v.verify(signedFrame({ seq: 11, nonce: 'a' }))).not.toThrow(); // 'a' was evicted
  });

  it('requires a nonce of 1 to 32 characters', () => {
    for (const nonce of ['', 'x'.repeat(33), 5, null] as JsonValue[]) {
      expectReason(() => setup().v.verify(signedFrame({ nonce })), 'nonce');
    }
    expect(() => setup().v.verify(signedFrame({ nonce: 'x'.repeat(32) }))).not.toThrow();
  });

  it('changes no state when a replay check fails', () => {
    const { v } = setup();
    expectReason(() => v.verify(signedFrame({ seq: 7, nonce: 'k', ts: '2020-01-01T00:00:00Z' })), 'ts');
    expect(v.replayGuard.lastSeq).toBe(0);
    v.verify(signedFrame({ seq: 2, nonce: 'k' })); // neither seq 7 nor nonce 'k' was recorded
    expectReason(() => v.verify(signedFrame({ seq: 3, nonce: 'k' })), 'nonce');
    expect(v.replayGuard.lastSeq).toBe(2); // failed nonce check left seq alone
    v.verify(signedFrame({ seq: 3, nonce: 'k2' }));
  });

  it('works as a standalone ReplayGuard', () => {
    const guard = new ReplayGuard({ now: () => new Date(T0), maxSkewMs: 1000 });
    guard.check({ seq: 1, ts: '2026-01-01T00:00:01Z', nonce: 'a' });
    expect(() => guard.check({ seq: 2, ts: '2026-01-01T00:00:01.001Z', nonce: 'b' })).toThrow(FrameVerificationError);
    expect(guard.lastSeq).toBe(1);
  });
});

describe('iso timestamps', () => {
  it('formats like pydantic and parses only aware values', () => {
    expect(isoTimestamp(new Date('2026-11-22T22:57:47.368Z'))).toBe('2026-11-22T22:57:47.368000Z');
    expect(isoTimestamp(new Date(T0))).toBe('2026-01-01T00:00:00Z');
    expect(parseIsoWithTimezone('2026-11-22T22:57:47.368491Z')?.toISOString()).toBe('2026-11-22T22:57:47.368Z');
    expect(parseIsoWithTimezone('2026-11-22T22:57:51.313403+00:00')?.toISOString()).toBe('2026-11-22T22:57:51.313Z');
    expect(parseIsoWithTimezone('2026-01-01T00:00:00+0530')?.toISOString()).toBe('2025-12-31T18:30:00.000Z');
    expect(parseIsoWithTimezone('2026-11-22T22:57:47')).toBeNull();
    expect(parseIsoWithTimezone('2026-02-30T00:00:00Z')).toBeNull();
    expect(parseIsoWithTimezone('2026-01-01T24:00:00Z')).toBeNull();
    expect(parseIsoWithTimezone('2024-02-29T00:00:00Z')).not.toBeNull();
    expect(() => isoTimestamp(new Date(NaN))).toThrow(RangeError);
  });
});

describe('properties', () => {
  const idArb = fc.string({ minLength: 1, maxLength: 64 });
  const typeArb = fc.constantFrom(...SIGNED_FRAME_TYPES);

  it('sign -> encode -> parseFrame -> verify round-trips', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(typeArb, idArb, jsonObject), { minLength: 1, maxLength: 4 }), (frames) => {
        const c = clock();
        const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: c.now });
        const verifier = new FrameVerifier({ secret: SECRET, binding: BINDING, now: c.now });
        for (const [type, id, payload] of frames) {
          const bytes = signer.encode(signer.sign({ type, id, payload }));
          const received = verifier.verify(parseFrame(bytes));
          expect(received.payload).toEqual(payload);
          expect(received.id).toBe(id);
          c.advance(10);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('signEncoded() gives exactly the bytes of encode(sign()) and the same seq', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(typeArb, idArb, jsonObject), { minLength: 1, maxLength: 4 }), (frames) => {
        // Same nonce sequence for both signers, with characters that need escaping.
        const nonces = () => {
          let n = 0;
          return () => `n${n++}\u00e9"\\`;
        };
        const a = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0), nonce: nonces() });
        const b = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0), nonce: nonces() });
        for (const [type, id, payload] of frames) {
          const expected = a.encode(a.sign({ type, id, payload }));
          const actual = b.signEncoded({ type, id, payload });
          expect(actual.toString('utf8')).toBe(expected.toString('utf8'));
          expect(b.nextSeq).toBe(a.nextSeq);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('flipping any byte of the payload breaks the frame (or leaves its meaning unchanged)', () => {
    fc.assert(
      fc.property(jsonObject, fc.nat(), fc.integer({ min: 1, max: 255 }), (payload, where, mask) => {
        const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
        const frame = signer.sign({ type: 'event_batch', id: 'ev_1', payload });
        const bytes = signer.encode(frame);
        const payloadBytes = canonicalBytes(payload);
        const start = bytes.indexOf(Buffer.concat([Buffer.from('"payload":'), payloadBytes])) + 10;
        expect(start).toBeGreaterThanOrEqual(10);
        const tampered = Buffer.from(bytes);
        const i = start + (where % payloadBytes.length);
        tampered[i] = tampered[i]! ^ mask;
        const verifier = new FrameVerifier({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
        let parsed: JsonObject;
        try {
          parsed = parseFrame(tampered);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
          expect((err as FrameError).cause).toBeInstanceOf(JsonParseError);
          return;
        }
        try {
          verifier.verify(parsed);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameVerificationError);
          return;
        }
        // Verified despite the flip: only possible when the edit did not change
        // the value (e.g. "1e+16" -> "1E+16"), so the canonical form is the same.
        expect(canonicalJson(parsed)).toBe(canonicalJson(frame));
      }),
      { numRuns: 1000 },
    );
  });

  it('key order on the wire does not change the HMAC', () => {
    fc.assert(
      fc.property(jsonObject, fc.integer(), (payload, seed) => {
        const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
        const frame = signer.sign({ type: 'heartbeat', id: 'hb_1', payload });
        let s = seed;
        const random = () => {
          s = (Math.imul(s, 1103515245) + 12345) | 0;
          return ((s >>> 8) & 0xffff) / 0x10000;
        };
        const wire = serializeInOrder(shuffleKeys(frame, random), canonicalJson);
        const received = parseJson(wire) as JsonObject;
        expect(computeFrameHmac(SECRET, received, BINDING)).toBe(frame.hmac);
        const verifier = new FrameVerifier({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
        expect(() => verifier.verify(received)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('FrameVerifier: the wire-bytes path', () => {
  const idArb = fc.string({ minLength: 1, maxLength: 64 });
  const typeArb = fc.constantFrom(...SIGNED_FRAME_TYPES);
  const verifier = (c = clock()) => new FrameVerifier({ secret: SECRET, binding: BINDING, now: c.now });

  it('signEncoded -> parseFrame -> verify(frame, wire) round-trips', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(typeArb, idArb, jsonObject), { minLength: 1, maxLength: 4 }), (frames) => {
        const c = clock();
        const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: c.now });
        const v = verifier(c);
        for (const [type, id, payload] of frames) {
          const bytes = signer.signEncoded({ type, id, payload });
          const received = v.verify(parseFrame(bytes), bytes);
          expect(received.payload).toEqual(payload);
          c.advance(10);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('hashes the wire bytes instead of re-serialising: it is the bytes that are trusted', () => {
    const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
    const bytes = signer.signEncoded({ type: 'event_batch', id: 'ev_1', payload: { events: [{ n: 1 }] } });
    const frame = parseFrame(bytes);
    // Edited after parsing: only a check of the bytes (not of the object) can still pass. This is why the
    // wire must be the very bytes the frame was parsed from.
    (frame.payload as JsonObject).events = [];
    expect(() => verifier().verify(frame, bytes)).not.toThrow();
    expect(() => verifier().verify(parseFrame(bytes))).not.toThrow();
  });

  it('flipping any byte of the payload on the wire breaks the frame (or leaves its meaning unchanged)', () => {
    fc.assert(
      fc.property(jsonObject, fc.nat(), fc.integer({ min: 1, max: 255 }), (payload, where, mask) => {
        const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
        const bytes = signer.signEncoded({ type: 'event_batch', id: 'ev_1', payload });
        const payloadBytes = canonicalBytes(payload);
        const start = bytes.indexOf(Buffer.concat([Buffer.from('"payload":'), payloadBytes])) + 10;
        const tampered = Buffer.from(bytes);
        const i = start + (where % payloadBytes.length);
        tampered[i] = tampered[i]! ^ mask;
        let parsed: JsonObject;
        try {
          parsed = parseFrame(tampered);
        } catch {
          return;
        }
        try {
          verifier().verify(parsed, tampered);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameVerificationError);
          return;
        }
        expect(canonicalJson(parsed)).toBe(canonicalJson(parseFrame(bytes)));
      }),
      { numRuns: 1000 },
    );
  });

  it('a frame that is not canonical on the wire (key order, spaces) still verifies', () => {
    fc.assert(
      fc.property(jsonObject, fc.integer(), (payload, seed) => {
        const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
        const frame = signer.sign({ type: 'heartbeat', id: 'hb_1', payload });
        let s = seed;
        const random = () => {
          s = (Math.imul(s, 1103515245) + 12345) | 0;
          return ((s >>> 8) & 0xffff) / 0x10000;
        };
        const wire = Buffer.from(serializeInOrder(shuffleKeys(frame, random), canonicalJson).replace(/^\{/, '{ '), 'utf8');
        expect(() => verifier().verify(parseFrame(wire), wire)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('a payload that spells out the envelope inside it verifies, and a forged envelope does not', () => {
    const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
    const payload = { a: { project_id: PROJECT_ID, seq: 7, session_id: BINDING.sessionId, ts: 'x', type: 'y', v: 2 }, seq: 9 };
    const bytes = signer.signEncoded({ type: 'heartbeat', id: 'hb_1', payload });
    expect(verifier().verify(parseFrame(bytes), bytes).seq).toBe(1);
    const forged = Buffer.from(bytes.toString('utf8').replace('"seq":1,', '"seq":2,'), 'utf8');
    expect(() => verifier().verify(parseFrame(forged), forged)).toThrow(FrameVerificationError);
  });

  it('rejects an upper-case hmac on a canonical wire, like the other path', () => {
    const signer = new FrameSigner({ secret: SECRET, binding: BINDING, now: () => new Date(T0) });
    const text = signer.signEncoded({ type: 'heartbeat', id: 'hb_1', payload: {} }).toString('utf8');
    const upper = Buffer.from(
      text.replace(/"hmac":"([0-9a-f]{64})"/, (_m, hex: string) => `"hmac":"${hex.toUpperCase()}"`),
      'utf8',
    );
    expect(() => verifier().verify(parseFrame(upper), upper)).toThrow(FrameVerificationError);
  });
});

// Where a Python is installed, check TS-signed wire frames the way the Python
// receiver does: json.loads, drop hmac, add the binding, json.dumps canonical, HMAC.
const hasPython = spawnSync('python3', ['-c', 'print(1)'], { encoding: 'utf8' }).stdout?.trim() === '1';

describe.skipIf(!hasPython)('TS-signed frames verify in CPython', () => {
  it('CPython computes the same HMAC for random signed frames', () => {
    const script = [
      'import sys, json, hmac, hashlib, base64',
      'secret = bytes.fromhex(sys.argv[1]); agent, project, session = sys.argv[2:5]',
      'for line in sys.stdin.read().split():',
      '    env = json.loads(base64.b64decode(line))',
      '    sent = env.pop("hmac")',
      '    env.update(agent_id=agent, project_id=project, session_id=session)',
      '    body = json.dumps(env, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)',
      '    ok = hmac.compare_digest(hmac.new(secret, body.encode("utf-8"), hashlib.sha256).hexdigest(), sent)',
      '    print("ok" if ok else "BAD")',
    ].join('\n');
    const signer = new FrameSigner({ secret: SECRET, binding: BINDING });
    const frames = fc
      .sample(fc.tuple(fc.constantFrom(...SIGNED_FRAME_TYPES), jsonObject), { numRuns: 300, seed: 11 })
      .map(([type, payload], i) => signer.encode(signer.sign({ type, id: `f_${i}`, payload })).toString('base64'));
    const res = spawnSync('python3', ['-c', script, SECRET.toString('hex'), BINDING.agentId, BINDING.projectId, BINDING.sessionId], {
      input: frames.join('\n'),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(res.stderr).toBe('');
    expect(res.stdout.trim().split('\n')).toEqual(frames.map(() => 'ok'));
  });
});
