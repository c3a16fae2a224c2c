import { describe, expect, it } from 'vitest';
import { JsonFloat, parseJson } from '@z4j/protocol';
import { decodeIngestRequest, encodeIngestRequest } from './ingest-codec.js';

const batch = {
  projectId: '11111111-2222-4333-8444-555555555555',
  agentId: '21111111-2222-4333-8444-555555555555',
  frameId: 'ev_1',
  receivedAt: new Date('2026-12-01T00:00:00Z'),
};

describe('ingest codec', () => {
  it('sends the texts the events arrived as, and the ingest side gets them back with the events', () => {
    const eventTexts = ['{"kind": "task.started", "n": 1.0}', '{"big":12345678901234567890}'];
    const events = eventTexts.map((text) => parseJson(text));
    const decoded = decodeIngestRequest(encodeIngestRequest(1n, { ...batch, events, eventTexts }));
    expect(decoded.ok && decoded.batch.eventTexts).toEqual(eventTexts);
    expect(decoded.ok && decoded.batch.events).toEqual([{ kind: 'task.started', n: new JsonFloat(1) }, { big: 12345678901234567890n }]);
  });

  it('writes canonical JSON when no texts came along, and the texts are then that JSON', () => {
    const decoded = decodeIngestRequest(encodeIngestRequest(2n, { ...batch, events: [{ b: 1, a: [new JsonFloat(2)] }] }));
    expect(decoded.ok && decoded.batch.eventTexts).toEqual(['{"a":[2.0],"b":1}']);
  });
});
