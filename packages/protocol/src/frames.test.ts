import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CloseCode, FrameError } from './errors.js';
import {
  AgentEventSchema,
  AgentStatusPayloadSchema,
  CommandPayloadSchema,
  CommandResultPayloadSchema,
  describeIssues,
  ErrorPayloadSchema,
  EventBatchAckPayloadSchema,
  EventBatchPayloadSchema,
  FloatSchema,
  HeartbeatPayloadSchema,
  HelloAckFrameSchema,
  HelloFrameSchema,
  IntSchema,
  normalizeEventKind,
  parseFrame,
  parsePayload,
  RegistryDeltaPayloadSchema,
} from './frames.js';
import { parseJson } from './json-parse.js';
import { JsonFloat, type JsonObject, type JsonValue } from './json-value.js';

/** The hello the real z4j-bare 1.6.0 agent sends (§1.15), as received on the wire. */
const REAL_HELLO_WIRE =
  '{"v":2,"id":"hello_9f86d081884c7d65","ts":null,"type":"hello","payload":{"protocol_version":"2",' +
  '"agent_version":"0.0.0","framework":"bare","engines":["dummy"],"schedulers":[],' +
  '"capabilities":{"dummy":["submit_task"]},"host":{"name":"demo-agent"},"worker_id":"bare-41235-1795388267368",' +
  '"worker_role":null,"worker_pid":41235,"worker_started_at":"2026-11-22T22:57:47.368491Z"}}';

function hello(overrides: JsonObject = {}, payloadOverrides: JsonObject = {}): JsonObject {
  const frame = parseJson(REAL_HELLO_WIRE) as JsonObject;
  return { ...frame, ...overrides, payload: { ...(frame.payload as JsonObject), ...payloadOverrides } };
}

function issuesOf(schema: v.GenericSchema, input: unknown): string {
  const r = v.safeParse(schema, input);
  if (r.success) throw new Error('expected the schema to fail');
  return describeIssues(r.issues);
}

describe('HelloFrameSchema', () => {
  it("accepts the real agent's hello", () => {
    const frame = v.parse(HelloFrameSchema, parseFrame(REAL_HELLO_WIRE));
    expect(frame.payload).toEqual({
      protocol_version: '2',
      agent_version: '0.0.0',
      framework: 'bare',
      engines: ['dummy'],
      schedulers: [],
      capabilities: { dummy: ['submit_task'] },
      host: { name: 'demo-agent' },
      worker_id: 'bare-41235-1795388267368',
      worker_role: null,
      worker_pid: 41235,
      worker_started_at: '2026-11-22T22:57:47.368491Z',
    });
    expect(frame.ts).toBeNull();
  });

  it('fills defaults for a minimal (pre-worker-first) hello and drops unknown keys', () => {
    const frame = v.parse(HelloFrameSchema, {
      v: 2,
      type: 'hello',
      id: 'h',
      extra: 1,
      payload: { protocol_version: '2', agent_version: '1.1.0', framework: 'django', future_field: true },
    });
    expect(frame).toEqual({
      v: 2,
      type: 'hello',
      id: 'h',
      ts: null,
      payload: {
        protocol_version: '2',
        agent_version: '1.1.0',
        framework: 'django',
        engines: [],
        schedulers: [],
        capabilities: {},
        host: {},
        worker_id: null,
        worker_role: null,
        worker_pid: null,
        worker_started_at: null,
      },
    });
  });

  it('accepts an unsupported protocol_version (that is a 4426, not a 4400)', () => {
    expect(v.parse(HelloFrameSchema, hello({}, { protocol_version: '3' })).payload.protocol_version).toBe('3');
  });

  const rejects: [string, JsonObject, string][] = [
    ['v as a string', hello({ v: '2' }), 'v:'],
    ['v as 2.0', hello({ v: new JsonFloat(2) }), 'v:'],
    ['v missing', (() => { const h = hello(); delete h.v; return h; })(), 'v:'], // prettier-ignore
    ['v 3', hello({ v: 3 }), 'v:'],
    ['wrong type', hello({ type: 'heartbeat' }), 'type:'],
    ['empty id', hello({ id: '' }), 'id:'],
    ['65-char id', hello({ id: 'x'.repeat(65) }), 'id:'],
    ['naive-looking garbage ts', hello({ ts: 'soon' }), 'ts:'],
    ['payload missing', (() => { const h = hello(); delete h.payload; return h; })(), 'payload:'], // prettier-ignore
    ['payload array', { ...hello(), payload: [] }, 'payload:'],
    ['protocol_version missing', (() => { const h = hello(); delete (h.payload as JsonObject).protocol_version; return h; })(), 'payload.protocol_version:'], // prettier-ignore
    ['protocol_version as int', hello({}, { protocol_version: 2 }), 'payload.protocol_version:'],
    ['protocol_version 41 chars', hello({}, { protocol_version: 'x'.repeat(41) }), 'payload.protocol_version:'],
    ['agent_version 41 chars', hello({}, { agent_version: 'x'.repeat(41) }), 'payload.agent_version:'],
    ['framework 41 chars', hello({}, { framework: 'x'.repeat(41) }), 'payload.framework:'],
    ['65 engines', hello({}, { engines: Array.from({ length: 65 }, (_, i) => `e${i}`) }), 'payload.engines:'],
    ['non-string engine', hello({}, { engines: ['a', 1] }), 'payload.engines[1]:'],
    ['65 schedulers', hello({}, { schedulers: Array.from({ length: 65 }, () => 's') }), 'payload.schedulers:'],
    ['capabilities list', hello({}, { capabilities: ['submit_task'] }), 'payload.capabilities:'],
    ['capability not a list', hello({}, { capabilities: { dummy: 'submit_task' } }), 'payload.capabilities.dummy:'],
    ['capability token not a string', hello({}, { capabilities: { dummy: [1] } }), 'payload.capabilities.dummy[0]:'],
    ['host not an object', hello({}, { host: 'demo' }), 'payload.host:'],
    ['worker_id 129 chars', hello({}, { worker_id: 'x'.repeat(129) }), 'payload.worker_id:'],
    ['worker_role 33 chars', hello({}, { worker_role: 'x'.repeat(33) }), 'payload.worker_role:'],
    ['worker_pid as string', hello({}, { worker_pid: '41235' }), 'payload.worker_pid:'],
    ['worker_pid negative', hello({}, { worker_pid: -1 }), 'payload.worker_pid:'],
    ['worker_pid float', hello({}, { worker_pid: new JsonFloat(41235) }), 'payload.worker_pid:'],
    ['worker_pid > 2^31-1', hello({}, { worker_pid: 2 ** 31 }), 'payload.worker_pid:'],
    ['worker_started_at not a datetime', hello({}, { worker_started_at: 'yesterday' }), 'payload.worker_started_at:'],
  ];
  it.each(rejects)('rejects %s, naming the field', (_name, frame, path) => {
    expect(issuesOf(HelloFrameSchema, frame)).toContain(path);
  });

  it('counts characters like Python (code points)', () => {
    expect(v.safeParse(HelloFrameSchema, hello({}, { framework: '😀'.repeat(40) })).success).toBe(true);
    expect(v.safeParse(HelloFrameSchema, hello({}, { framework: '😀'.repeat(41) })).success).toBe(false);
  });
});

describe('HelloAckFrameSchema', () => {
  const ack = (payload: JsonObject = {}): JsonObject => ({
    v: 2,
    type: 'hello_ack',
    id: 'hack_0123456789ab',
    ts: '2026-01-01T00:00:00Z',
    payload: {
      protocol_version: '2',
      brain_version: '0.1.0',
      agent_id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
      project_id: '11111111-2222-4333-8444-555555555555',
      session_id: '00000000-0000-4000-8000-000000000001',
      heartbeat_interval_seconds: 10,
      max_frame_size_bytes: 1_048_576,
      ...payload,
    },
  });

  it('accepts what the brain sends', () => {
    expect(v.parse(HelloAckFrameSchema, ack()).payload.heartbeat_interval_seconds).toBe(10);
  });

  it('defaults the tuning values like the agent model', () => {
    const frame = ack();
    const payload = frame.payload as JsonObject;
    delete payload.heartbeat_interval_seconds;
    delete payload.max_frame_size_bytes;
    expect(v.parse(HelloAckFrameSchema, frame).payload).toMatchObject({
      heartbeat_interval_seconds: 10,
      max_frame_size_bytes: 1_048_576,
    });
  });

  const rejects: [string, JsonObject, string][] = [
    ['heartbeat 0', ack({ heartbeat_interval_seconds: 0 }), 'payload.heartbeat_interval_seconds:'],
    ['heartbeat 3601', ack({ heartbeat_interval_seconds: 3601 }), 'payload.heartbeat_interval_seconds:'],
    ['heartbeat 10.0', ack({ heartbeat_interval_seconds: new JsonFloat(10) }), 'payload.heartbeat_interval_seconds:'],
    ['heartbeat 2.5', ack({ heartbeat_interval_seconds: 2.5 }), 'payload.heartbeat_interval_seconds:'],
    ['heartbeat "10"', ack({ heartbeat_interval_seconds: '10' }), 'payload.heartbeat_interval_seconds:'],
    ['heartbeat true', ack({ heartbeat_interval_seconds: true }), 'payload.heartbeat_interval_seconds:'],
    ['frame size 1023', ack({ max_frame_size_bytes: 1023 }), 'payload.max_frame_size_bytes:'],
    ['frame size 64 MiB + 1', ack({ max_frame_size_bytes: 64 * 1024 * 1024 + 1 }), 'payload.max_frame_size_bytes:'],
    ['brain_version 41 chars', ack({ brain_version: 'x'.repeat(41) }), 'payload.brain_version:'],
    ['session_id 65 chars', ack({ session_id: 'x'.repeat(65) }), 'payload.session_id:'],
    ['agent_id missing', ack({ agent_id: null }), 'payload.agent_id:'],
  ];
  it.each(rejects)('rejects %s', (_name, frame, path) => {
    expect(issuesOf(HelloAckFrameSchema, frame)).toContain(path);
  });

  it('accepts the bounds', () => {
    expect(v.safeParse(HelloAckFrameSchema, ack({ heartbeat_interval_seconds: 1, max_frame_size_bytes: 1024 })).success).toBe(true);
    expect(
      v.safeParse(HelloAckFrameSchema, ack({ heartbeat_interval_seconds: 3600, max_frame_size_bytes: 64 * 1024 * 1024 })).success,
    ).toBe(true);
  });
});

describe('signed payload schemas (lenient)', () => {
  it('event_batch keeps events as JSON values and validates events one by one', () => {
    const payload = parseJson(
      '{"events":[{"id":"5c6b0f3e-8f55-4a43-9f0e-1b9f7e7b3d2a","kind":"task.succeeded","engine":"celery",' +
        '"task_id":"t1","occurred_at":"2026-11-22T22:57:51.313403+00:00","data":{"runtime_ms":12,"x":1.0},"extra":1},' +
        '{"kind":"task.sent"}],"more":true}',
    );
    const batch = parsePayload('event_batch', payload);
    expect(batch.events).toHaveLength(2);
    expect(batch.more).toBe(true); // extra keys kept
    const first = v.parse(AgentEventSchema, batch.events[0]);
    expect(first).toMatchObject({ kind: 'task.succeeded', task_id: 't1', extra: 1 });
    expect(first.data.x).toEqual(new JsonFloat(1));
    expect(issuesOf(AgentEventSchema, batch.events[1])).toMatch(/engine: .*; occurred_at: /);
    expect(v.parse(AgentEventSchema, { kind: 'worker.online', engine: 'rq', occurred_at: '2026-01-01T00:00:00Z' })).toMatchObject({
      id: null,
      task_id: '',
      data: {},
    });
    expect(issuesOf(EventBatchPayloadSchema, { events: {} })).toContain('events:');
  });

  it('event_batch_ack', () => {
    expect(v.parse(EventBatchAckPayloadSchema, { acked_id: 'ev_1', received: 1, accepted: 0, rejected: 1 })).toMatchObject({
      acked_id: 'ev_1',
    });
    expect(issuesOf(EventBatchAckPayloadSchema, { acked_id: 'ev_1', received: -1, accepted: 0, rejected: 0 })).toContain('received:');
  });

  it('heartbeat: defaults, nulls and string health values', () => {
    expect(v.parse(HeartbeatPayloadSchema, {})).toEqual({
      buffer_size: 0,
      last_flush_at: null,
      dropped_events: 0,
      adapter_health: {},
    });
    const hb = v.parse(HeartbeatPayloadSchema, {
      buffer_size: 3,
      last_flush_at: '2026-11-22T22:57:47.368491Z',
      adapter_health: { 'celery.queue_depths': '{"default": 3}' },
    });
    expect(hb.adapter_health['celery.queue_depths']).toBe('{"default": 3}');
    expect(issuesOf(HeartbeatPayloadSchema, { buffer_size: '3' })).toContain('buffer_size:');
  });

  it('agent_status accepts floats in any JSON form and nulls', () => {
    const status = v.parse(
      AgentStatusPayloadSchema,
      parseJson(
        '{"current_session_age_seconds":0.003903,"buffer_oldest_age_seconds":2.0,"last_successful_connect_at":null,' +
          '"agent_version":"0.0.0","protocol_version":"2","engines":["dummy"],"schedulers":[],"buffer_depth":0}',
      ),
    );
    expect(status.current_session_age_seconds).toBe(0.003903);
    expect(status.buffer_oldest_age_seconds).toBe(2);
    expect(status.auth_failure_streak).toBe(0);
    expect(v.parse(AgentStatusPayloadSchema, { current_session_age_seconds: 5 }).current_session_age_seconds).toBe(5);
    expect(issuesOf(AgentStatusPayloadSchema, { buffer_oldest_age_seconds: 'x' })).toContain('buffer_oldest_age_seconds:');
  });

  it('command / command_result / registry_delta / error', () => {
    expect(v.parse(CommandPayloadSchema, { action: 'submit_task' })).toEqual({
      action: 'submit_task',
      target: {},
      parameters: {},
      timeout_seconds: 60,
      issued_by: null,
    });
    expect(issuesOf(CommandPayloadSchema, { target: {} })).toContain('action:');
    expect(v.parse(CommandResultPayloadSchema, { status: 'failed', error: 'boom' })).toEqual({
      status: 'failed',
      result: null,
      error: 'boom',
    });
    expect(v.parse(RegistryDeltaPayloadSchema, {})).toEqual({ engine: '', added: [], removed: [], updated: [] });
    expect(v.parse(ErrorPayloadSchema, { code: 'E', message: 'm' }).fatal).toBe(false);
  });

  it('parsePayload treats a missing payload as {} and throws a 4400 FrameError naming the field', () => {
    expect(parsePayload('command_ack', undefined)).toEqual({});
    expect(parsePayload('heartbeat', undefined).buffer_size).toBe(0);
    try {
      parsePayload('command_result', { status: 1 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FrameError);
      expect((err as FrameError).closeCode).toBe(CloseCode.Malformed);
      expect((err as FrameError).message).toMatch(/command_result payload: status:/);
    }
  });
});

describe('helpers', () => {
  it('IntSchema and FloatSchema', () => {
    expect(v.safeParse(IntSchema, 3).success).toBe(true);
    for (const bad of [3.5, new JsonFloat(3), '3', true, 2n ** 60n, null] as JsonValue[]) {
      expect(v.safeParse(IntSchema, bad).success).toBe(false);
    }
    expect(v.parse(FloatSchema, new JsonFloat(-0))).toBe(-0);
    expect(v.parse(FloatSchema, 2n ** 60n)).toBe(2 ** 60);
    expect(v.safeParse(FloatSchema, '1.0').success).toBe(false);
  });

  it('normalizeEventKind', () => {
    expect(normalizeEventKind('task.failed')).toBe('task.failed');
    expect(normalizeEventKind('task.exploded')).toBe('unknown');
  });

  it('describeIssues names the root when there is no path', () => {
    expect(issuesOf(HelloFrameSchema, 'nope')).toMatch(/^\(root\): /);
  });
});

describe('parseFrame', () => {
  it('parses bytes and strings losslessly', () => {
    const frame = parseFrame(Buffer.from('{"v":2,"type":"heartbeat","id":"hb_1","payload":{"n":12345678901234567890}}'));
    expect((frame.payload as JsonObject).n).toBe(12345678901234567890n);
    expect(frame.type).toBe('heartbeat');
  });

  const malformed: [string, string | Uint8Array][] = [
    ['invalid JSON', '{"v":2,'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['an array', '[]'],
    ['a string', '"hello"'],
    ['no v', '{"type":"hello","id":"x"}'],
    ['no type', '{"v":2,"id":"x"}'],
    ['non-string type', '{"v":2,"type":1,"id":"x"}'],
    ['no id', '{"v":2,"type":"hello"}'],
    ['non-string id', '{"v":2,"type":"hello","id":5}'],
  ];
  it.each(malformed)('rejects %s with close code 4400', (_name, input) => {
    try {
      parseFrame(input);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FrameError);
      expect((err as FrameError).closeCode).toBe(4400);
      expect((err as FrameError).code).toBe('FRAME_MALFORMED');
    }
  });
});
