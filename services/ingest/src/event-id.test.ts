import { describe, expect, it } from 'vitest';
import { v5 } from 'uuid';
import { deriveEventId, EVENT_ID_NAMESPACE, trustedAgentEventId, uuidv5 } from './event-id.js';

const project = '11111111-2222-4333-8444-555555555555';
const base = { projectId: project, engine: 'celery', agentEventId: undefined, data: {} };

describe('deriveEventId', () => {
  it('task events: uuid5(NS, project:task_id:kind:epoch µs) — the same value Python computes', () => {
    // python: uuid.uuid5(NS, '11111111-…:task-1:task.started:1795388271313403')
    expect(deriveEventId({ ...base, taskId: 'task-1', kind: 'task.started', occurredMicros: 1795388271313403 })).toBe(
      '7743da73-8acc-5253-85e0-20f0a257e5a5',
    );
  });

  it('task events: the agent id and data do not matter (fan-out and re-sends collapse), microseconds do', () => {
    const a = deriveEventId({
      ...base,
      taskId: 't',
      kind: 'task.retried',
      occurredMicros: 1_000_000_001,
      agentEventId: crypto.randomUUID(),
      data: { x: 1 },
    });
    const b = deriveEventId({
      ...base,
      taskId: 't',
      kind: 'task.retried',
      occurredMicros: 1_000_000_001,
      agentEventId: crypto.randomUUID(),
      data: { x: 2 },
    });
    const sameSecond = deriveEventId({ ...base, taskId: 't', kind: 'task.retried', occurredMicros: 1_000_000_002 });
    expect(a).toBe(b);
    expect(sameSecond).not.toBe(a);
  });

  it('non-task events with a v4/v7 agent id: uuid5(NS, project:agent_id), as the original', () => {
    const id = deriveEventId({
      ...base,
      taskId: '',
      kind: 'worker.online',
      occurredMicros: 1,
      agentEventId: '9B2F3C1E-7D4A-4F6B-8C2D-1A2B3C4D5E6F',
    });
    expect(id).toBe('cb8728ac-afe8-5b49-9a61-6713c6f28772');
  });

  it('non-task events without a usable id: a content hash, stable under key order, different per project', () => {
    const event = {
      ...base,
      taskId: '',
      kind: 'worker.heartbeat',
      occurredMicros: 5,
      agentEventId: '00000000-0000-0000-0000-000000000000',
    };
    const a = deriveEventId({ ...event, data: { a: 1, b: [1, 2] } });
    expect(deriveEventId({ ...event, agentEventId: 'not-a-uuid', data: { b: [1, 2], a: 1 } })).toBe(a);
    expect(deriveEventId({ ...event, data: { a: 1, b: [2, 1] } })).not.toBe(a);
    expect(deriveEventId({ ...event, occurredMicros: 6, data: { a: 1, b: [1, 2] } })).not.toBe(a);
    expect(deriveEventId({ ...event, projectId: '21111111-2222-4333-8444-555555555555', data: { a: 1, b: [1, 2] } })).not.toBe(a);
  });
});

describe('uuidv5', () => {
  it('matches the uuid package for ASCII and non-ASCII names', () => {
    for (const name of ['', 'a', 'p:task-1:task.started:1', 'ünïcødé 😀 name', 'x'.repeat(10_000)]) {
      expect(uuidv5(name)).toBe(v5(name, EVENT_ID_NAMESPACE));
    }
  });
});

describe('trustedAgentEventId', () => {
  it('accepts v4 and v7 in any spelling Python accepts, in canonical form', () => {
    expect(trustedAgentEventId('{9B2F3C1E7D4A4F6B8C2D1A2B3C4D5E6F}')).toBe('9b2f3c1e-7d4a-4f6b-8c2d-1a2b3c4d5e6f');
    expect(trustedAgentEventId('urn:uuid:018f3c1e-7d4a-7f6b-8c2d-1a2b3c4d5e6f')).toBe('018f3c1e-7d4a-7f6b-8c2d-1a2b3c4d5e6f');
  });

  it('refuses nil, all-ones, other versions, other variants and non-strings', () => {
    for (const value of [
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      '9b2f3c1e-7d4a-1f6b-8c2d-1a2b3c4d5e6f',
      '9b2f3c1e-7d4a-5f6b-8c2d-1a2b3c4d5e6f',
      '9b2f3c1e-7d4a-4f6b-cc2d-1a2b3c4d5e6f',
      'ev_123',
      42,
      null,
    ]) {
      expect(trustedAgentEventId(value), String(value)).toBeUndefined();
    }
  });
});
