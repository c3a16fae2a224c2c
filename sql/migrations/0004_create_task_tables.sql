-- z4j v1 schema, part 4: the task projection and what hangs off it (annotations, saved views, exports).

create type task_state as enum ('pending', 'received', 'started', 'success', 'failure', 'retry', 'revoked', 'rejected', 'unknown');
create type task_priority as enum ('critical', 'high', 'normal', 'low');

-- Latest known state of each task instance, projected from events by ingest and upserted on
-- (project_id, engine, task_id). Terminal states (success, failure, revoked) always win over non-terminal ones.
-- args, kwargs, result and traceback are redacted before they get here.
create table tasks (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  engine text not null,
  -- Engine-native id (Celery uuid, RQ job id, BullMQ job id, ...).
  task_id text not null,
  name text not null,
  queue text,
  state task_state not null default 'pending',
  priority task_priority not null default 'normal',
  args jsonb,
  kwargs jsonb,
  result jsonb,
  -- Exception class name; cleared on success.
  exception text,
  traceback text,
  retry_count integer not null default 0 check (retry_count >= 0),
  eta timestamptz,
  received_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  runtime_ms bigint check (runtime_ms >= 0),
  worker_name text,
  parent_task_id text,
  root_task_id text,
  tags text[] not null default '{}',
  metadata jsonb not null default '{}',
  -- When the brain first projected this task; immutable, so it is the list cursor (see below).
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, engine, task_id)
);

-- Task list (GET /projects/{slug}/tasks): newest first, cursor (created_at, id), since/until on created_at.
-- created_at rather than the original's started_at: it is NOT NULL (a received-but-not-started task has no
-- started_at) and never changes after insert, so a row cannot jump between pages while a client pages through
-- the list as tasks progress. Each equality filter gets its own (project_id, <filter>, created_at desc, id desc)
-- index so "filter + newest first + limit" is one ordered index range scan with no sort. engine is left to the
-- base index: a project has one or two engines, so the filter discards almost nothing.
create index tasks_project_created_idx on tasks (project_id, created_at desc, id desc);
create index tasks_project_state_created_idx on tasks (project_id, state, created_at desc, id desc);
create index tasks_project_priority_created_idx on tasks (project_id, priority, created_at desc, id desc);
create index tasks_project_name_created_idx on tasks (project_id, name, created_at desc, id desc);
create index tasks_project_queue_created_idx on tasks (project_id, queue, created_at desc, id desc);
create index tasks_project_worker_created_idx on tasks (project_id, worker_name, created_at desc, id desc);
-- Free-text `search` (substring, ILIKE '%...%') over name, task_id and exception: trigram GIN indexes, one per
-- column, OR-ed together by a bitmap scan. Trigrams instead of a tsvector because users type fragments of
-- dotted task names and of ids, which a word tokenizer does not match.
create index tasks_name_trgm_idx on tasks using gin (name gin_trgm_ops);
create index tasks_task_id_trgm_idx on tasks using gin (task_id gin_trgm_ops);
create index tasks_exception_trgm_idx on tasks using gin (exception gin_trgm_ops);
-- Containment filters over arguments (args @> '[...]', kwargs @> '{...}').
create index tasks_args_gin_idx on tasks using gin (args jsonb_path_ops);
create index tasks_kwargs_gin_idx on tasks using gin (kwargs jsonb_path_ops);
-- Canvas tree (chains, groups, chords) of one task.
create index tasks_project_parent_idx on tasks (project_id, parent_task_id) where parent_task_id is not null;
create index tasks_project_root_idx on tasks (project_id, root_task_id) where root_task_id is not null;
-- Stats and trends bucket finished tasks by finished_at.
create index tasks_project_finished_idx on tasks (project_id, finished_at) where finished_at is not null;
-- reconciliation_worker: tasks stuck in pending or started with no news for a while, across projects.
create index tasks_in_flight_updated_idx on tasks (updated_at) where state in ('pending', 'started');

create type task_annotation_type as enum ('note', 'status_change', 'escalation', 'resolution');

-- Operator notes on a task, kept when their author is deleted.
create table task_annotations (
  id uuid primary key default gen_random_uuid(),
  task_id uuid not null references tasks (id) on delete cascade,
  user_id uuid references users (id) on delete set null,
  content text not null,
  annotation_type task_annotation_type not null default 'note',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index task_annotations_task_created_idx on task_annotations (task_id, created_at);
create index task_annotations_user_id_idx on task_annotations (user_id) where user_id is not null;

-- A user's saved filter presets for a dashboard page; at most one default per (user, project, page).
create table saved_views (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  project_id uuid not null references projects (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  -- tasks | workers | schedules | ...
  page text not null,
  filters jsonb not null default '{}',
  is_default boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, project_id, page, name)
);

create unique index saved_views_one_default_key on saved_views (user_id, project_id, page) where is_default;
create index saved_views_project_id_idx on saved_views (project_id);

create type export_job_type as enum ('tasks', 'events', 'audit');
create type export_job_format as enum ('csv', 'json', 'xlsx');
create type export_job_status as enum ('pending', 'processing', 'completed', 'failed');

-- Asynchronous export requests (CSV / JSON / XLSX) and where their file ended up.
create table export_jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  project_id uuid not null references projects (id) on delete cascade,
  export_type export_job_type not null,
  format export_job_format not null,
  filters jsonb not null default '{}',
  status export_job_status not null default 'pending',
  row_count integer check (row_count >= 0),
  file_path text,
  error text,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index export_jobs_user_created_idx on export_jobs (user_id, created_at);
create index export_jobs_project_id_idx on export_jobs (project_id);
create index export_jobs_queued_idx on export_jobs (created_at) where status in ('pending', 'processing');
