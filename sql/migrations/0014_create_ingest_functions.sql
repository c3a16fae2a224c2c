-- z4j v1 schema, part 14: the ingest group commit as server-side functions.
--
-- Why functions. services/ingest writes each group of event batches (up to 5,000 events from many sessions) with
-- one set-based statement per table. Sent one by one that is BEGIN, events, tasks (two statements), queues,
-- workers, agents, COMMIT: eight round trips, each one a parse + plan on the server and a write + read syscall
-- pair on both sides, which is most of the cost of a small group (the Python agent sends one event per frame, so
-- groups are small exactly when frames are many). z4j_ingest_group does the whole group in ONE statement that
-- commits on its own; plpgsql also keeps the plans of the statements inside it for the session.
--
-- Exactly-once. The group's task deltas are reduced by ingest from the events it sends, assuming all of them are
-- new. z4j_ingest_group therefore refuses to go on when any event is already stored (a re-send or a replay):
-- it raises SQLSTATE Z4J01, which rolls the whole statement back, and ingest writes that group the careful way
-- (z4j_ingest_events returning the new rows, deltas reduced from those only, then the other functions), inside an
-- explicit transaction. Both ways run the very same statements below, in the same order.
--
-- Lock order (see services/ingest/src/event-writer.ts): every function takes rows sorted by the target's unique
-- key, and the tables are written in the same order (events, tasks, queues, workers, agents), so two replicas
-- wait for each other instead of deadlocking.
--
-- Arrays in, one per column, all of the same length; the JSON values of a task (args, kwargs, result, tags) come
-- as one jsonb array of 4-element arrays, and the event payloads as one jsonb array: a jsonb[] parameter would be
-- an array literal with every quote and backslash of every document escaped again.

-- The task state machine of services/ingest/src/task-reduction.ts (a test keeps the two equal): terminal states
-- are tier 1, and inside a tier the rank breaks ties of equal timestamps.
create function z4j_task_state_tier(p_state text)
returns integer
language sql
immutable
parallel safe
as $$ select case when p_state in ('success', 'failure', 'revoked') then 1 else 0 end $$;

create function z4j_task_state_rank(p_state text)
returns integer
language sql
immutable
parallel safe
as $$
  select case p_state when 'received' then 1 when 'started' then 2 when 'retry' then 3
                      when 'success' then 4 when 'failure' then 5 when 'revoked' then 6 else 0 end
$$;

-- Inserts events (sorted by primary key, unique) and returns the rows that were new: a re-sent event conflicts on
-- (project_id, occurred_at, id) and is skipped. A day without a partition lands in events_default.
-- extract(epoch) is numeric (exact) since Postgres 14, so the microseconds come back intact.
create function z4j_ingest_events(
  p_project_id uuid[], p_occurred_at timestamptz[], p_id uuid[], p_agent_id uuid[], p_engine text[],
  p_task_id text[], p_kind text[], p_payloads jsonb
)
returns table (event_id uuid, occurred_us text)
language plpgsql
volatile
as $$
begin
  return query
    insert into events as e (project_id, occurred_at, id, agent_id, engine, task_id, kind, payload)
    select u.project_id, u.occurred_at, u.id, u.agent_id, u.engine, u.task_id, u.kind, p_payloads -> (u.ord - 1)::integer
      from unnest(p_project_id, p_occurred_at, p_id, p_agent_id, p_engine, p_task_id, p_kind)
           with ordinality as u(project_id, occurred_at, id, agent_id, engine, task_id, kind, ord)
     order by u.ord
    on conflict (project_id, occurred_at, id) do nothing
    returning e.id, (extract(epoch from e.occurred_at) * 1000000)::int8::text;
end
$$;

-- Projects task deltas (one per task, sorted by (project_id, engine, task_id)) onto `tasks` in two statements:
--
-- 1. ONE pass over all deltas in key order inserts the tasks seen for the first time and LOCKS the ones that
--    exist (`on conflict do update ... where false` locks the conflicting row and writes nothing). A task another
--    replica is inserting right now is waited for, then locked.
-- 2. The locked ones are merged, with a fresh snapshot (a VOLATILE function takes one per statement), so a row
--    that another replica committed while step 1 waited for it is seen: the state rule (a higher tier wins; in
--    the same tier the newer state, ties by rank), greatest() for the lifecycle times, the delta's informational
--    values over the row's; args/kwargs only when not older than the row's latest `received` (they belong to a
--    delivery) and worker_name only when not older than its latest `started`, so a late event of an earlier
--    attempt does not overwrite the current attempt. Outcome fields come only from a delta whose state won: a late,
--    losing terminal event (an old task.failed after task.succeeded) must not leave an exception on a success.
--
-- Every task row lock is taken in step 1, in key order; step 2 takes no new locks. A plain `on conflict do update`
-- cannot do the merge: `excluded` only carries table columns, and the merge needs the delta's state time and retry
-- counts. Rows of a project that is gone are neither inserted nor merged.
--
-- Custom plans: the statements join the deltas to `tasks` and to each other, and only a plan made with the real
-- array lengths is sure to hash or index-probe instead of nesting loops over thousands of rows.
create function z4j_ingest_tasks(
  p_project_id uuid[], p_engine text[], p_task_id text[], p_name text[], p_queue text[], p_state text[],
  p_state_at timestamptz[], p_priority text[], p_exception text[], p_traceback text[], p_retry_count integer[],
  p_retries_uncounted integer[], p_eta timestamptz[], p_received_at timestamptz[], p_started_at timestamptz[],
  p_finished_at timestamptz[], p_runtime_ms bigint[], p_worker_name text[], p_parent_task_id text[],
  p_root_task_id text[], p_args_at timestamptz[], p_kwargs_at timestamptz[], p_worker_at timestamptz[],
  -- One [args, kwargs, result, tags] array per delta; JSON null = the delta says nothing about it.
  p_values jsonb,
  p_now timestamptz
)
returns void
language plpgsql
volatile
set plan_cache_mode = force_custom_plan
as $$
declare
  v_is_new boolean[];
  v_new integer;
begin
  with d as (
    select u.*, nullif(p_values -> (u.ord - 1)::integer -> 0, 'null') as args,
           nullif(p_values -> (u.ord - 1)::integer -> 1, 'null') as kwargs,
           nullif(p_values -> (u.ord - 1)::integer -> 2, 'null') as result,
           nullif(p_values -> (u.ord - 1)::integer -> 3, 'null') as tags
      from unnest(p_project_id, p_engine, p_task_id, p_name, p_queue, p_state, p_priority, p_exception, p_traceback,
                  p_retry_count, p_retries_uncounted, p_eta, p_received_at, p_started_at, p_finished_at, p_runtime_ms,
                  p_worker_name, p_parent_task_id, p_root_task_id)
           with ordinality as u(project_id, engine, task_id, name, queue, state, priority, exception, traceback,
                                retry_count, retries_uncounted, eta, received_at, started_at, finished_at, runtime_ms,
                                worker_name, parent_task_id, root_task_id, ord)
  ),
  ins as (
    insert into tasks (project_id, engine, task_id, name, queue, state, priority, args, kwargs, result, exception,
                       traceback, retry_count, eta, received_at, started_at, finished_at, runtime_ms, worker_name,
                       parent_task_id, root_task_id, tags, created_at, updated_at)
    select d.project_id, d.engine, d.task_id, coalesce(d.name, 'unknown'), d.queue,
           coalesce(d.state, 'pending')::task_state, coalesce(d.priority, 'normal')::task_priority,
           d.args, d.kwargs, d.result, d.exception, d.traceback,
           least(coalesce(d.retry_count, 0)::int8 + d.retries_uncounted, 2147483647)::integer, d.eta,
           d.received_at, d.started_at, d.finished_at, d.runtime_ms, d.worker_name, d.parent_task_id,
           d.root_task_id,
           case when d.tags is null then '{}' else array(select jsonb_array_elements_text(d.tags)) end, p_now, p_now
      from d
     where exists (select 1 from projects p where p.id = d.project_id)
     order by d.ord
    on conflict (project_id, engine, task_id) do update set updated_at = excluded.updated_at where false
    returning project_id, engine, task_id
  )
  select array_agg(ins.task_id is not null order by d.ord), count(ins.task_id)
    into v_is_new, v_new
    from d left join ins using (project_id, engine, task_id);
  if v_new = coalesce(cardinality(p_task_id), 0) then
    return;
  end if;

  with d as (
    select u.*, nullif(p_values -> (u.ord - 1)::integer -> 0, 'null') as args,
           nullif(p_values -> (u.ord - 1)::integer -> 1, 'null') as kwargs,
           nullif(p_values -> (u.ord - 1)::integer -> 2, 'null') as result,
           nullif(p_values -> (u.ord - 1)::integer -> 3, 'null') as tags
      from unnest(p_project_id, p_engine, p_task_id, p_name, p_queue, p_state, p_state_at, p_priority, p_exception,
                  p_traceback, p_retry_count, p_retries_uncounted, p_eta, p_received_at, p_started_at, p_finished_at,
                  p_runtime_ms, p_worker_name, p_parent_task_id, p_root_task_id, p_args_at, p_kwargs_at, p_worker_at)
           with ordinality as u(project_id, engine, task_id, name, queue, state, state_at, priority, exception,
                                traceback, retry_count, retries_uncounted, eta, received_at, started_at, finished_at,
                                runtime_ms, worker_name, parent_task_id, root_task_id, args_at, kwargs_at, worker_at, ord)
     where not v_is_new[u.ord]
  ),
  -- Carries the delta along so the update needs no second join.
  l as (
    select t.id as row_id,
           case
             when d.state is null then t.state
             when z4j_task_state_tier(d.state) > z4j_task_state_tier(t.state::text) then d.state::task_state
             when z4j_task_state_tier(d.state) < z4j_task_state_tier(t.state::text) then t.state
             when greatest(t.received_at, t.started_at, t.finished_at) is null
               or d.state_at > greatest(t.received_at, t.started_at, t.finished_at) then d.state::task_state
             when d.state_at = greatest(t.received_at, t.started_at, t.finished_at)
               and z4j_task_state_rank(d.state) >= z4j_task_state_rank(t.state::text) then d.state::task_state
             else t.state
           end as new_state,
           d.*
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
    result = case when l.new_state = l.state::task_state then coalesce(l.result, t.result) else t.result end,
    runtime_ms = case when l.new_state = l.state::task_state then coalesce(l.runtime_ms, t.runtime_ms) else t.runtime_ms end,
    exception = case when l.new_state = 'success' then null
                     when l.new_state = l.state::task_state then coalesce(l.exception, t.exception) else t.exception end,
    traceback = case when l.new_state = 'success' then null
                     when l.new_state = l.state::task_state then coalesce(l.traceback, t.traceback) else t.traceback end,
    retry_count = least(greatest(t.retry_count::int8 + l.retries_uncounted, l.retry_count), 2147483647)::integer,
    eta = coalesce(l.eta, t.eta),
    received_at = greatest(t.received_at, l.received_at),
    started_at = greatest(t.started_at, l.started_at),
    finished_at = greatest(t.finished_at, l.finished_at),
    worker_name = case when l.worker_name is not null and (t.worker_name is null or t.started_at is null or l.worker_at >= t.started_at)
                       then l.worker_name else t.worker_name end,
    parent_task_id = coalesce(l.parent_task_id, t.parent_task_id),
    root_task_id = coalesce(l.root_task_id, t.root_task_id),
    tags = case when l.tags is null then t.tags else array(select jsonb_array_elements_text(l.tags)) end,
    updated_at = p_now
  from l
  where t.id = l.row_id;
end
$$;

-- Touches `queues` (last_seen_at only moves forward) for each (project, engine, queue), sorted by that key.
create function z4j_ingest_queues(p_project_id uuid[], p_engine text[], p_name text[], p_seen timestamptz[], p_now timestamptz)
returns void
language sql
volatile
as $$
  insert into queues (project_id, engine, name, last_seen_at, created_at, updated_at)
  select u.project_id, u.engine, u.name, u.seen, p_now, p_now
    from unnest(p_project_id, p_engine, p_name, p_seen) with ordinality as u(project_id, engine, name, seen, ord)
   where exists (select 1 from projects p where p.id = u.project_id)
   order by u.ord
  on conflict (project_id, engine, name) do update
    set last_seen_at = greatest(queues.last_seen_at, excluded.last_seen_at), updated_at = excluded.updated_at
    where queues.last_seen_at is null or queues.last_seen_at < excluded.last_seen_at
$$;

-- Upserts `workers` seen in events: state online, last_heartbeat = the latest occurred_at (§2.4). Sorted by key.
create function z4j_ingest_workers(p_project_id uuid[], p_engine text[], p_name text[], p_seen timestamptz[], p_now timestamptz)
returns void
language sql
volatile
as $$
  insert into workers (project_id, engine, name, state, last_heartbeat, created_at, updated_at)
  select u.project_id, u.engine, u.name, 'online', u.seen, p_now, p_now
    from unnest(p_project_id, p_engine, p_name, p_seen) with ordinality as u(project_id, engine, name, seen, ord)
   where exists (select 1 from projects p where p.id = u.project_id)
   order by u.ord
  on conflict (project_id, engine, name) do update
    set state = 'online', last_heartbeat = greatest(workers.last_heartbeat, excluded.last_heartbeat),
        updated_at = excluded.updated_at
$$;

-- Any event batch is a heartbeat (§1.10): agents.last_seen_at only moves forward. Sorted by agent id.
create function z4j_ingest_agents(p_id uuid[], p_seen timestamptz[])
returns void
language sql
volatile
as $$
  update agents a set last_seen_at = u.seen
    from unnest(p_id, p_seen) as u(id, seen)
   where a.id = u.id and (a.last_seen_at is null or a.last_seen_at < u.seen)
$$;

-- The whole group in one statement, when every event in it is new (see the top of this file). Raises Z4J01,
-- rolling everything back, when any event was already stored.
create function z4j_ingest_group(
  e_project_id uuid[], e_occurred_at timestamptz[], e_id uuid[], e_agent_id uuid[], e_engine text[],
  e_task_id text[], e_kind text[], e_payloads jsonb,
  t_project_id uuid[], t_engine text[], t_task_id text[], t_name text[], t_queue text[], t_state text[],
  t_state_at timestamptz[], t_priority text[], t_exception text[], t_traceback text[], t_retry_count integer[],
  t_retries_uncounted integer[], t_eta timestamptz[], t_received_at timestamptz[], t_started_at timestamptz[],
  t_finished_at timestamptz[], t_runtime_ms bigint[], t_worker_name text[], t_parent_task_id text[],
  t_root_task_id text[], t_args_at timestamptz[], t_kwargs_at timestamptz[], t_worker_at timestamptz[], t_values jsonb,
  q_project_id uuid[], q_engine text[], q_name text[], q_seen timestamptz[],
  w_project_id uuid[], w_engine text[], w_name text[], w_seen timestamptz[],
  a_id uuid[], a_seen timestamptz[],
  p_now timestamptz
)
returns void
language plpgsql
volatile
as $$
declare
  v_new bigint;
begin
  select count(*) into v_new
    from z4j_ingest_events(e_project_id, e_occurred_at, e_id, e_agent_id, e_engine, e_task_id, e_kind, e_payloads);
  if v_new <> coalesce(cardinality(e_id), 0) then
    raise exception 'z4j_ingest_group: % of % events are already stored', cardinality(e_id) - v_new, cardinality(e_id)
      using errcode = 'Z4J01';
  end if;
  if cardinality(t_task_id) > 0 then
    perform z4j_ingest_tasks(t_project_id, t_engine, t_task_id, t_name, t_queue, t_state, t_state_at, t_priority,
                             t_exception, t_traceback, t_retry_count, t_retries_uncounted, t_eta, t_received_at,
                             t_started_at, t_finished_at, t_runtime_ms, t_worker_name, t_parent_task_id,
                             t_root_task_id, t_args_at, t_kwargs_at, t_worker_at, t_values, p_now);
  end if;
  if cardinality(q_name) > 0 then
    perform z4j_ingest_queues(q_project_id, q_engine, q_name, q_seen, p_now);
  end if;
  if cardinality(w_name) > 0 then
    perform z4j_ingest_workers(w_project_id, w_engine, w_name, w_seen, p_now);
  end if;
  if cardinality(a_id) > 0 then
    perform z4j_ingest_agents(a_id, a_seen);
  end if;
end
$$;
