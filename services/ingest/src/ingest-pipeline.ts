import { classifySqlError, sqlStateOf, type BrainDatabase, type Database } from '@z4j/db';
import type { IngestBatchResult, IngestEventBatch, IngestSink } from '@z4j/ingest-contract';
import type { Logger } from '@z4j/logger';
import type { JsonValue } from '@z4j/protocol';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import {
  batchInsertEvents,
  batchTouchAgents,
  batchTouchQueues,
  batchUpsertTasks,
  batchUpsertWorkers,
  eventKey,
  findForeignCanvasRefs,
  GROUP_HAS_STORED_EVENTS,
  writeGroupAtOnce,
  type AgentSighting,
  type NamedSighting,
} from './event-writer.js';
import { Fifo } from './fifo.js';
import { createIngestMetrics } from './ingest-metrics.js';
import { normaliseBatch, type NormalisedBatch, type NormalisedEvent } from './normalise-event.js';
import { ProjectRateLimiter } from './project-rate-limiter.js';
import { projectSchedules, SCHEDULE_KINDS } from './schedule-projector.js';
import { compareText, reduceTaskEvents, shortText, taskOutcomes, MAX_REF_LENGTH } from './task-reduction.js';

/**
 * The ingest pipeline: verified event batches in, one transaction per group
 * of batches out.
 *
 * Life of a submit:
 *
 *   submit ─► normalise (redact, validate, derive ids; in the caller's turn)
 *          ─► rate limit (per project; waits, never drops)
 *          ─► queue (bounded by events; waits for space = backpressure)
 *          ─► flusher: group commit ─► COMMIT ─► resolve with this batch's counts
 *                                  └─► failure ─► retry (retryable SQLSTATE) / split / reject
 *
 * Group commit. One flusher drains the queue: it waits at most
 * `maxBatchDelayMs` after the oldest queued batch arrived (less when
 * `maxBatchEvents` are already queued), takes up to `maxBatchEvents` events
 * from as many batches (sessions, agents, projects) as it can, and writes them
 * with ONE statement (z4j_ingest_group, event-writer.ts) that commits by
 * itself — or, when some of the events were already stored, in one careful
 * transaction that projects only the new rows (see writeGroup).
 * The real agent sends one event per frame (§1.9), so without this the
 * database would see one transaction per event. While transactions run (at
 * most `maxConcurrentTransactions`, 2 on Postgres so one writes while the
 * other commits) the next group gathers, so the group size follows the load
 * by itself. Concurrent groups, like concurrent replicas, take their row
 * locks in one global order and so wait for each other rather than deadlock.
 *
 * Only after COMMIT does a submit resolve, so the gateway acks only durable
 * events. A failed transaction rejects every submit of its group (the agent
 * re-sends; ids are content-derived, so nothing doubles). Retryable SQLSTATEs
 * (deadlock, serialization, lock timeout, lost connection) retry the whole
 * transaction a few times first; any other error splits the group and commits
 * each batch alone, so one poisoned batch cannot fail the batches it shared a
 * transaction with.
 *
 * States: running → closing (close() called: no new submits; rate-limit waits
 * are released; the queue drains) → closed (flusher exited).
 */

export interface IngestPipelineOptions {
  readonly database: BrainDatabase;
  /** Runs on every whole raw event before anything is read or stored (@z4j/redaction in production). */
  readonly redact: (event: JsonValue) => JsonValue;
  readonly logger: Logger;
  /** Wall clock: rate limiting and updated_at columns. The clamp uses each batch's receivedAt. */
  readonly now: () => Date;
  /** Registers the §13 ingest series here when given. */
  readonly metrics?: Registry;
  /** Most events in one transaction. Default 5000. */
  readonly maxBatchEvents?: number;
  /** Longest wait for more batches before a group is written. Default 5 ms. */
  readonly maxBatchDelayMs?: number;
  /** Most events waiting in the queue before submit() waits for space. Default 4 × maxBatchEvents. */
  readonly maxQueuedEvents?: number;
  /** Z4J_RATELIMIT_EVENTS_PER_SECOND per project; 0 disables. Default 10000. */
  readonly eventsPerSecondPerProject?: number;
  /**
   * Group transactions in flight at once (Postgres; the embedded database always uses 1). While one waits
   * for its COMMIT the next is already writing. Default 2.
   */
  readonly maxConcurrentTransactions?: number;
  /** Attempts of one transaction on retryable errors. Default 5. */
  readonly maxAttempts?: number;
  /**
   * Drop a parent/root task id that exists only in another project (§2.3). Default false: without an index
   * on tasks (engine, task_id) each check is a slow trigram probe (see findForeignCanvasRefs).
   */
  readonly crossProjectRefCheck?: boolean;
  /** After each commit that stored something: the projects it touched (dashboard NOTIFY). */
  readonly onCommitted?: (summary: { projectIds: string[] }) => void;
  /** Rate limiter's wait (tests inject a fake clock). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface IngestPipelineStats {
  readonly queuedEvents: number;
  readonly queuedBatches: number;
  readonly transactions: number;
  readonly retries: number;
  readonly rateLimitedMs: number;
}

export interface IngestPipeline extends IngestSink {
  stats(): IngestPipelineStats;
}

const NO_REFS: ReadonlySet<string> = new Set();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Pending {
  readonly normalised: NormalisedBatch;
  readonly frameId: string;
  readonly enqueuedAt: number;
  readonly resolve: (result: IngestBatchResult) => void;
  readonly reject: (error: unknown) => void;
}

interface GroupResult {
  /** eventKey() of the rows really inserted; undefined when every row of the group was new. */
  readonly inserted: ReadonlySet<string> | undefined;
  readonly insertedEvents: readonly NormalisedEvent[];
}

/**
 * After a group turned out to carry already-stored events, the next groups skip the one-statement attempt for
 * this long: re-sends come in waves (a reconnecting agent re-sends its whole unacked buffer), and each failed
 * attempt would cost a wasted write.
 */
const CAREFUL_AFTER_REPLAY_MS = 1_000;

export function createIngestPipeline(options: IngestPipelineOptions): IngestPipeline {
  const maxBatchEvents = Math.max(1, options.maxBatchEvents ?? 5000);
  const maxBatchDelayMs = Math.max(0, options.maxBatchDelayMs ?? 5);
  const maxQueuedEvents = Math.max(maxBatchEvents, options.maxQueuedEvents ?? maxBatchEvents * 4);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  // PGlite has one session: a second transaction would only queue behind the first.
  const maxConcurrentTransactions = options.database.kind === 'embedded' ? 1 : Math.max(1, options.maxConcurrentTransactions ?? 2);
  const { logger, redact, now } = options;
  const crossProjectRefCheck = options.crossProjectRefCheck ?? false;
  const db = options.database.db;
  const metrics = createIngestMetrics(options.metrics);
  const limiter = new ProjectRateLimiter({
    eventsPerSecond: options.eventsPerSecondPerProject ?? 10_000,
    now: () => now().getTime(),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });

  const queue = new Fifo<Pending>();
  let queuedEvents = 0;
  /** Submits past normalisation that have not reached the queue yet (rate limit or space wait). */
  let admitting = 0;
  const spaceWaiters = new Fifo<{ events: number; admit: () => void }>();
  let wakeFlusher: (() => void) | undefined;
  let closing = false;
  let transactions = 0;
  let retries = 0;
  /** Wall-clock ms until which groups are written carefully (see CAREFUL_AFTER_REPLAY_MS). */
  let carefulUntilMs = 0;

  function wake(): void {
    const resume = wakeFlusher;
    wakeFlusher = undefined;
    resume?.();
  }

  function waitForSpace(events: number): Promise<void> | undefined {
    // A batch always fits into an empty queue, whatever its size.
    if (spaceWaiters.length === 0 && (queuedEvents === 0 || queuedEvents + events <= maxQueuedEvents)) return undefined;
    return new Promise((admit) => spaceWaiters.push({ events, admit }));
  }

  /** Admits waiting submits in arrival order while they fit. */
  function admitWaiters(): void {
    let planned = queuedEvents;
    while (spaceWaiters.length > 0) {
      const next = spaceWaiters.peek()!;
      if (planned > 0 && planned + next.events > maxQueuedEvents) break;
      spaceWaiters.shift();
      planned += next.events;
      next.admit();
    }
  }

  async function submit(batch: IngestEventBatch): Promise<IngestBatchResult> {
    if (closing) throw new Error('ingest pipeline is closed');
    if (!UUID.test(batch.projectId)) throw new TypeError(`ingest: projectId is not a uuid: ${JSON.stringify(batch.projectId)}`);
    const normalised = normaliseBatch(batch, redact);
    if (normalised.rejected > 0 || normalised.clamped > 0) {
      logger.warn(
        {
          project_id: batch.projectId,
          agent_id: batch.agentId,
          frame_id: batch.frameId,
          rejected: normalised.rejectReasons,
          clamped: normalised.clamped,
        },
        'ingest:batch:events_adjusted',
      );
    }
    if (normalised.events.length === 0) return { received: normalised.received, accepted: 0, rejected: normalised.rejected };

    admitting += 1;
    try {
      const limited = limiter.acquire(normalised.events[0]!.projectId, normalised.events.length);
      if (limited) await limited;
      const space = waitForSpace(normalised.events.length);
      if (space) await space;
    } finally {
      admitting -= 1;
    }
    return new Promise<IngestBatchResult>((resolve, reject) => {
      queue.push({ normalised, frameId: batch.frameId, enqueuedAt: performance.now(), resolve, reject });
      queuedEvents += normalised.events.length;
      wake();
    });
  }

  function sleepOrWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        wakeFlusher = undefined;
        resolve();
      }, ms);
      wakeFlusher = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async function runFlusher(): Promise<void> {
    const running = new Set<Promise<void>>();
    for (;;) {
      if (queue.length === 0 && closing && admitting === 0) {
        await Promise.all(running);
        if (queue.length === 0) return;
      }
      if (queue.length === 0 && spaceWaiters.length > 0) admitWaiters();
      // Wait for work, and for a free transaction slot (a finishing commit wakes us too).
      if (queue.length === 0 || running.size >= maxConcurrentTransactions) {
        await new Promise<void>((resolve) => (wakeFlusher = resolve));
        continue;
      }
      // Gather: until the oldest batch has waited maxBatchDelayMs or a full group is there.
      if (!closing && queuedEvents < maxBatchEvents) {
        const waitMs = queue.peek()!.enqueuedAt + maxBatchDelayMs - performance.now();
        if (waitMs > 0) {
          await sleepOrWake(waitMs);
          if (queuedEvents < maxBatchEvents && !closing && performance.now() < queue.peek()!.enqueuedAt + maxBatchDelayMs) continue;
        }
      }
      const group: Pending[] = [];
      let events = 0;
      while (queue.length > 0) {
        const next = queue.peek()!;
        if (group.length > 0 && events + next.normalised.events.length > maxBatchEvents) break;
        queue.shift();
        group.push(next);
        events += next.normalised.events.length;
      }
      queuedEvents -= events;
      admitWaiters();
      // commitGroup settles every submit of the group itself and never rejects.
      const commit: Promise<void> = commitGroup(group).finally(() => {
        running.delete(commit);
        wake();
      });
      running.add(commit);
    }
  }

  async function commitGroup(group: readonly Pending[]): Promise<void> {
    // Duplicates inside the group (fan-out, a re-send queued twice) become one row; the first batch that
    // carried an event owns it and counts it as accepted if the row is new.
    const unique = new Map<string, NormalisedEvent>();
    const owned: string[][] = [];
    for (const pending of group) {
      const keys: string[] = [];
      for (const event of pending.normalised.events) {
        const key = eventKey(event.id, event.storedMicros);
        if (!unique.has(key)) {
          unique.set(key, event);
          keys.push(key);
        }
      }
      owned.push(keys);
    }
    // Primary-key order: the insert's index locks are taken in the same order by every replica.
    const rows = [...unique.values()].sort(
      (a, b) => compareText(a.projectId, b.projectId) || a.storedMicros - b.storedMicros || compareText(a.id, b.id),
    );
    const allEvents = group.flatMap((pending) => pending.normalised.events);

    let result: GroupResult;
    try {
      result = await writeWithRetries(rows, allEvents);
    } catch (error) {
      if (group.length > 1 && classifySqlError(error) !== 'retryable') {
        logger.warn({ err: error, batches: group.length, sqlstate: sqlStateOf(error) }, 'ingest:group:split_after_error');
        for (const pending of group) await commitGroup([pending]);
        return;
      }
      const frameIds = group.map((pending) => pending.frameId);
      logger.error(
        { err: error, sqlstate: sqlStateOf(error), frame_ids: frameIds.slice(0, 20), batches: group.length },
        'ingest:group:failed',
      );
      for (const pending of group) pending.reject(error);
      return;
    }

    const projectIds = new Set<string>();
    group.forEach((pending, index) => {
      let accepted = 0;
      const inserted = result.inserted;
      if (inserted === undefined) accepted = owned[index]!.length;
      else for (const key of owned[index]!) if (inserted.has(key)) accepted += 1;
      if (accepted > 0) projectIds.add(pending.normalised.events[0]!.projectId);
      pending.resolve({ received: pending.normalised.received, accepted, rejected: pending.normalised.rejected });
    });
    try {
      metrics.recordCommitted(result.insertedEvents, taskOutcomes(result.insertedEvents));
      if (projectIds.size > 0) options.onCommitted?.({ projectIds: [...projectIds] });
    } catch (error) {
      logger.error({ err: error }, 'ingest:after_commit:failed');
    }
  }

  async function writeWithRetries(rows: readonly NormalisedEvent[], allEvents: readonly NormalisedEvent[]): Promise<GroupResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        transactions += 1;
        return await writeGroup(rows, allEvents, now());
      } catch (error) {
        if (sqlStateOf(error) === '40P01') metrics.recordDeadlock();
        if (attempt >= maxAttempts || classifySqlError(error) !== 'retryable') throw error;
        retries += 1;
        const backoffMs = Math.min(500, 10 * 2 ** (attempt - 1)) * (0.5 + Math.random());
        logger.warn({ err: error, sqlstate: sqlStateOf(error), attempt, backoff_ms: Math.round(backoffMs) }, 'ingest:group:retry');
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
      }
    }
  }

  /**
   * Two ways to write a group, with the same statements in the same (lock) order:
   * - at once: one statement that commits by itself, on the premise that every row is new (the usual case);
   * - carefully: a transaction that inserts the events first and projects only the rows that were new. Taken
   *   when the premise failed (nothing was written then), for a while after that, and for schedule events,
   *   whose projection reads and writes row by row.
   */
  async function writeGroup(rows: readonly NormalisedEvent[], allEvents: readonly NormalisedEvent[], at: Date): Promise<GroupResult> {
    if (at.getTime() >= carefulUntilMs && !rows.some((event) => SCHEDULE_KINDS.has(event.kind))) {
      try {
        const deltas = reduceTaskEvents(rows);
        const foreignRefs = crossProjectRefCheck && deltas.length > 0 ? await findForeignCanvasRefs(db, deltas) : NO_REFS;
        await writeGroupAtOnce(db, {
          events: rows,
          deltas,
          foreignRefs,
          queues: sightings(rows, 'queue'),
          workers: sightings(rows, 'worker'),
          agents: agentSightings(allEvents),
          now: at,
        });
        return { inserted: undefined, insertedEvents: rows };
      } catch (error) {
        if (sqlStateOf(error) !== GROUP_HAS_STORED_EVENTS) throw error;
        metrics.recordReplayedGroup();
        carefulUntilMs = at.getTime() + CAREFUL_AFTER_REPLAY_MS;
      }
    }
    return db.transaction().execute((trx) => writeGroupCarefully(trx, rows, allEvents, at));
  }

  /** One transaction. Statement order = lock order, the same in every replica (see event-writer.ts). */
  async function writeGroupCarefully(
    trx: Kysely<Database>,
    rows: readonly NormalisedEvent[],
    allEvents: readonly NormalisedEvent[],
    at: Date,
  ): Promise<GroupResult> {
    const inserted = await batchInsertEvents(trx, rows);
    // Projections only from rows that are new: a replay has been projected when it first arrived.
    const insertedEvents =
      inserted.size === rows.length ? rows : rows.filter((event) => inserted.has(eventKey(event.id, event.storedMicros)));

    const deltas = reduceTaskEvents(insertedEvents);
    if (deltas.length > 0) {
      const foreign = crossProjectRefCheck ? await findForeignCanvasRefs(trx, deltas) : NO_REFS;
      await batchUpsertTasks(trx, deltas, foreign, at);
    }
    await batchTouchQueues(trx, sightings(insertedEvents, 'queue'), at);
    await batchUpsertWorkers(trx, sightings(insertedEvents, 'worker'), at);
    const schedules = await projectSchedules(trx, insertedEvents, logger, at);
    if (schedules.skipped > 0) logger.debug({ ...schedules }, 'ingest:schedules:projected');
    // Replays count as a heartbeat too: the agent is alive whether or not its events are new.
    await batchTouchAgents(trx, agentSightings(allEvents));
    return { inserted, insertedEvents };
  }

  const flusher = runFlusher().catch((error: unknown) => {
    // Unreachable by design (commitGroup settles every submit itself); logged in case it ever is not.
    logger.fatal({ err: error }, 'ingest:flusher:crashed');
  });

  return {
    submit,
    async close() {
      closing = true;
      limiter.release();
      wake();
      await flusher;
    },
    stats: () => ({
      queuedEvents,
      queuedBatches: queue.length,
      transactions,
      retries,
      rateLimitedMs: limiter.delayedMs,
    }),
  };
}

/** Distinct (project, engine, data[field]) with the latest occurred_at, sorted by that key (lock order). */
function sightings(events: readonly NormalisedEvent[], field: 'queue' | 'worker'): NamedSighting[] {
  const seen = new Map<string, NamedSighting>();
  for (const event of events) {
    const name = shortText(event.data[field], MAX_REF_LENGTH);
    if (name === null) continue;
    const key = `${event.projectId}\u0000${event.engine}\u0000${name}`;
    const previous = seen.get(key);
    if (!previous || previous.lastSeenMicros < event.occurredMicros) {
      seen.set(key, { projectId: event.projectId, engine: event.engine, name, lastSeenMicros: event.occurredMicros });
    }
  }
  return [...seen.values()].sort(
    (a, b) => compareText(a.projectId, b.projectId) || compareText(a.engine, b.engine) || compareText(a.name, b.name),
  );
}

function agentSightings(events: readonly NormalisedEvent[]): AgentSighting[] {
  const seen = new Map<string, number>();
  for (const event of events) {
    if (event.agentId === null) continue;
    const previous = seen.get(event.agentId);
    if (previous === undefined || previous < event.occurredMicros) seen.set(event.agentId, event.occurredMicros);
  }
  return [...seen.entries()].sort(([a], [b]) => compareText(a, b)).map(([agentId, lastSeenMicros]) => ({ agentId, lastSeenMicros }));
}
