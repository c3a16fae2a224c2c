import { describe, expect, it } from 'vitest';
import { EventBuffer, type BufferedEvent } from './event-buffer.js';

const item = (n: number, bytes = 10): BufferedEvent => ({ event: { n }, bytes, enqueuedAt: n });
let ids = 0;
const limits = (maxEvents = 100, maxBytes = 1_000_000) => ({ maxEvents, maxBytes, newId: () => `ev_${++ids}` });
const numbers = (events: readonly { n?: unknown }[]) => events.map((event) => event.n);

describe('EventBuffer', () => {
  it('holds at most its capacity, dropping and counting the oldest', () => {
    const buffer = new EventBuffer(5);
    for (let n = 1; n <= 8; n += 1) buffer.push(item(n));
    expect(buffer.depth).toBe(5);
    expect(buffer.dropped).toBe(3);
    expect(buffer.oldestEnqueuedAt).toBe(4);
    expect(numbers(buffer.nextBatch(limits())!.events)).toEqual([4, 5, 6, 7, 8]);
  });

  it('keeps a batch until its ack, and an ack releases exactly that batch', () => {
    const buffer = new EventBuffer(100);
    for (let n = 1; n <= 5; n += 1) buffer.push(item(n));
    const first = buffer.nextBatch(limits(3))!;
    buffer.markSent(first.id, 0);
    const second = buffer.nextBatch(limits(3))!;
    buffer.markSent(second.id, 0);
    expect(numbers(first.events)).toEqual([1, 2, 3]);
    expect(numbers(second.events)).toEqual([4, 5]);
    expect(buffer.inFlight).toBe(2);
    expect(buffer.nextBatch(limits())).toBeUndefined();
    expect(buffer.ack(second.id)).toBe(true);
    expect(buffer.ack(second.id)).toBe(false);
    expect(buffer.ack('ev_unknown')).toBe(false);
    expect(buffer.depth).toBe(3);
    expect(buffer.inFlight).toBe(1);
    expect(buffer.ack(first.id)).toBe(true);
    expect(buffer.depth).toBe(0);
  });

  it('offers unacked batches again, same id, after a disconnect or an ack timeout', () => {
    const buffer = new EventBuffer(100);
    for (let n = 1; n <= 4; n += 1) buffer.push(item(n));
    const batch = buffer.nextBatch(limits(2))!;
    buffer.markSent(batch.id, 1_000);
    expect(buffer.requeueOverdue(30_999, 30_000)).toBe(0);
    expect(buffer.earliestSentAt).toBe(1_000);
    expect(buffer.requeueOverdue(31_000, 30_000)).toBe(1);
    expect(buffer.inFlight).toBe(0);
    const again = buffer.nextBatch(limits(2))!;
    expect(again.id).toBe(batch.id);
    expect(numbers(again.events)).toEqual([1, 2]);
    buffer.markSent(again.id, 40_000);
    buffer.unsendAll();
    expect(buffer.nextBatch(limits(2))!.id).toBe(batch.id);
  });

  it('drops from the oldest unacked batch when full, and re-sends the batch without the dropped events', () => {
    const buffer = new EventBuffer(4);
    for (let n = 1; n <= 4; n += 1) buffer.push(item(n));
    const batch = buffer.nextBatch(limits(3))!;
    buffer.markSent(batch.id, 0);
    buffer.push(item(5));
    buffer.push(item(6));
    expect(buffer.dropped).toBe(2);
    buffer.unsendAll();
    const again = buffer.nextBatch(limits(3))!;
    expect(again.id).toBe(batch.id);
    expect(numbers(again.events)).toEqual([3]);
    // A batch emptied by drops disappears; a late ack for it is harmless.
    buffer.push(item(7));
    expect(buffer.ack(batch.id)).toBe(false);
    expect(buffer.depth).toBe(4);
    expect(numbers(buffer.nextBatch(limits())!.events)).toEqual([4, 5, 6, 7]);
  });

  it('respects the byte budget and drops (and counts) an event too large for any frame', () => {
    const buffer = new EventBuffer(100);
    buffer.push(item(1, 40));
    buffer.push(item(2, 500));
    buffer.push(item(3, 40));
    buffer.push(item(4, 40));
    const first = buffer.nextBatch(limits(100, 100))!;
    expect(numbers(first.events)).toEqual([1, 3]);
    expect(buffer.dropped).toBe(1);
    buffer.markSent(first.id, 0);
    expect(numbers(buffer.nextBatch(limits(100, 100))!.events)).toEqual([4]);
    expect(buffer.depth).toBe(3);
  });

  it('also bounds the encoded bytes held, dropping the oldest', () => {
    const buffer = new EventBuffer(100, 100);
    buffer.push(item(1, 40));
    buffer.push(item(2, 40));
    buffer.push(item(3, 40));
    expect(buffer.depth).toBe(2);
    expect(buffer.bytes).toBe(80);
    expect(buffer.dropped).toBe(1);
    const batch = buffer.nextBatch(limits())!;
    buffer.markSent(batch.id, 0);
    buffer.ack(batch.id);
    expect(buffer.bytes).toBe(0);
  });
});
