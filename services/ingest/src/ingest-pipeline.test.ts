import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrainDatabase, type BrainDatabase } from '@z4j/db';
import type { IngestBatchResult, IngestEventBatch } from '@z4j/ingest-contract';
import { createLogger } from '@z4j/logger';
import type { JsonObject, JsonValue } from '@z4j/protocol';
import { openTestDatabase, probePostgres, testPostgresOptions, type TestDatabase } from '@z4j/testing';
import { createIngestPipeline, type IngestPipeline, type IngestPipelineOptions } from './ingest-pipeline.js';
import { formatMicros } from './occurred-at.js';
import { stateRank, stateTier, type TaskState } from './task-reduction.js';

const postgres = await probePostgres();
const silentLogger = createLogger({ level: 'silent', json: true });

interface TestProject {
  readonly projectId: string;
  readonly agentId: string;
}

async function createProject(database: BrainDatabase, slug = `p-${randomBytes(4).toString('hex')}`): Promise<TestProject> {
  const project = await database.db.insertInto('projects').values({ slug, name: slug }).returning('id').executeTakeFirstOrThrow();
  const agent = await database.db
    .insertInto('agents')
    .values({ project_id: project.id, name: `agent-${slug}`, token_hash: randomBytes(16).toString('hex') })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { projectId: project.id, agentId: agent.id };
}

function taskEvent(kind: string, taskId: string, micros: number, data: JsonObject = {}, engine = 'celery'): JsonObject {
  return { id: randomUUID(), kind, engine, task_id: taskId, occurred_at: formatMicros(micros).replace('Z', '+00:00'), data };
}

function batchOf(project: TestProject, events: JsonObject[], receivedAt = new Date()): IngestEventBatch {
  return { projectId: project.projectId, agentId: project.agentId, frameId: `ev_${randomBytes(6).toString('hex')}`, events, receivedAt };
}

async function countEvents(database: BrainDatabase, projectId: string): Promise<number> {
  const result = await sql<{ n: string }>`select count(*)::text as n from events where project_id = ${projectId}`.execute(database.db);
  return Number(result.rows[0]!.n);
}

/** Deterministic PRNG for the shuffles (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

interface Workload {
  /** Distinct events (exactly these must end up stored). */
  readonly events: JsonObject[];
  /** Frames to submit, with duplicates inside and across them, fan-out copies and whole re-sent frames. */
  readonly frames: JsonObject[][];
  readonly tasks: number;
  readonly retriesPerTask: number;
}

/**
 * `tasks` tasks, each: sent, then `retries` × (received, started, retried), then received, started and a
 * terminal event (success for even tasks, failure for odd ones); plus `workerEvents` worker.heartbeat
 * events. Every event has its own microsecond.
 */
function buildWorkload(options: { baseMicros: number; tasks: number; retries: number; workerEvents: number; seed: number }): Workload {
  const random = prng(options.seed);
  const events: JsonObject[] = [];
  let at = options.baseMicros;
  for (let t = 0; t < options.tasks; t++) {
    const taskId = `task-${t}`;
    const data = { task_name: `app.task_${t % 7}`, queue: `q${t % 3}`, worker: `celery@w${t % 4}` };
    events.push(taskEvent('task.sent', taskId, (at += 1), data));
    for (let r = 0; r < options.retries; r++) {
      events.push(taskEvent('task.received', taskId, (at += 1), { ...data, args: [t, r] }));
      events.push(taskEvent('task.started', taskId, (at += 1), data));
      events.push(taskEvent('task.retried', taskId, (at += 1), { ...data, retry_count: r + 1 }));
    }
    events.push(taskEvent('task.received', taskId, (at += 1), { ...data, args: [t, 'final'] }));
    events.push(taskEvent('task.started', taskId, (at += 1), data));
    events.push(
      t % 2 === 0
        ? taskEvent('task.succeeded', taskId, (at += 1), { ...data, result: { ok: t }, runtime_ms: 1000 + t })
        : taskEvent('task.failed', taskId, (at += 1), { ...data, exception: 'ValueError', traceback: 'Traceback ...' }),
    );
  }
  for (let w = 0; w < options.workerEvents; w++) {
    events.push({
      id: randomUUID(),
      kind: 'worker.heartbeat',
      engine: 'celery',
      task_id: '',
      occurred_at: formatMicros((at += 1)),
      data: { worker: `celery@w${w % 4}` },
    });
  }

  // Frames: shuffled events in frames of 1..40, with extra copies mixed in.
  const order = shuffle([...events], random);
  const frames: JsonObject[][] = [];
  let i = 0;
  while (i < order.length) {
    const size = 1 + Math.floor(random() * 40);
    const frame = order.slice(i, i + size);
    i += size;
    // Duplicate inside the frame.
    if (random() < 0.3) frame.push(frame[Math.floor(random() * frame.length)]!);
    // Fan-out copy of some earlier event (another agent saw it: same content, its own agent id).
    if (random() < 0.3 && i > size) {
      const original = order[Math.floor(random() * (i - size))]!;
      frame.push(original.task_id === '' ? original : { ...original, id: randomUUID() });
    }
    frames.push(shuffle(frame, random));
  }
  // Whole frames re-sent (the agent's resend storm), some twice.
  const resent = frames.filter(() => random() < 0.25).flatMap((frame) => (random() < 0.3 ? [frame, frame] : [frame]));
  return { events, frames: shuffle([...frames, ...resent], random), tasks: options.tasks, retriesPerTask: options.retries };
}

function pipelineFor(database: BrainDatabase, overrides: Partial<IngestPipelineOptions> = {}): IngestPipeline {
  return createIngestPipeline({
    database,
    redact: (event) => event,
    logger: silentLogger,
    now: () => new Date(),
    eventsPerSecondPerProject: 0,
    ...overrides,
  });
}

/** Frames dealt round-robin to `sessions` concurrent senders, each with up to `inFlight` unacked frames. */
async function submitConcurrently(
  pipeline: IngestPipeline,
  project: TestProject,
  frames: JsonObject[][],
  sessions = 5,
  inFlight = 4,
): Promise<IngestBatchResult[]> {
  const results: IngestBatchResult[] = [];
  await Promise.all(
    Array.from({ length: sessions }, async (_, session) => {
      const mine = frames.filter((_, index) => index % sessions === session);
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < mine.length) {
            const frame = mine[next++]!;
            results.push(await pipeline.submit(batchOf(project, frame)));
          }
        }),
      );
    }),
  );
  return results;
}

const sum = (results: IngestBatchResult[], key: keyof IngestBatchResult) => results.reduce((total, result) => total + result[key], 0);

interface TaskRow {
  task_id: string;
  state: string;
  retry_count: number;
  name: string;
  queue: string | null;
  worker_name: string | null;
  exception: string | null;
  traceback: string | null;
  result: JsonValue;
  runtime_ms: string | null;
  args: JsonValue;
  received_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

async function tasksOf(database: BrainDatabase, projectId: string): Promise<Map<string, TaskRow>> {
  const rows = await sql<TaskRow>`select * from tasks where project_id = ${projectId} order by task_id`.execute(database.db);
  return new Map(rows.rows.map((row) => [row.task_id, row]));
}

async function expectWorkloadProjected(database: BrainDatabase, project: TestProject, workload: Workload): Promise<void> {
  expect(await countEvents(database, project.projectId)).toBe(workload.events.length);
  const tasks = await tasksOf(database, project.projectId);
  expect(tasks.size).toBe(workload.tasks);
  for (let t = 0; t < workload.tasks; t++) {
    const row = tasks.get(`task-${t}`)!;
    const common = {
      name: `app.task_${t % 7}`,
      queue: `q${t % 3}`,
      worker_name: `celery@w${t % 4}`,
      retry_count: workload.retriesPerTask,
      args: [t, 'final'],
    };
    if (t % 2 === 0) {
      expect(row).toMatchObject({
        ...common,
        state: 'success',
        result: { ok: t },
        runtime_ms: String(1000 + t),
        exception: null,
        traceback: null,
      });
    } else {
      expect(row).toMatchObject({ ...common, state: 'failure', exception: 'ValueError', traceback: 'Traceback ...' });
    }
  }
  // Lifecycle times are the latest of each kind (microseconds apart in the workload).
  const ordered = await sql<{ n: string }>`
    select count(*)::text as n from tasks
     where project_id = ${project.projectId} and received_at < started_at and started_at < finished_at`.execute(database.db);
  expect(Number(ordered.rows[0]!.n)).toBe(workload.tasks);
  const workers = await sql<{
    name: string;
    state: string;
  }>`select name, state::text from workers where project_id = ${project.projectId} order by name`.execute(database.db);
  expect(workers.rows).toEqual([0, 1, 2, 3].map((w) => ({ name: `celery@w${w}`, state: 'online' })));
  const queues = await sql<{ name: string }>`select name from queues where project_id = ${project.projectId} order by name`.execute(
    database.db,
  );
  expect(queues.rows.map((row) => row.name)).toEqual(['q0', 'q1', 'q2']);
}

describe.each(['embedded', 'postgres'] as const)('ingest pipeline on %s', (kind) => {
  const skip = kind === 'postgres' && !postgres.available;
  let test: TestDatabase;
  let database: BrainDatabase;
  beforeAll(async () => {
    if (skip) return;
    test = await openTestDatabase(kind);
    database = test.database;
  });
  afterAll(async () => {
    if (!skip) await test.dispose();
  });

  it.skipIf(skip)('stores every distinct event exactly once under duplicates, re-sends and concurrent sessions', async () => {
    const project = await createProject(database);
    const metrics = new Registry();
    const committed: string[][] = [];
    const pipeline = pipelineFor(database, { metrics, maxBatchEvents: 500, onCommitted: ({ projectIds }) => committed.push(projectIds) });
    const workload = buildWorkload({ baseMicros: (Date.now() - 3_600_000) * 1000, tasks: 50, retries: 12, workerEvents: 100, seed: 42 });
    expect(workload.events).toHaveLength(2100);

    const results = await submitConcurrently(pipeline, project, workload.frames);
    expect(sum(results, 'accepted')).toBe(workload.events.length);
    expect(sum(results, 'rejected')).toBe(0);
    expect(sum(results, 'received')).toBe(workload.frames.reduce((total, frame) => total + frame.length, 0));
    await expectWorkloadProjected(database, project, workload);

    // Group commit: far fewer transactions than frames.
    expect(pipeline.stats().transactions).toBeLessThan(workload.frames.length / 2);
    expect(committed.flat().every((id) => id === project.projectId)).toBe(true);

    // Everything again: nothing new.
    const again = await submitConcurrently(pipeline, project, workload.frames, 3, 8);
    expect(sum(again, 'accepted')).toBe(0);
    expect(await countEvents(database, project.projectId)).toBe(workload.events.length);
    await pipeline.close();

    const ingested = await metrics.getSingleMetric('z4j_events_ingested_total')!.get();
    expect(ingested.values.reduce((total, value) => total + value.value, 0)).toBe(workload.events.length);
    const outcomes = await metrics.getSingleMetric('z4j_tasks_total')!.get();
    const byState = (state: string) =>
      outcomes.values.filter((value) => value.labels.state === state).reduce((total, value) => total + value.value, 0);
    expect([byState('success'), byState('failure')]).toEqual([25, 25]);
    const durations = await metrics.getSingleMetric('z4j_task_duration_seconds')!.get();
    const count = durations.values.find(
      (value) =>
        (value as { metricName?: string }).metricName === 'z4j_task_duration_seconds_count' && value.labels.task_name === 'app.task_0',
    );
    expect(count?.value).toBeGreaterThan(0);
    const agent = await database.db.selectFrom('agents').select('last_seen_at').where('id', '=', project.agentId).executeTakeFirstOrThrow();
    expect(agent.last_seen_at).not.toBeNull();
  });

  it.skipIf(skip)('terminal states win even when they arrive first; an older event does not revert a newer one', async () => {
    const project = await createProject(database);
    const pipeline = pipelineFor(database);
    const t0 = (Date.now() - 60_000) * 1000;
    const send = async (...events: JsonObject[]) => pipeline.submit(batchOf(project, events));
    await send(taskEvent('task.succeeded', 'A', t0 + 10, { result: 1 }));
    await send(taskEvent('task.started', 'A', t0 + 5, { worker: 'w1' }));
    await send(taskEvent('task.succeeded', 'B', t0 + 10));
    await send(taskEvent('task.started', 'B', t0 + 20)); // newer, but a lower tier
    await send(taskEvent('task.retried', 'C', t0 + 1, { retry_count: 1 }));
    await send(taskEvent('task.succeeded', 'C', t0 + 2));
    await send(taskEvent('task.failed', 'D', t0 + 5, { exception: 'KeyError', traceback: 'tb' }));
    await send(taskEvent('task.succeeded', 'D', t0 + 6, { result: 'ok' }));
    await send(taskEvent('task.started', 'E', t0 + 7));
    await send(taskEvent('task.received', 'E', t0 + 6)); // older, same tier
    await send(taskEvent('task.sent', 'E', t0 + 8)); // no state
    await send(taskEvent('task.retried', 'F', t0 + 3));
    await send(taskEvent('task.retried', 'F', t0 + 4));
    // A late, older failure after the success: the task stays successful and clean.
    await send(taskEvent('task.succeeded', 'G', t0 + 10, { result: 'fine', runtime_ms: 7 }));
    await send(taskEvent('task.failed', 'G', t0 + 5, { exception: 'OldError', traceback: 'old tb' }));
    // A late, older success after the failure: the failure stays, without the stale result.
    await send(taskEvent('task.failed', 'H', t0 + 10, { exception: 'NewError', traceback: 'tb' }));
    await send(taskEvent('task.succeeded', 'H', t0 + 5, { result: 'stale', runtime_ms: 3 }));
    await pipeline.close();
    const tasks = await tasksOf(database, project.projectId);
    expect(tasks.get('A')).toMatchObject({ state: 'success', worker_name: 'w1', result: 1 });
    expect(tasks.get('A')!.started_at).not.toBeNull();
    expect(tasks.get('B')!.state).toBe('success');
    expect(tasks.get('C')).toMatchObject({ state: 'success', retry_count: 1 });
    expect(tasks.get('D')).toMatchObject({ state: 'success', exception: null, traceback: null, result: 'ok' });
    expect(tasks.get('E')!.state).toBe('started');
    expect(tasks.get('F')).toMatchObject({ state: 'retry', retry_count: 2 });
    expect(tasks.get('G')).toMatchObject({ state: 'success', exception: null, traceback: null, result: 'fine', runtime_ms: '7' }); // int8 reads as a string
    expect(tasks.get('H')).toMatchObject({ state: 'failure', exception: 'NewError', result: null, runtime_ms: null });
  });

  it.skipIf(skip)('keeps two retries of one task in the same second (different microseconds) as two rows', async () => {
    const project = await createProject(database);
    const pipeline = pipelineFor(database);
    const second = Math.floor(Date.now() / 1000 - 60) * 1_000_000;
    const first = await pipeline.submit(batchOf(project, [taskEvent('task.retried', 'R', second + 1, { retry_count: 1 })]));
    const secondRetry = await pipeline.submit(batchOf(project, [taskEvent('task.retried', 'R', second + 2, { retry_count: 2 })]));
    expect([first.accepted, secondRetry.accepted]).toEqual([1, 1]);
    expect(await countEvents(database, project.projectId)).toBe(2);
    expect((await tasksOf(database, project.projectId)).get('R')).toMatchObject({ state: 'retry', retry_count: 2 });
    await pipeline.close();
  });

  it.skipIf(skip)('a frame re-submitted after its commit is accepted 0 and changes nothing', async () => {
    const project = await createProject(database);
    const pipeline = pipelineFor(database);
    const t0 = (Date.now() - 60_000) * 1000;
    const frame = batchOf(project, [
      taskEvent('task.received', 'X', t0 + 1, { task_name: 'app.x' }),
      taskEvent('task.started', 'X', t0 + 2),
      { id: randomUUID(), kind: 'worker.online', engine: 'celery', occurred_at: formatMicros(t0 + 3), data: {} },
      // No id at all: deduped by content.
      { kind: 'queue.depth_report', engine: 'celery', task_id: '', occurred_at: formatMicros(t0 + 4), data: { depth: 3 } },
    ]);
    expect(await pipeline.submit(frame)).toEqual({ received: 4, accepted: 4, rejected: 0 });
    const before = await tasksOf(database, project.projectId);
    expect(await pipeline.submit(frame)).toEqual({ received: 4, accepted: 0, rejected: 0 });
    expect(await pipeline.submit({ ...frame, frameId: 'ev_other', receivedAt: new Date() })).toEqual({
      received: 4,
      accepted: 0,
      rejected: 0,
    });
    expect(await countEvents(database, project.projectId)).toBe(4);
    expect(await tasksOf(database, project.projectId)).toEqual(before);
    await pipeline.close();
  });

  it.skipIf(skip)('a group mixing stored and new events projects only the new ones, written in a second, careful pass', async () => {
    const project = await createProject(database);
    const metrics = new Registry();
    const pipeline = pipelineFor(database, { metrics });
    const t0 = (Date.now() - 60_000) * 1000;
    const received = taskEvent('task.received', 'M', t0 + 1, { task_name: 'app.m', args: [1] });
    const retried = taskEvent('task.retried', 'M', t0 + 2); // no count: each projection adds one
    expect(await pipeline.submit(batchOf(project, [received, retried]))).toMatchObject({ accepted: 2 });
    // Re-sent with two new events: if the stored retry were projected again, the retry count would not hold.
    const mixed = [retried, taskEvent('task.retried', 'M', t0 + 3), taskEvent('task.started', 'M', t0 + 4, { worker: 'w2' }), received];
    expect(await pipeline.submit(batchOf(project, mixed))).toEqual({ received: 4, accepted: 2, rejected: 0 });
    await pipeline.close();
    expect(await countEvents(database, project.projectId)).toBe(4);
    expect((await tasksOf(database, project.projectId)).get('M')).toMatchObject({ state: 'started', retry_count: 2, worker_name: 'w2' });
    const replayed = await metrics.getSingleMetric('z4j_ingest_replayed_groups_total')!.get();
    expect(replayed.values[0]!.value).toBe(1);
  });

  it.skipIf(skip)("the database's task state rule is task-reduction's", async () => {
    const rows = await sql<{ state: TaskState; tier: number; rank: number }>`
      select s as state, z4j_task_state_tier(s) as tier, z4j_task_state_rank(s) as rank
        from unnest(enum_range(null::task_state)::text[]) as s`.execute(database.db);
    expect(rows.rows.length).toBeGreaterThan(5);
    for (const row of rows.rows) expect([row.state, row.tier, row.rank]).toEqual([row.state, stateTier(row.state), stateRank(row.state)]);
  });

  it.skipIf(skip)(
    'stores the sent occurred_at even outside the window (events_default), so a re-send is still one row; projections use the clamped time',
    async () => {
      const project = await createProject(database);
      const pipeline = pipelineFor(database);
      const receivedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
      const twentyDaysAgo = receivedAt.getTime() * 1000 - 20 * 86_400_000_000 + 7;
      const result = await pipeline.submit(
        batchOf(
          project,
          [
            taskEvent('task.started', 'past', Date.UTC(2020, 0, 1) * 1000),
            taskEvent('task.started', 'future', Date.UTC(2040, 0, 1) * 1000),
            taskEvent('task.started', 'old', twentyDaysAgo, { big: 12345678901234567890n, f: 1.5 }),
          ],
          receivedAt,
        ),
      );
      expect(result).toEqual({ received: 3, accepted: 3, rejected: 0 });
      const rows = await sql<{ task_id: string; us: string; part: string; big: string }>`
      select task_id, (extract(epoch from occurred_at) * 1000000)::int8::text as us, tableoid::regclass::text as part,
             payload->'data'->>'big' as big
        from events where project_id = ${project.projectId} order by task_id`.execute(database.db);
      const byTask = new Map(rows.rows.map((row) => [row.task_id, row]));
      expect(byTask.get('past')).toMatchObject({ us: String(Date.UTC(2020, 0, 1) * 1000), part: 'events_default' });
      expect(byTask.get('future')).toMatchObject({ us: String(Date.UTC(2040, 0, 1) * 1000), part: 'events_default' });
      expect(byTask.get('old')).toMatchObject({ us: String(twentyDaysAgo), part: 'events_default', big: '12345678901234567890' });
      // The task projection uses the clamped time: no task "started in 2040".
      const started = await sql<{ task_id: string; started_at: Date }>`
      select task_id, started_at from tasks where project_id = ${project.projectId} and task_id in ('past', 'future')`.execute(database.db);
      for (const row of started.rows) expect(row.started_at.getTime()).toBe(receivedAt.getTime());
      // Re-sent later (a new receive time, so a new clamp): still one row each.
      const later = new Date(receivedAt.getTime() + 5_000);
      const again = await pipeline.submit(
        batchOf(
          project,
          [
            taskEvent('task.started', 'past', Date.UTC(2020, 0, 1) * 1000),
            taskEvent('task.started', 'future', Date.UTC(2040, 0, 1) * 1000),
          ],
          later,
        ),
      );
      expect(again).toEqual({ received: 2, accepted: 0, rejected: 0 });
      const count = await sql<{ n: string }>`select count(*)::text as n from events where project_id = ${project.projectId}`.execute(
        database.db,
      );
      expect(count.rows[0]?.n).toBe('3');
      await pipeline.close();
    },
  );

  it.skipIf(skip)('counts invalid events as rejected and stores the others of the batch', async () => {
    const project = await createProject(database);
    const pipeline = pipelineFor(database);
    const t0 = (Date.now() - 60_000) * 1000;
    const good = taskEvent('task.started', 'G', t0);
    const result = await pipeline.submit(
      batchOf(project, [
        good,
        { ...good, id: randomUUID(), engine: undefined as unknown as string },
        { ...taskEvent('task.started', 'H', t0), kind: '' },
        { ...taskEvent('task.started', 'I', t0), occurred_at: 'not a time' },
        taskEvent('task.succeeded', 'G', t0 + 1),
        'not an event' as unknown as JsonObject,
      ]),
    );
    expect(result).toEqual({ received: 6, accepted: 2, rejected: 4 });
    expect(await countEvents(database, project.projectId)).toBe(2);
    await pipeline.close();
  });

  it.skipIf(skip)('runs the redactor on the whole raw event before anything is stored', async () => {
    const project = await createProject(database);
    const seen: JsonValue[] = [];
    const redact = (value: JsonValue): JsonValue => {
      if (seen.length < 10) seen.push(value);
      const walk = (node: JsonValue): JsonValue => {
        if (typeof node === 'string') return node.startsWith('sk_live_') ? '[REDACTED]' : node;
        if (Array.isArray(node)) return node.map(walk);
        if (node && typeof node === 'object' && !(typeof node === 'bigint')) {
          return Object.fromEntries(
            Object.entries(node).map(([key, item]) => [key, key === 'password' ? '[REDACTED]' : walk(item as JsonValue)]),
          );
        }
        return node;
      };
      return walk(value);
    };
    const pipeline = pipelineFor(database, { redact });
    const raw = {
      ...taskEvent('task.received', 'S', (Date.now() - 1000) * 1000, { kwargs: { user: 'a', password: 'hunter2' }, args: ['sk_live_123'] }),
      extra: 'sk_live_top',
    };
    await pipeline.submit(batchOf(project, [raw]));
    await pipeline.close();
    expect(seen[0]).toEqual(raw);
    const stored = await sql<{
      payload: string;
    }>`select payload::text as payload from events where project_id = ${project.projectId}`.execute(database.db);
    expect(stored.rows[0]!.payload).not.toMatch(/hunter2|sk_live_/);
    expect(stored.rows[0]!.payload).toContain('[REDACTED]');
    expect((await tasksOf(database, project.projectId)).get('S')).toMatchObject({ args: ['[REDACTED]'] });
    const kwargs = await sql<{ kwargs: JsonValue }>`select kwargs from tasks where project_id = ${project.projectId}`.execute(database.db);
    expect(kwargs.rows[0]!.kwargs).toEqual({ user: 'a', password: '[REDACTED]' });
  });

  it.skipIf(skip)('projects schedule.created/updated/deleted and reconciles schedule.snapshot 3-way', async () => {
    const project = await createProject(database);
    const pipeline = pipelineFor(database);
    let at = (Date.now() - 60_000) * 1000;
    const scheduleEvent = (kind: string, data: JsonObject, engine = 'celery-beat'): JsonObject => ({
      id: randomUUID(),
      kind,
      engine,
      task_id: '',
      occurred_at: formatMicros((at += 1000)),
      data,
    });
    const schedule = (name: string, extra: JsonObject = {}): JsonObject => ({
      name,
      task_name: `app.${name}`,
      kind: 'cron',
      expression: '0 * * * *',
      ...extra,
    });
    const list = async () =>
      (
        await sql<{
          name: string;
          scheduler: string;
          engine: string;
          expression: string;
          is_enabled: boolean;
          updated_at: Date;
          args: JsonValue;
        }>`
          select name, scheduler, engine, expression, is_enabled, updated_at, args from schedules where project_id = ${project.projectId} order by scheduler, name`.execute(
          database.db,
        )
      ).rows;

    await pipeline.submit(
      batchOf(project, [
        scheduleEvent('schedule.created', { schedule: schedule('a') }),
        scheduleEvent('schedule.created', { schedule: schedule('b') }),
        scheduleEvent('schedule.created', { schedule: schedule('c') }),
        scheduleEvent('schedule.created', { schedule: schedule('e') }),
        scheduleEvent('schedule.created', { schedule: schedule('x') }, 'rq-scheduler'),
        scheduleEvent('schedule.created', { schedule: { name: 'broken', kind: 'cron' } }),
      ]),
    );
    await pipeline.submit(
      batchOf(project, [scheduleEvent('schedule.updated', { schedule: schedule('a', { expression: '*/5 * * * *', args: [1] }) })]),
    );
    await pipeline.submit(batchOf(project, [scheduleEvent('schedule.deleted', { schedule: { name: 'c' } })]));
    expect((await list()).map((row) => [row.scheduler, row.name, row.engine, row.expression])).toEqual([
      ['celery-beat', 'a', 'celery-beat', '*/5 * * * *'],
      ['celery-beat', 'b', 'celery-beat', '0 * * * *'],
      ['celery-beat', 'e', 'celery-beat', '0 * * * *'],
      ['rq-scheduler', 'x', 'rq-scheduler', '0 * * * *'],
    ]);

    const snapshot = () =>
      scheduleEvent('schedule.snapshot', {
        scheduler: 'celery-beat',
        reason: 'periodic',
        schedules: [schedule('a', { expression: '*/5 * * * *', args: [1], enabled: false }), schedule('d'), { name: 'b', kind: 'weekly' }],
      });
    await pipeline.submit(batchOf(project, [snapshot()]));
    const afterSnapshot = await list();
    // a updated (disabled), d inserted, b kept (listed but malformed), e deleted (missing), rq-scheduler untouched.
    expect(afterSnapshot.map((row) => [row.scheduler, row.name, row.is_enabled])).toEqual([
      ['celery-beat', 'a', false],
      ['celery-beat', 'b', true],
      ['celery-beat', 'd', true],
      ['rq-scheduler', 'x', true],
    ]);
    expect(afterSnapshot[0]!.args).toEqual([1]);

    // The same inventory again (a new periodic snapshot) touches nothing.
    await pipeline.submit(batchOf(project, [snapshot()]));
    expect(await list()).toEqual(afterSnapshot);
    await pipeline.close();
  });

  it.skipIf(skip)('delays a project over its rate instead of dropping its events', async () => {
    const project = await createProject(database);
    let clock = Date.now();
    const waits: number[] = [];
    const pipeline = pipelineFor(database, {
      eventsPerSecondPerProject: 20,
      now: () => new Date(clock),
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    });
    const t0 = (Date.now() - 60_000) * 1000;
    const frames = Array.from({ length: 10 }, (_, f) =>
      Array.from({ length: 10 }, (_, e) => taskEvent('task.started', `rl-${f}-${e}`, t0 + f * 10 + e)),
    );
    const results = await Promise.all(frames.map((frame) => pipeline.submit(batchOf(project, frame))));
    expect(sum(results, 'accepted')).toBe(100);
    expect(sum(results, 'rejected')).toBe(0);
    // 20 pass at once (one second of burst); the other 80 are held back 4 s of (fake) time in total.
    expect(waits.reduce((total, ms) => total + ms, 0)).toBe(4000);
    expect(pipeline.stats().rateLimitedMs).toBe(4000);
    expect(await countEvents(database, project.projectId)).toBe(100);
    await pipeline.close();
  });

  it.skipIf(skip)('bounds its queue: while the database is stuck, submit waits for space instead of queueing more', async () => {
    const project = await createProject(database);
    const pipeline = pipelineFor(database, { maxBatchEvents: 10, maxQueuedEvents: 20, maxBatchDelayMs: 0 });
    let locked!: () => void;
    let release!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const blocker = database.db.transaction().execute(async (trx) => {
      await sql`lock table events in access exclusive mode`.execute(trx);
      locked();
      await released;
    });
    await isLocked;
    const t0 = (Date.now() - 60_000) * 1000;
    let settled = 0;
    const submits = Array.from({ length: 10 }, (_, f) =>
      pipeline
        .submit(
          batchOf(
            project,
            Array.from({ length: 10 }, (_, e) => taskEvent('task.started', `bp-${f}-${e}`, t0 + f * 10 + e)),
          ),
        )
        .finally(() => (settled += 1)),
    );
    // The queue fills up to its bound and stays there; the other submits wait (nothing is dropped or acked).
    for (let spins = 0; pipeline.stats().queuedEvents < 20 && spins < 1000; spins++) await new Promise((resolve) => setImmediate(resolve));
    expect(pipeline.stats().queuedEvents).toBe(20);
    expect(settled).toBe(0);
    release();
    await blocker;
    const results = await Promise.all(submits);
    expect(sum(results, 'accepted')).toBe(100);
    expect(pipeline.stats().queuedEvents).toBe(0);
    await pipeline.close();
  });

  it.skipIf(skip)('drops a parent/root id that belongs only to another project when the cross-project check is on', async () => {
    const mine = await createProject(database);
    const other = await createProject(database);
    const t0 = (Date.now() - 60_000) * 1000;
    const plain = pipelineFor(database);
    await plain.submit(batchOf(other, [taskEvent('task.received', 'theirs', t0)]));
    await plain.submit(batchOf(mine, [taskEvent('task.received', 'both', t0)]));
    await plain.submit(batchOf(other, [taskEvent('task.received', 'both', t0)]));
    await plain.close();
    const checked = pipelineFor(database, { crossProjectRefCheck: true });
    await checked.submit(
      batchOf(mine, [
        taskEvent('task.received', 'child-1', t0 + 1, { parent_task_id: 'theirs', root_task_id: 'not-seen-yet' }),
        taskEvent('task.received', 'child-2', t0 + 1, { parent_task_id: 'both', root_task_id: 'child-2' }),
      ]),
    );
    await checked.close();
    const refs = await sql<{ task_id: string; parent_task_id: string | null; root_task_id: string | null }>`
      select task_id, parent_task_id, root_task_id from tasks where project_id = ${mine.projectId} and task_id like 'child-%' order by task_id`.execute(
      database.db,
    );
    expect(refs.rows).toEqual([
      { task_id: 'child-1', parent_task_id: null, root_task_id: 'not-seen-yet' },
      { task_id: 'child-2', parent_task_id: 'both', root_task_id: null },
    ]);
  });

  it.skipIf(skip)('a batch of a deleted project does not fail the batches it shares a transaction with', async () => {
    const project = await createProject(database);
    const ghost: TestProject = { projectId: randomUUID(), agentId: randomUUID() };
    const pipeline = pipelineFor(database, { maxBatchDelayMs: 50 });
    const t0 = (Date.now() - 60_000) * 1000;
    const [mine, theirs] = await Promise.all([
      pipeline.submit(batchOf(project, [taskEvent('task.started', 'ok', t0, { queue: 'q', worker: 'w' })])),
      pipeline.submit(batchOf(ghost, [taskEvent('task.started', 'ghost', t0, { queue: 'q', worker: 'w' })])),
    ]);
    expect([mine.accepted, theirs.accepted]).toEqual([1, 1]);
    expect((await tasksOf(database, project.projectId)).get('ok')!.state).toBe('started');
    expect((await tasksOf(database, ghost.projectId)).size).toBe(0);
    await pipeline.close();
    await expect(pipeline.submit(batchOf(project, []))).rejects.toThrow(/closed/);
  });
});

describe('two ingest replicas over one real Postgres', () => {
  it.skipIf(!postgres.available)(
    'ingest overlapping duplicate streams concurrently: no duplicates, no deadlock errors, correct counts',
    async () => {
      const test = await openTestDatabase('postgres');
      const second = await openBrainDatabase(testPostgresOptions(test.url!));
      try {
        const project = await createProject(test.database);
        const workload = buildWorkload({ baseMicros: (Date.now() - 3_600_000) * 1000, tasks: 50, retries: 12, workerEvents: 100, seed: 7 });
        // Both replicas get the whole stream (every event at least twice overall), in different orders.
        const random = prng(99);
        const replicaA = pipelineFor(test.database, { maxBatchEvents: 300 });
        const replicaB = pipelineFor(second, { maxBatchEvents: 300 });
        const [a, b] = await Promise.all([
          submitConcurrently(replicaA, project, shuffle([...workload.frames], random), 4, 4),
          submitConcurrently(replicaB, project, shuffle([...workload.frames], random), 4, 4),
        ]);
        expect(sum(a, 'accepted') + sum(b, 'accepted')).toBe(workload.events.length);
        expect(sum(a, 'rejected') + sum(b, 'rejected')).toBe(0);
        await expectWorkloadProjected(test.database, project, workload);
        await replicaA.close();
        await replicaB.close();
      } finally {
        await second.close();
        await test.dispose();
      }
    },
  );
});
