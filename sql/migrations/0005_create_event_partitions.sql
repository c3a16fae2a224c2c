-- z4j v1 schema, part 5: the raw event log, partitioned by day, and the functions that maintain it.
--
-- Partition lifecycle (all days are UTC days, bounds [day 00:00 UTC, next day 00:00 UTC)):
-- 1. z4j_events_ensure_partitions creates events_YYYY_MM_DD ahead of time (this migration: today .. today+7;
--    then partition_creator_worker hourly, same window).
-- 2. A row whose day has no partition lands in events_default (clock skew, replayed old buffers, a worker that
--    was down). z4j_events_default_rows() lets the worker warn about it. When ensure later creates that day's
--    partition it first moves those rows out of events_default, because Postgres refuses to create a partition
--    while the default partition holds rows that belong to it.
-- 3. z4j_events_drop_expired drops daily partitions that are past retention and hold nothing newer than the
--    cutoff. events_default is never dropped.
-- Ensure and drop take the same transaction-scoped advisory lock so replicas running the worker do not race, and
-- run with lock_timeout = 2s: partition DDL needs a strong lock on `events`, and queueing behind a long query would
-- stall ingest behind it. They also pin TimeZone and DateStyle for their own duration, because partition bounds
-- are written and read back as text and a session zone abbreviation (IST, ...) would not round-trip.

-- Raw events, one row per ingested event, idempotent on (project_id, occurred_at, id) where id is derived from
-- the event's content (see ingest). No foreign keys on purpose: this is the ingest hot path and the table is
-- pruned by dropping whole partitions; rows of a deleted project simply age out.
create table events (
  project_id uuid not null,
  occurred_at timestamptz not null,
  id uuid not null default gen_random_uuid(),
  agent_id uuid,
  engine text not null,
  -- '' for events that are not about a task (worker, queue and schedule events).
  task_id text not null default '',
  kind text not null,
  payload jsonb not null default '{}',
  -- When the brain stored the row; occurred_at comes from the agent's clock.
  ingested_at timestamptz not null default now(),
  primary key (project_id, occurred_at, id)
) partition by range (occurred_at);

-- Timeline of one task; events of one kind.
create index events_project_task_occurred_idx on events (project_id, task_id, occurred_at);
create index events_project_kind_occurred_idx on events (project_id, kind, occurred_at);
-- Containment queries over payload (payload @> '{...}').
create index events_payload_gin_idx on events using gin (payload jsonb_path_ops);

create table events_default partition of events default;

-- Creates events_YYYY_MM_DD for each UTC day in [p_from, p_from + p_days) that has no table yet and returns the
-- names it created, in day order. Rows already sitting in events_default for such a day are moved into the new
-- partition: it is created standalone with the shape of `events`, filled from events_default, the rows are
-- deleted there, and the table is attached.
create function z4j_events_ensure_partitions(p_from date, p_days integer)
returns setof text
language plpgsql
set lock_timeout = '2s'
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
as $$
declare
  v_day date;
  v_name text;
  v_lower timestamptz;
  v_upper timestamptz;
begin
  if p_from is null or p_days is null or p_days < 0 or p_days > 3660 then
    raise exception 'z4j_events_ensure_partitions: invalid range (from %, % days)', p_from, p_days
      using errcode = 'invalid_parameter_value';
  end if;
  -- 0x7a344550, "z4EP": shared with z4j_events_drop_expired.
  perform pg_advisory_xact_lock(2050245968);
  for i in 0 .. p_days - 1 loop
    v_day := p_from + i;
    v_name := 'events_' || to_char(v_day, 'YYYY_MM_DD');
    continue when to_regclass(v_name) is not null;
    v_lower := v_day::timestamp at time zone 'UTC';
    v_upper := (v_day + 1)::timestamp at time zone 'UTC';
    if exists (select 1 from events_default where occurred_at >= v_lower and occurred_at < v_upper) then
      execute format('create table %I (like events including defaults)', v_name);
      execute format(
        'insert into %I select * from events_default where occurred_at >= $1 and occurred_at < $2', v_name
      ) using v_lower, v_upper;
      delete from events_default where occurred_at >= v_lower and occurred_at < v_upper;
      execute format(
        'alter table events attach partition %I for values from (%L) to (%L)', v_name, v_lower, v_upper
      );
    else
      execute format(
        'create table %I partition of events for values from (%L) to (%L)', v_name, v_lower, v_upper
      );
    end if;
    return next v_name;
  end loop;
end;
$$;

-- Drops the daily partitions (children named events_YYYY_MM_DD, never events_default) whose day is before
-- p_today - p_retention_days and whose newest row is before that cutoff (or that are empty); returns their
-- names. The newest-row check is the original's safety net against a partition whose bounds do not match its
-- name: when the partition's own upper bound already proves every row is older than the cutoff it is skipped,
-- so expiring a large day does not cost a full scan of it.
create function z4j_events_drop_expired(p_today date, p_retention_days integer)
returns setof text
language plpgsql
set lock_timeout = '2s'
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
as $$
declare
  v_cutoff_day date;
  v_cutoff timestamptz;
  v_child record;
  v_upper timestamptz;
  v_newest timestamptz;
begin
  if p_today is null or p_retention_days is null or p_retention_days < 1 then
    raise exception 'z4j_events_drop_expired: invalid arguments (today %, retention % days)', p_today, p_retention_days
      using errcode = 'invalid_parameter_value';
  end if;
  v_cutoff_day := p_today - p_retention_days;
  v_cutoff := v_cutoff_day::timestamp at time zone 'UTC';
  perform pg_advisory_xact_lock(2050245968);
  for v_child in
    select c.relname::text as name,
           to_date(substr(c.relname, 8), 'YYYY_MM_DD') as day,
           substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \(''([^'']+)''\)') as upper_bound
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'events'::regclass
       and c.relname ~ '^events_[0-9]{4}_[0-9]{2}_[0-9]{2}$'
     order by c.relname
  loop
    continue when v_child.day >= v_cutoff_day;
    v_upper := v_child.upper_bound::timestamptz;
    if v_upper is null or v_upper > v_cutoff then
      execute format('select max(occurred_at) from %I', v_child.name) into v_newest;
      continue when v_newest is not null and v_newest >= v_cutoff;
    end if;
    execute format('drop table %I', v_child.name);
    return next v_child.name;
  end loop;
end;
$$;

-- Rows in events_default: should be 0; anything else means a day had no partition when its events arrived.
create function z4j_events_default_rows()
returns bigint
language sql
stable
as $$
  select count(*) from events_default;
$$;

select z4j_events_ensure_partitions((now() at time zone 'UTC')::date, 8);
