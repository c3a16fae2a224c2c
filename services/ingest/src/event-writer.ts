import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '@z4j/db';
import type { NormalisedEvent } from './normalise-event.js';
import { formatMicros } from './occurred-at.js';
import type { TaskDelta } from './task-reduction.js';

/**
 * The ingest hot path. Every write is ONE set-based statement per table per
 * group commit, whatever the number of events, agents or projects in it; the
 * statements themselves are server-side functions created by
 * sql/migrations/0014_create_ingest_functions.sql (read its header), so the
 * whole group can also go in a single round trip (z4j_ingest_group). Here they
 * are called with raw SQL over arrays instead of the Kysely query builder
 * because the builder would bind one parameter per value (thousands per
 * statement, past the 65535 limit at a full batch, and a fresh statement text
 * for every batch size), while here each column is one array parameter and
 * the statement text never changes. The same SQL runs on Postgres and on the
 * embedded PGlite. There is no COPY path: COPY cannot skip rows already stored
 * (ON CONFLICT), and it does not exist on PGlite.
 *
 * Lock order. Every function is fed rows sorted by the target's unique key,
 * and they run in the same table order in every transaction (events, tasks,
 * queues, workers, agents; schedules in the careful path), so two ingest
 * replicas writing overlapping rows wait for each other instead of
 * deadlocking. What is left (for example a planner choosing another join
 * order) is retried on 40P01 by the pipeline.
 *
 * Rows that belong to a project that no longer exists are filtered out by the
 * functions (events and tasks have no foreign key: tasks lock their projects
 * once per group, see migration 0015; queues and workers do), so one deleted
 * project cannot fail a group commit that carries other projects' events.
 */

type Db = Kysely<Database>;

/**
 * A Postgres array literal for values that never need quoting (uuids, our own
 * ISO timestamps): cheaper than the driver's generic array encoding, which
 * quotes and escapes every element. null → NULL.
 */
function bareArray(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += values[i] ?? 'NULL';
  }
  return `${out}}`;
}

/** `${id}:${occurred µs}`: identifies an events row inside one project (the id is namespaced by project). */
export function eventKey(id: string, micros: number): string {
  return `${id}:${micros}`;
}

/**
 * The parameters of z4j_ingest_events: one array per column, payloads as ONE
 * jsonb array (zipped back by position), for events already unique by key and
 * sorted by primary key.
 */
function eventParams(events: readonly NormalisedEvent[]): RawBuilder<unknown> {
  const n = events.length;
  const projectIds = new Array<string>(n);
  const occurredAts = new Array<string>(n);
  const ids = new Array<string>(n);
  const agentIds = new Array<string | null>(n);
  const engines = new Array<string>(n);
  const taskIds = new Array<string>(n);
  const kinds = new Array<string>(n);
  const payloads = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const event = events[i]!;
    projectIds[i] = event.projectId;
    // Formatted here, not kept on the event: a string per event alive until its group commits is copied by every young-generation GC meanwhile.
    occurredAts[i] = formatMicros(event.storedMicros);
    ids[i] = event.id;
    agentIds[i] = event.agentId;
    engines[i] = event.engine;
    taskIds[i] = event.taskId;
    kinds[i] = event.kind;
    payloads[i] = event.payload;
  }
  return sql`${bareArray(projectIds)}::uuid[], ${bareArray(occurredAts)}::timestamptz[], ${bareArray(ids)}::uuid[],
    ${bareArray(agentIds)}::uuid[], ${engines}::text[], ${taskIds}::text[], ${kinds}::text[], ${`[${payloads.join(',')}]`}::jsonb`;
}

/**
 * Inserts the events (already unique by key and sorted by primary key) and
 * returns the keys of the rows that were really new: a re-sent or fanned-out
 * event conflicts on (project_id, occurred_at, id) and is skipped. A day with no
 * partition lands in events_default.
 */
export async function batchInsertEvents(db: Db, events: readonly NormalisedEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const result = await sql<{ event_id: string; occurred_us: string }>`
    select event_id, occurred_us from z4j_ingest_events(${eventParams(events)})`.execute(db);
  const inserted = new Set<string>();
  for (const row of result.rows) inserted.add(eventKey(row.event_id, Number(row.occurred_us)));
  return inserted;
}

/**
 * Parent/root task ids that must be dropped because that task already exists
 * in another project and not in this one (§2.3: a compromised agent must not
 * link its tasks into another tenant's tree). One query for all references of
 * the transaction, and only when there are any.
 *
 * Off by default (IngestPipelineOptions.crossProjectRefCheck): `tasks` has no
 * index on (engine, task_id) without project_id, so each reference is a
 * trigram-index equality probe, measured at ~5 ms per reference on 200k tasks,
 * and a Celery canvas puts a parent/root on nearly every task. Reads are
 * project-scoped, so an unchecked reference cannot leak another tenant's
 * rows; with a btree index on tasks (engine, task_id) this becomes a cheap
 * probe and can be turned on.
 */
export async function findForeignCanvasRefs(db: Db, deltas: readonly TaskDelta[]): Promise<Set<string>> {
  const engines: string[] = [];
  const refs: string[] = [];
  for (const delta of deltas) {
    for (const ref of [delta.parentTaskId, delta.rootTaskId]) {
      if (ref !== null) {
        engines.push(delta.engine);
        refs.push(ref);
      }
    }
  }
  const foreign = new Set<string>();
  if (refs.length === 0) return foreign;
  const result = await sql<{ project_id: string; engine: string; task_id: string }>`
    select distinct o.project_id, o.engine, o.task_id
      from (select distinct engine, task_id from unnest(${engines}::text[], ${refs}::text[]) as r(engine, task_id)) r
      join tasks o on o.engine = r.engine and o.task_id = r.task_id`.execute(db);
  const owners = new Map<string, Set<string>>();
  for (const row of result.rows) {
    const key = `${row.engine}\u0000${row.task_id}`;
    let set = owners.get(key);
    if (!set) owners.set(key, (set = new Set()));
    set.add(row.project_id);
  }
  for (const delta of deltas) {
    for (const ref of [delta.parentTaskId, delta.rootTaskId]) {
      if (ref === null) continue;
      const projects = owners.get(`${delta.engine}\u0000${ref}`);
      if (projects && !projects.has(delta.projectId)) foreign.add(`${delta.projectId}\u0000${delta.engine}\u0000${ref}`);
    }
  }
  return foreign;
}

/**
 * The parameters of z4j_ingest_tasks, in its order: one array per column, and
 * the JSON values as one jsonb array of [args, kwargs, result, tags] per delta
 * (null where the delta says nothing). Parent/root references in `foreignRefs`
 * are dropped.
 */
function taskParams(deltas: readonly TaskDelta[], foreignRefs: ReadonlySet<string>): RawBuilder<unknown> {
  const n = deltas.length;
  const projectIds = new Array<string>(n);
  const engines = new Array<string>(n);
  const taskIds = new Array<string>(n);
  const names = new Array<string | null>(n);
  const queues = new Array<string | null>(n);
  const states = new Array<string | null>(n);
  const stateAts = new Array<string | null>(n);
  const priorities = new Array<string | null>(n);
  const exceptions = new Array<string | null>(n);
  const tracebacks = new Array<string | null>(n);
  const retryCounts = new Array<number | null>(n);
  const retriesUncounted = new Array<number>(n);
  const etas = new Array<string | null>(n);
  const receivedAts = new Array<string | null>(n);
  const startedAts = new Array<string | null>(n);
  const finishedAts = new Array<string | null>(n);
  const runtimes = new Array<string | null>(n);
  const workerNames = new Array<string | null>(n);
  const parents = new Array<string | null>(n);
  const roots = new Array<string | null>(n);
  const argsAts = new Array<string | null>(n);
  const kwargsAts = new Array<string | null>(n);
  const workerAts = new Array<string | null>(n);
  const values = new Array<string>(n);
  const ref = (delta: TaskDelta, value: string | null) =>
    value !== null && foreignRefs.size > 0 && foreignRefs.has(`${delta.projectId}\u0000${delta.engine}\u0000${value}`) ? null : value;
  for (let i = 0; i < n; i++) {
    const delta = deltas[i]!;
    projectIds[i] = delta.projectId;
    engines[i] = delta.engine;
    taskIds[i] = delta.taskId;
    names[i] = delta.name;
    queues[i] = delta.queue;
    states[i] = delta.state;
    stateAts[i] = micros(delta.stateMicros);
    priorities[i] = delta.priority;
    exceptions[i] = delta.exception;
    tracebacks[i] = delta.traceback;
    retryCounts[i] = delta.retryCount;
    retriesUncounted[i] = delta.retriesUncounted;
    etas[i] = micros(delta.etaMicros);
    receivedAts[i] = micros(delta.receivedMicros);
    startedAts[i] = micros(delta.startedMicros);
    finishedAts[i] = micros(delta.finishedMicros);
    runtimes[i] = delta.runtimeMs === null ? null : String(delta.runtimeMs);
    workerNames[i] = delta.workerName;
    parents[i] = ref(delta, delta.parentTaskId);
    roots[i] = ref(delta, delta.rootTaskId);
    argsAts[i] = micros(delta.argsMicros);
    kwargsAts[i] = micros(delta.kwargsMicros);
    workerAts[i] = micros(delta.workerMicros);
    // args, kwargs and result are JSON text already (never JSON null: the reduction keeps absent as null).
    values[i] =
      `[${delta.args ?? 'null'},${delta.kwargs ?? 'null'},${delta.result ?? 'null'},${delta.tags === null ? 'null' : JSON.stringify(delta.tags)}]`;
  }
  return sql`${bareArray(projectIds)}::uuid[], ${engines}::text[], ${taskIds}::text[], ${names}::text[], ${queues}::text[],
    ${states}::text[], ${bareArray(stateAts)}::timestamptz[], ${priorities}::text[], ${exceptions}::text[],
    ${tracebacks}::text[], ${retryCounts}::int4[], ${retriesUncounted}::int4[], ${bareArray(etas)}::timestamptz[],
    ${bareArray(receivedAts)}::timestamptz[], ${bareArray(startedAts)}::timestamptz[], ${bareArray(finishedAts)}::timestamptz[],
    ${runtimes}::int8[], ${workerNames}::text[], ${parents}::text[], ${roots}::text[], ${bareArray(argsAts)}::timestamptz[],
    ${bareArray(kwargsAts)}::timestamptz[], ${bareArray(workerAts)}::timestamptz[], ${`[${values.join(',')}]`}::jsonb`;
}

function micros(value: number | null): string | null {
  return value === null ? null : formatMicros(value);
}

/**
 * Projects the deltas (sorted, one per task) onto `tasks`: new tasks are
 * inserted, existing ones locked in key order and merged by the state rule
 * (z4j_ingest_tasks, whose comment has the rule).
 */
export async function batchUpsertTasks(db: Db, deltas: readonly TaskDelta[], foreignRefs: ReadonlySet<string>, now: Date): Promise<void> {
  if (deltas.length === 0) return;
  await sql`select z4j_ingest_tasks(${taskParams(deltas, foreignRefs)}, ${now})`.execute(db);
}

export interface NamedSighting {
  readonly projectId: string;
  readonly engine: string;
  readonly name: string;
  /** Latest occurred_at, µs. */
  readonly lastSeenMicros: number;
}

export interface AgentSighting {
  readonly agentId: string;
  /** Latest occurred_at, µs. */
  readonly lastSeenMicros: number;
}

function sightingParams(rows: readonly NamedSighting[]): RawBuilder<unknown> {
  return sql`${bareArray(rows.map((row) => row.projectId))}::uuid[], ${rows.map((row) => row.engine)}::text[],
    ${rows.map((row) => row.name)}::text[], ${bareArray(rows.map((row) => formatMicros(row.lastSeenMicros)))}::timestamptz[]`;
}

function agentParams(agents: readonly AgentSighting[]): RawBuilder<unknown> {
  return sql`${bareArray(agents.map((agent) => agent.agentId))}::uuid[],
    ${bareArray(agents.map((agent) => formatMicros(agent.lastSeenMicros)))}::timestamptz[]`;
}

/** Touches `queues` (last_seen_at) for each (project, engine, queue); rows sorted by that key. */
export async function batchTouchQueues(db: Db, queues: readonly NamedSighting[], now: Date): Promise<void> {
  if (queues.length === 0) return;
  await sql`select z4j_ingest_queues(${sightingParams(queues)}, ${now})`.execute(db);
}

/** Upserts `workers` seen in events: state online, last_heartbeat = the latest occurred_at (§2.4). */
export async function batchUpsertWorkers(db: Db, workers: readonly NamedSighting[], now: Date): Promise<void> {
  if (workers.length === 0) return;
  await sql`select z4j_ingest_workers(${sightingParams(workers)}, ${now})`.execute(db);
}

/** Any event batch is a heartbeat (§1.10): last_seen_at only moves forward. Sorted by agent id. */
export async function batchTouchAgents(db: Db, agents: readonly AgentSighting[]): Promise<void> {
  if (agents.length === 0) return;
  await sql`select z4j_ingest_agents(${agentParams(agents)})`.execute(db);
}

/** What one group writes; every list sorted by its target's key (the lock order). */
export interface GroupWrite {
  /** Unique by key. */
  readonly events: readonly NormalisedEvent[];
  readonly deltas: readonly TaskDelta[];
  readonly foreignRefs: ReadonlySet<string>;
  readonly queues: readonly NamedSighting[];
  readonly workers: readonly NamedSighting[];
  readonly agents: readonly AgentSighting[];
  readonly now: Date;
}

/** SQLSTATE of z4j_ingest_group when some event of the group was already stored (nothing was written). */
export const GROUP_HAS_STORED_EVENTS = 'Z4J01';

/**
 * The whole group in ONE statement that commits by itself, on the premise
 * that every event is new (the deltas were reduced from all of them). Throws
 * an error with SQLSTATE {@link GROUP_HAS_STORED_EVENTS}, having written
 * nothing, when that premise is false (the events' primary key refuses a
 * stored one, migration 0016): the caller then writes the group the careful
 * way (batchInsertEvents first, deltas from the new rows only).
 */
export async function writeGroupAtOnce(db: Db, group: GroupWrite): Promise<void> {
  await sql`select z4j_ingest_group(${eventParams(group.events)}, ${taskParams(group.deltas, group.foreignRefs)},
    ${sightingParams(group.queues)}, ${sightingParams(group.workers)}, ${agentParams(group.agents)}, ${group.now})`.execute(db);
}
