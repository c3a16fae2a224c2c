import { describe, expect, it } from 'vitest';
import type { JsonObject } from '@z4j/protocol';
import { createEventSink } from './event-sink.js';
import { toJsonValue } from './to-json-value.js';

function sink() {
  const accepted: JsonObject[] = [];
  const refused: string[] = [];
  const s = createEventSink('fake', {
    now: () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
    accept: (event) => (accepted.push(event), true),
    onRefused: (reason) => refused.push(reason),
  });
  return { s, accepted, refused };
}

describe('createEventSink', () => {
  it('fills id, kind, engine, task_id and occurred_at as the brain expects', () => {
    const { s, accepted } = sink();
    expect(s.emit('task.succeeded', { taskId: '42', data: { task_name: 'mail', result: { ok: true }, runtime_ms: 12 } })).toBe(true);
    expect(accepted[0]).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      kind: 'task.succeeded',
      engine: 'fake',
      task_id: '42',
      occurred_at: '2026-01-02T03:04:05.006000Z',
      data: { task_name: 'mail', result: { ok: true }, runtime_ms: 12 },
    });
    s.emit('worker.online', { occurredAt: new Date(Date.UTC(2026, 0, 1)), data: { worker: 'w1' } });
    expect(accepted[1]).toMatchObject({ kind: 'worker.online', task_id: '', occurred_at: '2026-01-01T00:00:00Z' });
  });

  it('refuses a task event without a task id instead of throwing', () => {
    const { s, accepted, refused } = sink();
    expect(s.emit('task.started', { taskId: '', data: {} })).toBe(false);
    expect(s.emit('task.started', { taskId: 'x'.repeat(201), data: {} })).toBe(false);
    expect(accepted).toHaveLength(0);
    expect(refused).toHaveLength(2);
  });

  it('cuts tracebacks to 4096 characters', () => {
    const { s, accepted } = sink();
    s.emit('task.failed', { taskId: '1', data: { exception: 'E', traceback: 'x'.repeat(5000) } });
    expect((accepted[0]!.data as JsonObject).traceback).toHaveLength(4096);
  });
});

describe('toJsonValue', () => {
  it('makes engine data signable', () => {
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    class Job {
      id = 7;
      secretMethod(): void {}
    }
    expect(
      toJsonValue({
        skip: undefined,
        holes: [1, undefined],
        at: new Date(Date.UTC(2026, 0, 1)),
        bad: NaN,
        map: new Map([['k', 1]]),
        set: new Set(['a']),
        big: 2n ** 70n,
        fn: () => 1,
        job: new Job(),
        err: new RangeError('out'),
        lone: 'a\uD800b',
        cyclic,
      }),
    ).toEqual({
      holes: [1, null],
      at: '2026-01-01T00:00:00Z',
      bad: null,
      map: { k: 1 },
      set: ['a'],
      big: 2n ** 70n,
      job: { id: 7 },
      err: 'RangeError: out',
      lone: 'a\uFFFDb',
      cyclic: { name: 'c', self: '[REDACTED]' },
    });
  });
});
