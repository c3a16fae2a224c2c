-- z4j v1 schema, part 16: the fast group path inserts its events with a plain INSERT.
--
-- z4j_ingest_group runs on the premise that every event of the group is new, and refuses (Z4J01) when one is
-- not. It checked that premise by inserting through z4j_ingest_events, whose ON CONFLICT DO NOTHING probes the
-- primary key once before each row and again when inserting it, and whose RETURNING rows were collected only to
-- be counted. A plain INSERT probes once, and the primary key itself says when the premise is false: the unique
-- violation rolls the events back (the block below is a subtransaction, one per group) and becomes Z4J01 as
-- before. Measured on groups of 2,500 new events: about a fifth less time in the events insert.
--
-- Concurrency is unchanged: a plain INSERT of a key that another transaction is inserting waits for it, as
-- ON CONFLICT did, and fails only if that transaction commits. The careful path (z4j_ingest_events, for a group
-- holding re-sent events) is unchanged.
create or replace function z4j_ingest_group(
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
begin
  begin
    insert into events (project_id, occurred_at, id, agent_id, engine, task_id, kind, payload)
    select u.project_id, u.occurred_at, u.id, u.agent_id, u.engine, u.task_id, u.kind, e_payloads -> (u.ord - 1)::integer
      from unnest(e_project_id, e_occurred_at, e_id, e_agent_id, e_engine, e_task_id, e_kind)
           with ordinality as u(project_id, occurred_at, id, agent_id, engine, task_id, kind, ord)
     order by u.ord;
  exception when unique_violation then
    raise exception 'z4j_ingest_group: an event of the group is already stored' using errcode = 'Z4J01';
  end;
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
