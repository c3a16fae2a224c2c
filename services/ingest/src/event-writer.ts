import { sql, type Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import type { NormalisedEvent } from './normalise-event.js';
import { formatMicros } from './occurred-at.js';
import { STATE_RANK, TERMINAL_STATES, type TaskDelta } from './task-reduction.js';

/**
 * The ingest hot path: every statement here is ONE set-based statement per
 * table per group commit, whatever the number of events, agents or projects
 * in it. They are written as SQL over `unnest($n::type[])` arrays instead of
 * the Kysely query builder because the builder would bind one parameter per
 * value (thousands per statement, past the 65535 limit at a full batch, and a
 * fresh statement text for every batch size), while here each column is one
 * array parameter and the statement text never changes. The same SQL runs on
 * Postgres and on the embedded PGlite. There is no COPY path: on Postgres 15
 * (100k events, 5000 per transaction) the events insert below ran as fast as
 * COPY into a temp table + INSERT … SELECT … ON CONFLICT, both close to a raw
 * COPY into `events`, and COPY does not exist on PGlite.
 *
 * Lock order. Every statement feeds its rows sorted by the target's unique
 * key, and the statements run in the same table order in every transaction
 * (events, tasks, queues, workers, schedules, agents), so two ingest replicas
 * writing overlapping rows wait for each other instead of deadlocking. What is left
 * (for example a planner choosing another join order) is retried on 40P01 by
 * the pipeline.
 *
 * Rows that belong to a project that no longer exists are filtered out here
 * (events have no foreign key; the projections do), so one deleted project
 * cannot fail a group commit that carries other projects' events.
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
 * Inserts the events (already unique by key and sorted by primary key) and
 * returns the keys of the rows that were really new: a re-sent or fanned-out
 * event conflicts on (project_id, occurred_at, id) and is skipped. A day with no
 * partition lands in events_default.
 */
export async function batchInsertEvents(db: Db, events: readonly NormalisedEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
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
    occurredAts[i] = event.storedAt;
    ids[i] = event.id;
    agentIds[i] = event.agentId;
    engines[i] = event.engine;
    taskIds[i] = event.taskId;
    kinds[i] = event.kind;
    payloads[i] = event.payload;
  }
  // The payloads travel as ONE jsonb array, zipped back by position: a jsonb[] parameter would be an array
  // literal with every quote and backslash of every payload escaped again, which measured about half as fast.
  // extract(epoch) is numeric (exact) since Postgres 14: the microseconds come back intact.
  const result = await sql<{ id: string; us: string }>`
    insert into events (project_id, occurred_at, id, agent_id, engine, task_id, kind, payload)
    select u.project_id, u.occurred_at, u.id, u.agent_id, u.engine, u.task_id, u.kind, p.payload
      from unnest(${bareArray(projectIds)}::uuid[], ${bareArray(occurredAts)}::timestamptz[], ${bareArray(ids)}::uuid[],
                  ${bareArray(agentIds)}::uuid[], ${engines}::text[], ${taskIds}::text[], ${kinds}::text[])
           with ordinality as u(project_id, occurred_at, id, agent_id, engine, task_id, kind, ord)
      join jsonb_array_elements(${`[${payloads.join(',')}]`}::jsonb) with ordinality as p(payload, ord) using (ord)
     order by u.ord
    on conflict (project_id, occurred_at, id) do nothing
    returning id, (extract(epoch from occurred_at) * 1000000)::int8::text as us`.execute(db);
  const inserted = new Set<string>();
  for (const row of result.rows) inserted.add(eventKey(row.id, Number(row.us)));
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

// SQL spellings of the state machine in task-reduction.ts, generated from the same tables.
const TERMINAL_SQL = [...TERMINAL_STATES].map((state) => `'${state}'`).join(', ');
const RANK_CASES = Object.entries(STATE_RANK)
  .map(([state, rank]) => `when '${state}' then ${rank}`)
  .join(' ');
const tierOf = (column: string) => `(case when ${column}::text in (${TERMINAL_SQL}) then 1 else 0 end)`;
const rankOf = (column: string) => `(case ${column}::text ${RANK_CASES} else 0 end)`;

/**
 * The delta's state replaces the row's when it is in a higher tier, or in the same tier and not older than
 * the row's latest lifecycle time (ties: higher rank). Same rule as stateWins() in task-reduction.ts.
 */
const NEW_STATE_SQL = sql.raw(`
  case
    when d.state is null then t.state
    when ${tierOf('d.state')} > ${tierOf('t.state')} then d.state::task_state
    when ${tierOf('d.state')} < ${tierOf('t.state')} then t.state
    when greatest(t.received_at, t.started_at, t.finished_at) is null
      or d.state_at > greatest(t.received_at, t.started_at, t.finished_at) then d.state::task_state
    when d.state_at = greatest(t.received_at, t.started_at, t.finished_at)
      and ${rankOf('d.state')} >= ${rankOf('t.state')} then d.state::task_state
    else t.state
  end`);

interface TaskColumns {
  project_id: string[];
  engine: string[];
  task_id: string[];
  name: (string | null)[];
  queue: (string | null)[];
  state: (string | null)[];
  state_at: (string | null)[];
  priority: (string | null)[];
  args: (string | null)[];
  args_at: (string | null)[];
  kwargs: (string | null)[];
  kwargs_at: (string | null)[];
  result: (string | null)[];
  exception: (string | null)[];
  traceback: (string | null)[];
  retry_count: (number | null)[];
  retries_uncounted: number[];
  eta: (string | null)[];
  received_at: (string | null)[];
  started_at: (string | null)[];
  finished_at: (string | null)[];
  runtime_ms: (string | null)[];
  worker_name: (string | null)[];
  worker_at: (string | null)[];
  parent_task_id: (string | null)[];
  root_task_id: (string | null)[];
  tags: (string | null)[];
}

function taskColumns(deltas: readonly TaskDelta[], foreignRefs: ReadonlySet<string>): TaskColumns {
  const columns: TaskColumns = {
    project_id: [],
    engine: [],
    task_id: [],
    name: [],
    queue: [],
    state: [],
    state_at: [],
    priority: [],
    args: [],
    args_at: [],
    kwargs: [],
    kwargs_at: [],
    result: [],
    exception: [],
    traceback: [],
    retry_count: [],
    retries_uncounted: [],
    eta: [],
    received_at: [],
    started_at: [],
    finished_at: [],
    runtime_ms: [],
    worker_name: [],
    worker_at: [],
    parent_task_id: [],
    root_task_id: [],
    tags: [],
  };
  const ref = (delta: TaskDelta, value: string | null) =>
    value !== null && foreignRefs.has(`${delta.projectId}\u0000${delta.engine}\u0000${value}`) ? null : value;
  for (const delta of deltas) {
    columns.project_id.push(delta.projectId);
    columns.engine.push(delta.engine);
    columns.task_id.push(delta.taskId);
    columns.name.push(delta.name);
    columns.queue.push(delta.queue);
    columns.state.push(delta.state);
    columns.state_at.push(micros(delta.stateMicros));
    columns.priority.push(delta.priority);
    columns.args.push(delta.args);
    columns.args_at.push(micros(delta.argsMicros));
    columns.kwargs.push(delta.kwargs);
    columns.kwargs_at.push(micros(delta.kwargsMicros));
    columns.result.push(delta.result);
    columns.exception.push(delta.exception);
    columns.traceback.push(delta.traceback);
    columns.retry_count.push(delta.retryCount);
    columns.retries_uncounted.push(delta.retriesUncounted);
    columns.eta.push(micros(delta.etaMicros));
    columns.received_at.push(micros(delta.receivedMicros));
    columns.started_at.push(micros(delta.startedMicros));
    columns.finished_at.push(micros(delta.finishedMicros));
    columns.runtime_ms.push(delta.runtimeMs === null ? null : String(delta.runtimeMs));
    columns.worker_name.push(delta.workerName);
    columns.worker_at.push(micros(delta.workerMicros));
    columns.parent_task_id.push(ref(delta, delta.parentTaskId));
    columns.root_task_id.push(ref(delta, delta.rootTaskId));
    columns.tags.push(delta.tags === null ? null : JSON.stringify(delta.tags));
  }
  return columns;
}

function micros(value: number | null): string | null {
  return value === null ? null : formatMicros(value);
}

/**
 * `d`: one row per delta, in the given (sorted) order. A raw fragment shared by
 * both task statements; `ordinality` keeps the sort for the lock order.
 */
function deltaRows(c: TaskColumns) {
  return sql`
    select * from unnest(
      ${c.project_id}::uuid[], ${c.engine}::text[], ${c.task_id}::text[], ${c.name}::text[], ${c.queue}::text[],
      ${c.state}::text[], ${c.state_at}::timestamptz[], ${c.priority}::text[], ${c.args}::jsonb[], ${c.kwargs}::jsonb[],
      ${c.result}::jsonb[], ${c.exception}::text[], ${c.traceback}::text[], ${c.retry_count}::int4[],
      ${c.retries_uncounted}::int4[], ${c.eta}::timestamptz[], ${c.received_at}::timestamptz[],
      ${c.started_at}::timestamptz[], ${c.finished_at}::timestamptz[], ${c.runtime_ms}::int8[],
      ${c.worker_name}::text[], ${c.parent_task_id}::text[], ${c.root_task_id}::text[], ${c.tags}::jsonb[],
      ${c.args_at}::timestamptz[], ${c.kwargs_at}::timestamptz[], ${c.worker_at}::timestamptz[]
    ) with ordinality as d(project_id, engine, task_id, name, queue, state, state_at, priority, args, kwargs,
                           result, exception, traceback, retry_count, retries_uncounted, eta, received_at,
                           started_at, finished_at, runtime_ms, worker_name, parent_task_id, root_task_id, tags,
                           args_at, kwargs_at, worker_at, ord)`;
}

/**
 * Projects the deltas (sorted, one per task) onto `tasks` in two set-based
 * statements:
 *
 * 1. ONE pass over all deltas in key order inserts the tasks seen for the
 *    first time (with the delta's values) and LOCKS the ones that exist
 *    (`on conflict do update ... where false` locks the conflicting row and
 *    writes nothing). A task another replica is inserting right now is waited
 *    for, then locked.
 * 2. the locked ones are merged: the state rule above, greatest() for the
 *    lifecycle times, the delta's informational values over the row's;
 *    args/kwargs only when not older than the row's latest `received` (they
 *    belong to a delivery) and worker_name only when not older than its latest
 *    `started`, so a late event of an earlier retry attempt does not overwrite
 *    the current attempt.
 *
 * Every task row lock is taken in step 1, in key order, so two transactions
 * (two replicas, or two group commits of one) touching the same tasks queue up
 * instead of deadlocking; step 2 takes no new locks. A plain `on conflict do
 * update` cannot do the merge: `excluded` only carries table columns, and the
 * merge needs the delta's state time and retry counts. Rows of a project that
 * is gone are neither inserted nor merged.
 */
export async function batchUpsertTasks(db: Db, deltas: readonly TaskDelta[], foreignRefs: ReadonlySet<string>, now: Date): Promise<void> {
  if (deltas.length === 0) return;
  const existing = await insertOrLockTasks(db, deltas, foreignRefs, now);
  if (existing.length > 0) await mergeTasks(db, existing, foreignRefs, now);
}

/** Merges the deltas whose task exists; returns the others. */
async function mergeTasks(db: Db, deltas: readonly TaskDelta[], foreignRefs: ReadonlySet<string>, now: Date): Promise<TaskDelta[]> {
  const c = taskColumns(deltas, foreignRefs);
  const merged = await sql<{ ord: string }>`
    with d as (${deltaRows(c)}),
    -- Locks in the sorted order, and carries the delta along so the update needs no second join.
    l as (
      select t.id as row_id, ${NEW_STATE_SQL} as new_state, d.*
        from d join tasks t on t.project_id = d.project_id and t.engine = d.engine and t.task_id = d.task_id
       order by d.ord
         for update of t
    )
    update tasks t set
      state = l.new_state,
      name = coalesce(l.name, t.name),
      queue = coalesce(l.queue, t.queue),
      priority = coalesce(l.priority::task_priority, t.priority),
      args = case when l.args is not null and (t.args is null or t.received_at is null or l.args_at >= t.received_at)
                  then l.args else t.args end,
      kwargs = case when l.kwargs is not null and (t.kwargs is null or t.received_at is null or l.kwargs_at >= t.received_at)
                    then l.kwargs else t.kwargs end,
      -- Outcome fields come only from a delta whose state won: a late, losing terminal event
      -- (an old task.failed after task.succeeded) must not leave an exception on a successful task.
      result = case when l.new_state = l.state::task_state then coalesce(l.result, t.result) else t.result end,
      runtime_ms = case when l.new_state = l.state::task_state then coalesce(l.runtime_ms, t.runtime_ms) else t.runtime_ms end,
      exception = case when l.new_state = 'success' then null
                       when l.new_state = l.state::task_state then coalesce(l.exception, t.exception) else t.exception end,
      traceback = case when l.new_state = 'success' then null
                       when l.new_state = l.state::task_state then coalesce(l.traceback, t.traceback) else t.traceback end,
      retry_count = least(greatest(t.retry_count::int8 + l.retries_uncounted, l.retry_count), 2147483647)::int4,
      eta = coalesce(l.eta, t.eta),
      received_at = greatest(t.received_at, l.received_at),
      started_at = greatest(t.started_at, l.started_at),
      finished_at = greatest(t.finished_at, l.finished_at),
      worker_name = case when l.worker_name is not null and (t.worker_name is null or t.started_at is null or l.worker_at >= t.started_at)
                         then l.worker_name else t.worker_name end,
      parent_task_id = coalesce(l.parent_task_id, t.parent_task_id),
      root_task_id = coalesce(l.root_task_id, t.root_task_id),
      tags = case when l.tags is null then t.tags else array(select jsonb_array_elements_text(l.tags)) end,
      updated_at = ${now}
    from l
    where t.id = l.row_id
    returning l.ord::text as ord`.execute(db);
  return rest(deltas, merged.rows);
}

/** Inserts the deltas of new tasks, locks the existing ones (key order); returns the deltas not inserted. */
async function insertOrLockTasks(db: Db, deltas: readonly TaskDelta[], foreignRefs: ReadonlySet<string>, now: Date): Promise<TaskDelta[]> {
  const c = taskColumns(deltas, foreignRefs);
  const inserted = await sql<{ ord: string }>`
    with d as (${deltaRows(c)}),
    ins as (
      insert into tasks (project_id, engine, task_id, name, queue, state, priority, args, kwargs, result, exception,
                         traceback, retry_count, eta, received_at, started_at, finished_at, runtime_ms, worker_name,
                         parent_task_id, root_task_id, tags, created_at, updated_at)
      select d.project_id, d.engine, d.task_id, coalesce(d.name, 'unknown'), d.queue,
             coalesce(d.state, 'pending')::task_state, coalesce(d.priority, 'normal')::task_priority,
             d.args, d.kwargs, d.result, d.exception, d.traceback,
             least(coalesce(d.retry_count, 0)::int8 + d.retries_uncounted, 2147483647)::int4, d.eta,
             d.received_at, d.started_at, d.finished_at, d.runtime_ms, d.worker_name, d.parent_task_id,
             d.root_task_id,
             case when d.tags is null then '{}' else array(select jsonb_array_elements_text(d.tags)) end, ${now}, ${now}
        from d
       where exists (select 1 from projects p where p.id = d.project_id)
       order by d.ord
      on conflict (project_id, engine, task_id) do update set updated_at = excluded.updated_at where false
      returning project_id, engine, task_id
    )
    select d.ord::text as ord from d join ins using (project_id, engine, task_id)`.execute(db);
  return rest(deltas, inserted.rows);
}

/** The deltas whose 1-based ordinality is not in `done`. */
function rest(deltas: readonly TaskDelta[], done: readonly { ord: string }[]): TaskDelta[] {
  if (done.length === deltas.length) return [];
  const handled = new Set(done.map((row) => Number(row.ord) - 1));
  return deltas.filter((_, index) => !handled.has(index));
}

export interface NamedSighting {
  readonly projectId: string;
  readonly engine: string;
  readonly name: string;
  /** Latest occurred_at, µs. */
  readonly lastSeenMicros: number;
}

/** Touches `queues` (last_seen_at) for each (project, engine, queue); rows sorted by that key. */
export async function batchTouchQueues(db: Db, queues: readonly NamedSighting[], now: Date): Promise<void> {
  if (queues.length === 0) return;
  const [projectIds, engines, names, seen] = sightingColumns(queues);
  await sql`
    insert into queues (project_id, engine, name, last_seen_at, created_at, updated_at)
    select u.project_id, u.engine, u.name, u.seen, ${now}, ${now}
      from unnest(${projectIds}::uuid[], ${engines}::text[], ${names}::text[], ${seen}::timestamptz[])
           with ordinality as u(project_id, engine, name, seen, ord)
     where exists (select 1 from projects p where p.id = u.project_id)
     order by u.ord
    on conflict (project_id, engine, name) do update
      set last_seen_at = greatest(queues.last_seen_at, excluded.last_seen_at), updated_at = excluded.updated_at
      where queues.last_seen_at is null or queues.last_seen_at < excluded.last_seen_at`.execute(db);
}

/** Upserts `workers` seen in events: state online, last_heartbeat = the latest occurred_at (§2.4). */
export async function batchUpsertWorkers(db: Db, workers: readonly NamedSighting[], now: Date): Promise<void> {
  if (workers.length === 0) return;
  const [projectIds, engines, names, seen] = sightingColumns(workers);
  await sql`
    insert into workers (project_id, engine, name, state, last_heartbeat, created_at, updated_at)
    select u.project_id, u.engine, u.name, 'online', u.seen, ${now}, ${now}
      from unnest(${projectIds}::uuid[], ${engines}::text[], ${names}::text[], ${seen}::timestamptz[])
           with ordinality as u(project_id, engine, name, seen, ord)
     where exists (select 1 from projects p where p.id = u.project_id)
     order by u.ord
    on conflict (project_id, engine, name) do update
      set state = 'online', last_heartbeat = greatest(workers.last_heartbeat, excluded.last_heartbeat),
          updated_at = excluded.updated_at`.execute(db);
}

function sightingColumns(rows: readonly NamedSighting[]): [string[], string[], string[], string[]] {
  return [
    rows.map((row) => row.projectId),
    rows.map((row) => row.engine),
    rows.map((row) => row.name),
    rows.map((row) => formatMicros(row.lastSeenMicros)),
  ];
}

/** Any event batch is a heartbeat (§1.10): last_seen_at only moves forward. Sorted by agent id. */
export async function batchTouchAgents(db: Db, agents: readonly { agentId: string; lastSeenMicros: number }[]): Promise<void> {
  if (agents.length === 0) return;
  const ids = agents.map((agent) => agent.agentId);
  const seen = agents.map((agent) => formatMicros(agent.lastSeenMicros));
  await sql`
    update agents a set last_seen_at = u.seen
      from unnest(${ids}::uuid[], ${seen}::timestamptz[]) as u(id, seen)
     where a.id = u.id and (a.last_seen_at is null or a.last_seen_at < u.seen)`.execute(db);
}
