-- z4j v1 schema, part 15: a cheaper task projection (see 0014 for the ingest functions as a whole).
-- (The file name says its main change; it also gives tasks time-ordered ids and makes the touches plpgsql.)
--
-- tasks.project_id loses its foreign key. The key's check ran once per inserted task row, as a trigger query
-- locking the project row again and again: a sixth of Postgres' time on a group of new tasks. What it gave is
-- kept, for the whole group at once: z4j_ingest_tasks locks the group's projects (FOR KEY SHARE, as the check
-- did) before it writes, and skips the rows of a project that is gone; deleting a project deletes its tasks in
-- a statement trigger (the ON DELETE CASCADE it had), and waits for an ingest transaction holding that project.
alter table tasks drop constraint tasks_project_id_fkey;

create function z4j_delete_tasks_of_deleted_projects()
returns trigger
language plpgsql
as $$
begin
  delete from tasks t using deleted_projects d where t.project_id = d.id;
  return null;
end
$$;

create trigger projects_delete_tasks
  after delete on projects
  referencing old table as deleted_projects
  for each statement
  execute function z4j_delete_tasks_of_deleted_projects();

-- Task row ids in time order (uuid v7: 48 bits of Unix milliseconds, then the random bits of a v4), so a group's
-- new rows go to the right edge of the primary key index instead of one random leaf page each: fewer pages
-- dirtied per group, and fewer of them written whole to the WAL after each checkpoint.
create function z4j_uuid_v7()
returns uuid
language sql
volatile
parallel safe
as $$
  select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                        placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::int8) from 3)
                                        from 1 for 6), 52, 1), 53, 1), 'hex')::uuid
$$;

alter table tasks alter column id set default z4j_uuid_v7();

-- Unchanged but for the project lock at the top.
create or replace function z4j_ingest_tasks(
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
  -- What the foreign key did per row, once per group: the projects stay until this transaction ends.
  perform 1 from projects p where p.id = any(p_project_id) order by p.id for key share;

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

-- The touches become plpgsql: a SQL-language function is planned again on every call (a quarter of what a
-- one-event group cost), while plpgsql keeps its plans for the session.
create or replace function z4j_ingest_queues(p_project_id uuid[], p_engine text[], p_name text[], p_seen timestamptz[], p_now timestamptz)
returns void
language plpgsql
volatile
as $$
begin
  insert into queues (project_id, engine, name, last_seen_at, created_at, updated_at)
  select u.project_id, u.engine, u.name, u.seen, p_now, p_now
    from unnest(p_project_id, p_engine, p_name, p_seen) with ordinality as u(project_id, engine, name, seen, ord)
   where exists (select 1 from projects p where p.id = u.project_id)
   order by u.ord
  on conflict (project_id, engine, name) do update
    set last_seen_at = greatest(queues.last_seen_at, excluded.last_seen_at), updated_at = excluded.updated_at
    where queues.last_seen_at is null or queues.last_seen_at < excluded.last_seen_at;
end
$$;

create or replace function z4j_ingest_workers(p_project_id uuid[], p_engine text[], p_name text[], p_seen timestamptz[], p_now timestamptz)
returns void
language plpgsql
volatile
as $$
begin
  insert into workers (project_id, engine, name, state, last_heartbeat, created_at, updated_at)
  select u.project_id, u.engine, u.name, 'online', u.seen, p_now, p_now
    from unnest(p_project_id, p_engine, p_name, p_seen) with ordinality as u(project_id, engine, name, seen, ord)
   where exists (select 1 from projects p where p.id = u.project_id)
   order by u.ord
  on conflict (project_id, engine, name) do update
    set state = 'online', last_heartbeat = greatest(workers.last_heartbeat, excluded.last_heartbeat),
        updated_at = excluded.updated_at;
end
$$;

create or replace function z4j_ingest_agents(p_id uuid[], p_seen timestamptz[])
returns void
language plpgsql
volatile
as $$
begin
  update agents a set last_seen_at = u.seen
    from unnest(p_id, p_seen) as u(id, seen)
   where a.id = u.id and (a.last_seen_at is null or a.last_seen_at < u.seen);
end
$$;
