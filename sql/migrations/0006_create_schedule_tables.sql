-- z4j v1 schema, part 6: schedules, their fire history, buffered fires and the scheduler gRPC rate limiter.

create type schedule_kind as enum ('cron', 'interval', 'solar', 'clocked');
-- What to do with fires missed while no agent could run them.
create type schedule_catch_up as enum ('skip', 'fire_one_missed', 'fire_all_missed');

-- Periodic schedules, owned by one scheduler (celery-beat, z4j-scheduler, ...) and synced both ways with the
-- agents' scheduler adapters. Every row change is announced on NOTIFY z4j_schedules_changed (trigger below),
-- which feeds the scheduler gRPC WatchSchedules stream.
create table schedules (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  engine text not null,
  scheduler text not null,
  name text not null check (char_length(name) between 1 and 200),
  task_name text not null,
  kind schedule_kind not null,
  -- Kind-specific: cron string, interval seconds, solar event, ISO timestamp.
  expression text not null,
  timezone text not null default 'UTC',
  queue text,
  priority task_priority not null default 'normal',
  args jsonb not null default '[]' check (jsonb_typeof(args) = 'array'),
  kwargs jsonb not null default '{}' check (jsonb_typeof(kwargs) = 'object'),
  is_enabled boolean not null default true,
  last_run_at timestamptz,
  next_run_at timestamptz,
  total_runs bigint not null default 0 check (total_runs >= 0),
  -- Engine-native id (e.g. django-celery-beat PeriodicTask.id).
  external_id text,
  catch_up schedule_catch_up not null default 'skip',
  -- dashboard | imported... | declarative:<framework>
  source text not null default 'dashboard',
  -- Content hash for declarative reconciliation.
  source_hash text,
  -- Most recent fire issued by z4j-scheduler.
  last_fire_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, scheduler, name)
);

-- Schedule list, cursor "<name>|<id>".
create index schedules_project_name_idx on schedules (project_id, name, id);
-- schedules:import mode replace_for_source.
create index schedules_project_source_idx on schedules (project_id, source);

create function z4j_schedules_notify()
returns trigger
language plpgsql
as $$
declare
  v_row schedules%rowtype;
begin
  if tg_op = 'DELETE' then
    v_row := old;
  else
    v_row := new;
  end if;
  perform pg_notify(
    'z4j_schedules_changed',
    json_build_object('op', lower(tg_op), 'id', v_row.id, 'project_id', v_row.project_id)::text
  );
  return null;
end;
$$;

create trigger schedules_notify_changed
  after insert or update or delete on schedules
  for each row execute function z4j_schedules_notify();

create type schedule_fire_status as enum ('pending', 'delivered', 'buffered', 'acked_success', 'acked_failed', 'failed');

-- One row per fire from z4j-scheduler (FireSchedule), updated by AcknowledgeFireResult. fire_id is the
-- scheduler's idempotency key, so its retries collapse onto one row. Pruned after schedule_fires_retention_days.
create table schedule_fires (
  id uuid primary key default gen_random_uuid(),
  fire_id uuid not null unique,
  schedule_id uuid not null references schedules (id) on delete cascade,
  project_id uuid not null references projects (id) on delete cascade,
  -- Null while buffered or when the fire failed before a command was issued.
  command_id uuid references commands (id) on delete set null,
  status schedule_fire_status not null default 'pending',
  scheduled_for timestamptz not null,
  fired_at timestamptz not null default now(),
  acked_at timestamptz,
  latency_ms integer check (latency_ms >= 0),
  error_code text,
  error_message text
);

-- Fire history of one schedule, and the circuit breaker's "last N fires" of it.
create index schedule_fires_schedule_fired_idx on schedule_fires (schedule_id, fired_at);
create index schedule_fires_project_id_idx on schedule_fires (project_id);
create index schedule_fires_command_id_idx on schedule_fires (command_id) where command_id is not null;
-- schedule_fires_prune_worker.
create index schedule_fires_fired_at_idx on schedule_fires (fired_at);

-- Fires that arrived while no agent for their engine was online, replayed (following the schedule's catch_up)
-- by pending_fires_replay_worker once one connects, and dropped after expires_at.
create table pending_fires (
  id uuid primary key default gen_random_uuid(),
  fire_id uuid not null unique,
  schedule_id uuid not null references schedules (id) on delete cascade,
  project_id uuid not null references projects (id) on delete cascade,
  engine text not null,
  -- Exactly what the dispatcher would have issued, so a replay reproduces the original intent.
  payload jsonb not null,
  scheduled_for timestamptz not null,
  enqueued_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '7 days',
  check (expires_at > enqueued_at)
);

create index pending_fires_replay_idx on pending_fires (project_id, engine, scheduled_for);
create index pending_fires_schedule_id_idx on pending_fires (schedule_id);
create index pending_fires_expires_at_idx on pending_fires (expires_at);

-- Token bucket per scheduler client certificate (CN) for FireSchedule, refilled lazily on each consume.
create table scheduler_rate_buckets (
  cert_cn text primary key,
  tokens double precision not null check (tokens >= 0),
  last_refill timestamptz not null default now(),
  capacity double precision not null check (capacity > 0),
  refill_per_second double precision not null check (refill_per_second >= 0),
  updated_at timestamptz not null default now()
);
