import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it, vi } from 'vitest';
import type { JsonObject, JsonValue } from '@z4j/protocol';
import { MAX_EVENTS_PER_BATCH } from '@z4j/ingest-contract';
import { EventSchema, normaliseBatch, normaliseEvent, plainEventFields, type NormaliseContext } from './normalise-event.js';
import { formatMicros } from './occurred-at.js';

const projectId = '11111111-2222-4333-8444-555555555555';
const agentId = '21111111-2222-4333-8444-555555555555';
const receivedAt = new Date('2026-11-22T23:00:00Z');
const context: NormaliseContext = { projectId, agentId, receivedMicros: receivedAt.getTime() * 1000, redact: (event) => event };

function event(overrides: JsonObject = {}): JsonObject {
  return {
    id: '9b2f3c1e-7d4a-4f6b-8c2d-1a2b3c4d5e6f',
    kind: 'task.started',
    engine: 'celery',
    task_id: 'task-1',
    occurred_at: '2026-11-22T22:57:51.313403+00:00',
    data: { task_name: 'app.add', worker: 'celery@host' },
    ...overrides,
  };
}

function ok(raw: JsonValue) {
  const result = normaliseEvent(raw, context);
  if (!result.ok) throw new Error(`rejected: ${result.reason}`);
  return result.event;
}

describe('normaliseEvent', () => {
  it('derives what is stored', () => {
    const stored = ok(event());
    expect(stored).toMatchObject({
      projectId,
      agentId,
      engine: 'celery',
      kind: 'task.started',
      taskId: 'task-1',
      occurredMicros: 1795388271313403,
      storedMicros: 1795388271313403,
      clamped: false,
      data: { task_name: 'app.add', worker: 'celery@host' },
    });
    expect(JSON.parse(stored.payload)).toEqual(event());
  });

  it('rejects a missing/oversize engine, a missing kind and an unparseable occurred_at', () => {
    const reason = (raw: JsonValue) => {
      const result = normaliseEvent(raw, context);
      return result.ok ? 'ok' : result.reason;
    };
    const withoutEngine = event();
    delete withoutEngine.engine;
    expect(reason(withoutEngine)).toBe('engine');
    expect(reason(event({ engine: '  ' }))).toBe('engine');
    expect(reason(event({ engine: 'x'.repeat(41) }))).toBe('engine');
    expect(reason(event({ engine: 7 }))).toBe('engine');
    expect(reason(event({ kind: '' }))).toBe('kind');
    expect(reason(event({ kind: null }))).toBe('kind');
    expect(reason(event({ occurred_at: 'yesterday' }))).toBe('occurred_at');
    expect(reason(event({ occurred_at: null }))).toBe('occurred_at');
    expect(reason(event({ task_id: 'x'.repeat(201) }))).toBe('task_id');
    expect(reason(event({ task_id: { a: 1 } }))).toBe('task_id');
    expect(reason([1, 2])).toBe('not_an_object');
    expect(reason('event')).toBe('not_an_object');
  });

  it('is lenient about the rest: unknown kinds, numeric task ids, missing task_id, non-object data', () => {
    expect(ok(event({ kind: 'task.teleported' })).kind).toBe('unknown');
    expect(ok(event({ task_id: 42 })).taskId).toBe('42');
    expect(ok(event({ task_id: null, kind: 'worker.online' })).taskId).toBe('');
    const noTask = event({ kind: 'worker.online' });
    delete noTask.task_id;
    expect(ok(noTask).taskId).toBe('');
    expect(ok(event({ data: [1, 2] })).data).toEqual({});
    expect(ok(event({ data: null })).data).toEqual({});
    expect(ok(event({ engine: '  rq ' })).engine).toBe('rq');
  });

  it('clamps the projection time outside [received - 400 d, received + 60 s] to received, but stores and ids the sent time', () => {
    const future = ok(event({ occurred_at: '2040-01-01T00:00:00Z' }));
    expect(future).toMatchObject({ clamped: true, occurredMicros: receivedAt.getTime() * 1000 });
    expect(formatMicros(future.storedMicros)).toBe('2040-01-01T00:00:00.000000Z');
    const past = ok(event({ occurred_at: '2020-01-01T00:00:00+00:00' }));
    expect(past).toMatchObject({ clamped: true, occurredMicros: receivedAt.getTime() * 1000 });
    expect(future.id).not.toBe(past.id);
    expect(ok(event({ occurred_at: '2026-11-22T23:00:59Z' })).clamped).toBe(false);
  });

  it('runs the redactor on the whole raw event before reading anything from it', () => {
    const redact = vi.fn((raw: JsonValue): JsonValue => {
      const copy = { ...(raw as JsonObject) };
      copy.engine = 'redacted-engine';
      copy.data = { task_name: 'app.add', kwargs: { password: '[REDACTED]' } };
      copy.secret_top_level = '[REDACTED]';
      return copy;
    });
    const raw = event({ data: { task_name: 'app.add', kwargs: { password: 'hunter2' } }, secret_top_level: 'sk_live_x' });
    const result = normaliseEvent(raw, { ...context, redact });
    expect(redact).toHaveBeenCalledWith(raw);
    if (!result.ok) throw new Error('rejected');
    expect(result.event.engine).toBe('redacted-engine');
    expect(result.event.payload).not.toContain('hunter2');
    expect(result.event.payload).not.toContain('sk_live_x');
  });

  it('stores the text an event arrived as when redaction changed nothing, and serialises it otherwise', () => {
    const raw = event({ data: { n: 12345678901234567890n, task_name: 'app.add' } });
    const text =
      '{"id": "9b2f3c1e-7d4a-4f6b-8c2d-1a2b3c4d5e6f", "kind":"task.started","engine":"celery","task_id":"task-1",' +
      '"occurred_at":"2026-11-22T22:57:51.313403+00:00","data":{"n":12345678901234567890,"task_name":"app.add"}}';
    const asSent = normaliseEvent(raw, context, text);
    expect(asSent.ok && asSent.event.payload).toBe(text);
    const redacting: NormaliseContext = { ...context, redact: (value) => ({ ...(value as JsonObject), data: { secret: '[REDACTED]' } }) };
    const redacted = normaliseEvent(raw, redacting, text);
    expect(redacted.ok && JSON.parse(redacted.event.payload)).toMatchObject({ data: { secret: '[REDACTED]' } });
    // jsonb refuses \u0000: such text goes the serialising way (which replaces the NUL).
    const nul = normaliseEvent(event({ data: { s: 'a\u0000b' } }), context, text.replace('app.add', 'a\\u0000b'));
    expect(nul.ok && nul.event.payload).not.toContain('\\u0000');
  });

  it('rejects an event the redactor throws on', () => {
    const result = normaliseEvent(event(), {
      ...context,
      redact: () => {
        throw new Error('boom');
      },
    });
    expect(result).toEqual({ ok: false, reason: 'redaction_failed' });
  });
});

describe('normaliseBatch', () => {
  it(`trims to ${MAX_EVENTS_PER_BATCH} events and counts received / rejected`, () => {
    const events: JsonValue[] = Array.from({ length: MAX_EVENTS_PER_BATCH + 5 }, (_, i) =>
      event({ task_id: `t${i}`, ...(i % 10 === 0 ? { kind: '' } : {}) }),
    );
    const batch = normaliseBatch({ projectId: projectId.toUpperCase(), agentId, frameId: 'ev_1', events, receivedAt }, (raw) => raw);
    expect(batch.received).toBe(MAX_EVENTS_PER_BATCH);
    expect(batch.rejected).toBe(MAX_EVENTS_PER_BATCH / 10);
    expect(batch.events).toHaveLength(MAX_EVENTS_PER_BATCH - MAX_EVENTS_PER_BATCH / 10);
    expect(batch.rejectReasons).toEqual({ kind: MAX_EVENTS_PER_BATCH / 10 });
    expect(batch.events[0]!.projectId).toBe(projectId);
  });

  it('stores a non-uuid agent id as null instead of failing the insert', () => {
    const batch = normaliseBatch({ projectId, agentId: 'agent-7', frameId: 'ev_1', events: [event()], receivedAt }, (raw) => raw);
    expect(batch.events[0]!.agentId).toBeNull();
  });
});

describe('plainEventFields', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('', ' ', ' celery', 'celery ', '\ttask.started', 'x'.repeat(40), 'x'.repeat(41), 'y'.repeat(200), 'y'.repeat(201)),
    fc.string({ minLength: 60, maxLength: 70 }),
  );
  // Mostly strings, so that a good share of the events take the fast path and get compared.
  const value = fc.oneof(
    { arbitrary: text, weight: 8 },
    { arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.constant({})), weight: 2 },
  );
  const rawEvent = fc.record(
    { engine: value, kind: value, occurred_at: value, task_id: value, data: fc.oneof(fc.constant({ a: 1 }), value), id: value },
    { requiredKeys: ['engine', 'kind', 'occurred_at'] },
  );

  it('outputs what the schema outputs, for every event it takes', () => {
    let taken = 0;
    fc.assert(
      fc.property(rawEvent, (raw) => {
        const event = raw as JsonObject;
        const fast = plainEventFields(event);
        if (fast === undefined) return;
        taken += 1;
        const parsed = v.safeParse(EventSchema, event);
        expect(parsed.success).toBe(true);
        const output = parsed.output as Record<string, unknown>;
        expect(fast).toEqual({
          engine: output.engine,
          kind: output.kind,
          occurred_at: output.occurred_at,
          task_id: output.task_id,
          data: output.data,
          id: output.id,
        });
      }),
      { numRuns: 3000 },
    );
    // The generator reaches the fast path often enough for the comparison to mean something.
    expect(taken).toBeGreaterThan(100);
  });

  it('takes the event agents send', () => {
    expect(plainEventFields(event())).toBeDefined();
    expect(plainEventFields(event({ task_id: ' padded ' }))).toBeUndefined();
  });
});
