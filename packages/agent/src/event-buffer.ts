import type { JsonObject } from '@z4j/protocol';

/**
 * One event waiting for the brain: the (redacted) wire object, its encoded size, and when it was buffered.
 *
 * @example
 * const item: BufferedEvent = { event, bytes: Buffer.byteLength(canonicalJson(event)), enqueuedAt: Date.now() };
 */
export interface BufferedEvent {
  readonly event: JsonObject;
  readonly bytes: number;
  readonly enqueuedAt: number;
}

/**
 * A batch ready to go out as one `event_batch` frame. The id stays the same on every re-send, so the brain can
 * recognise a repeat (and its ingest dedupes the events anyway).
 *
 * @example
 * const batch: OutboundBatch = { id: 'ev_0123456789ab', events: [event] };
 */
export interface OutboundBatch {
  readonly id: string;
  readonly events: JsonObject[];
}

/** Limits for forming a batch. */
export interface BatchLimits {
  readonly maxEvents: number;
  /** Encoded size of the events plus separators; keep it under the brain's frame limit minus the envelope. */
  readonly maxBytes: number;
  /** A fresh frame id (`ev_<12 hex>`). */
  readonly newId: () => string;
}

interface Batch {
  readonly id: string;
  readonly items: BufferedEvent[];
  /** Events before this index were dropped for room; they are no longer sent. */
  head: number;
  /** When it was last written to a socket; undefined = waiting to be (re)sent. */
  sentAt: number | undefined;
}

/**
 * The agent's bounded event buffer. It holds at most `capacity` events across two stages:
 *
 *   pending  — emitted, not yet part of a batch (a FIFO);
 *   batches  — formed into an `event_batch` frame, oldest first; each is either *unsent* (waiting for a socket: new,
 *              or handed back by {@link unsendAll} after a disconnect or {@link requeueOverdue} after an ack
 *              timeout) or *in flight* (written, waiting for its `event_batch_ack`).
 *
 * An event leaves only when its batch is acked ({@link ack}) or when it is dropped to make room: when full (by count,
 * or by encoded bytes), the oldest event overall goes — from the oldest batch first — and is counted in {@link dropped}. Batches are formed
 * only when they can be sent, so there are never more than the sender's in-flight limit of them; everything else
 * waits in `pending`, where new events join later batches.
 *
 * @example
 * const buffer = new EventBuffer(1000);
 * buffer.push(item);
 * const batch = buffer.nextBatch({ maxEvents: 500, maxBytes: 1_000_000, newId });
 * if (batch) { send(batch); buffer.markSent(batch.id, Date.now()); }
 * buffer.ack(batch.id); // the events are gone for good
 */
export class EventBuffer {
  /** pending[pendingHead..] are waiting; the prefix is compacted away now and then. */
  #pending: BufferedEvent[] = [];
  #pendingHead = 0;
  readonly #batches: Batch[] = [];
  #held = 0;
  #heldBytes = 0;
  #dropped = 0;

  /**
   * @param capacity most events held
   * @param capacityBytes most encoded bytes held (default unbounded): a few huge events must not take the host's memory
   */
  constructor(
    readonly capacity: number,
    readonly capacityBytes: number = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('buffer capacity must be an integer >= 1');
    if (!(capacityBytes >= 1)) throw new RangeError('buffer byte capacity must be >= 1');
  }

  /** Events held (pending and in batches). */
  get depth(): number {
    return this.#held;
  }

  /** Encoded bytes of the events held. */
  get bytes(): number {
    return this.#heldBytes;
  }

  /** Events dropped since creation: the oldest, when the buffer was full, or single events too large for any frame. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Batches written and not yet acked. */
  get inFlight(): number {
    let n = 0;
    for (const batch of this.#batches) if (batch.sentAt !== undefined) n += 1;
    return n;
  }

  /** When the oldest held event was buffered (ms), or undefined when empty. */
  get oldestEnqueuedAt(): number | undefined {
    const batch = this.#batches[0];
    if (batch) return batch.items[batch.head]?.enqueuedAt;
    return this.#pending[this.#pendingHead]?.enqueuedAt;
  }

  /** Adds an event; when full (by count or bytes), the oldest held events are dropped first. */
  push(item: BufferedEvent): void {
    if (this.#held >= this.capacity) this.#dropOldest();
    while (this.#held > 0 && this.#heldBytes + item.bytes > this.capacityBytes) this.#dropOldest();
    this.#pending.push(item);
    this.#held += 1;
    this.#heldBytes += item.bytes;
  }

  /** Counts events that were refused before they entered (too large for any frame). */
  countDropped(n: number): void {
    this.#dropped += n;
  }

  /**
   * The next batch to write: an unsent batch first (oldest first, same id as before), otherwise a new one taken from
   * `pending` within `limits`. A pending event that alone exceeds `maxBytes` can never be sent and is dropped.
   * Returns undefined when there is nothing to send.
   */
  nextBatch(limits: BatchLimits): OutboundBatch | undefined {
    const unsent = this.#batches.find((batch) => batch.sentAt === undefined);
    if (unsent) return { id: unsent.id, events: unsent.items.slice(unsent.head).map((item) => item.event) };
    const items: BufferedEvent[] = [];
    let bytes = 0;
    while (this.#pendingHead < this.#pending.length && items.length < limits.maxEvents) {
      const item = this.#pending[this.#pendingHead]!;
      if (item.bytes + 1 > limits.maxBytes) {
        this.#shiftPending();
        this.#held -= 1;
        this.#heldBytes -= item.bytes;
        this.#dropped += 1;
        continue;
      }
      if (bytes + item.bytes + 1 > limits.maxBytes) break;
      items.push(item);
      bytes += item.bytes + 1;
      this.#shiftPending();
    }
    if (items.length === 0) return undefined;
    const batch: Batch = { id: limits.newId(), items, head: 0, sentAt: undefined };
    this.#batches.push(batch);
    return { id: batch.id, events: items.map((item) => item.event) };
  }

  /** Records that a batch was written to the socket at `atMs`. */
  markSent(id: string, atMs: number): void {
    const batch = this.#batches.find((candidate) => candidate.id === id);
    if (batch) batch.sentAt = atMs;
  }

  /** The brain committed batch `id`: its events leave the buffer. False for an unknown id (already acked or dropped). */
  ack(id: string): boolean {
    const index = this.#batches.findIndex((batch) => batch.id === id);
    if (index < 0) return false;
    const [batch] = this.#batches.splice(index, 1);
    for (let i = batch!.head; i < batch!.items.length; i += 1) this.#heldBytes -= batch!.items[i]!.bytes;
    this.#held -= batch!.items.length - batch!.head;
    return true;
  }

  /** The socket is gone: every in-flight batch waits to be sent again on the next session. */
  unsendAll(): void {
    for (const batch of this.#batches) batch.sentAt = undefined;
  }

  /** In-flight batches written more than `timeoutMs` ago go back to unsent; returns how many. */
  requeueOverdue(nowMs: number, timeoutMs: number): number {
    let n = 0;
    for (const batch of this.#batches) {
      if (batch.sentAt !== undefined && nowMs - batch.sentAt >= timeoutMs) {
        batch.sentAt = undefined;
        n += 1;
      }
    }
    return n;
  }

  /** Every held event, oldest first (for the spill file when the agent stops with unacked events). */
  heldEvents(): JsonObject[] {
    const events: JsonObject[] = [];
    for (const batch of this.#batches) for (let i = batch.head; i < batch.items.length; i += 1) events.push(batch.items[i]!.event);
    for (let i = this.#pendingHead; i < this.#pending.length; i += 1) events.push(this.#pending[i]!.event);
    return events;
  }

  /** When the earliest in-flight batch was written (ms), for scheduling the ack-timeout check. */
  get earliestSentAt(): number | undefined {
    let earliest: number | undefined;
    for (const batch of this.#batches)
      if (batch.sentAt !== undefined && (earliest === undefined || batch.sentAt < earliest)) earliest = batch.sentAt;
    return earliest;
  }

  #dropOldest(): void {
    const batch = this.#batches[0];
    if (batch) {
      this.#heldBytes -= batch.items[batch.head]!.bytes;
      batch.head += 1;
      if (batch.head >= batch.items.length) this.#batches.shift();
    } else {
      this.#heldBytes -= this.#pending[this.#pendingHead]!.bytes;
      this.#shiftPending();
    }
    this.#held -= 1;
    this.#dropped += 1;
  }

  #shiftPending(): void {
    this.#pendingHead += 1;
    // Compact once the consumed prefix dominates, so shifting stays O(1) amortised.
    if (this.#pendingHead >= 1024 && this.#pendingHead * 2 >= this.#pending.length) {
      this.#pending = this.#pending.slice(this.#pendingHead);
      this.#pendingHead = 0;
    }
  }
}
