-- z4j v1 schema, part 3: agents and their worker connections, engine-side queues and workers, and commands.

create type agent_state as enum ('online', 'offline', 'unknown');

-- A registered agent token. Many processes may connect with one token at once (one agent_workers row each);
-- state goes offline only when the last of them disconnects.
create table agents (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  -- HMAC-SHA256(Z4J_SECRET || 'z4j-agent-token-v1', token) hex; looked up on every connect.
  token_hash text not null unique,
  -- The next five come from the agent's hello; null/empty until it first connects.
  protocol_version text,
  framework_adapter text,
  engine_adapters text[] not null default '{}',
  scheduler_adapters text[] not null default '{}',
  capabilities jsonb not null default '{}',
  state agent_state not null default 'unknown',
  last_seen_at timestamptz,
  last_connect_at timestamptz,
  -- {host, version, ...} from the hello.
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, name)
);

create index agents_project_state_idx on agents (project_id, state);
-- agent_health_worker: online agents whose heartbeat went stale.
create index agents_online_last_seen_idx on agents (last_seen_at) where state = 'online';
-- agent_hygiene_worker: agents not seen for agent_stale_prune_days.
create index agents_last_seen_at_idx on agents (last_seen_at);

-- One row per agent process connection slot (worker_id = '<framework>-<pid>-<start_ms>'), kept after
-- disconnect as history. Distinct from `workers`, which are engine-native workers seen by the broker.
create table agent_workers (
  id uuid primary key default gen_random_uuid(),
  agent_id uuid not null references agents (id) on delete cascade,
  project_id uuid not null references projects (id) on delete cascade,
  -- '' is the single legacy slot of a pre-1.2 agent that sends no worker_id (NOT NULL so the UNIQUE holds).
  worker_id text not null default '',
  -- web | task | scheduler | beat | other (a hint from the agent).
  role text,
  framework text,
  pid integer,
  started_at timestamptz,
  state agent_state not null default 'online',
  last_seen_at timestamptz,
  last_connect_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (agent_id, worker_id)
);

create index agent_workers_project_state_idx on agent_workers (project_id, state);

-- Periodic agent_status snapshots, for the agent detail charts; pruned with event retention.
create table agent_status_history (
  id bigserial primary key,
  project_id uuid not null references projects (id) on delete cascade,
  agent_id uuid not null references agents (id) on delete cascade,
  captured_at timestamptz not null default now(),
  payload jsonb not null default '{}'
);

create index agent_status_history_agent_captured_idx on agent_status_history (agent_id, captured_at);
create index agent_status_history_project_captured_idx on agent_status_history (project_id, captured_at);
-- Retention sweep (captured_at < cutoff across all projects).
create index agent_status_history_captured_at_idx on agent_status_history (captured_at);

-- Queues seen in events and heartbeats (adapter_health "<engine>.queue_depths"). Never created by users.
create table queues (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  name text not null,
  engine text not null,
  broker_type text,
  -- A redacted display string, never the broker URL with credentials.
  broker_url_hint text,
  last_seen_at timestamptz,
  pending_count integer not null default 0 check (pending_count >= 0),
  consumer_count integer not null default 0 check (consumer_count >= 0),
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, engine, name)
);

create type worker_state as enum ('online', 'offline', 'draining', 'unknown');

-- Engine-native workers (e.g. celery@host) from events and "<engine>.worker_details" heartbeats.
create table workers (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  engine text not null,
  name text not null,
  hostname text,
  pid integer,
  concurrency integer,
  queues text[] not null default '{}',
  state worker_state not null default 'unknown',
  last_heartbeat timestamptz,
  -- [1m, 5m, 15m]
  load_average double precision[],
  memory_bytes bigint,
  active_tasks integer not null default 0 check (active_tasks >= 0),
  -- {stats, active, active_queues, registered, conf}; conf is cut to an allow-list before it is stored.
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, engine, name)
);

create index workers_project_state_idx on workers (project_id, state);

create type command_status as enum ('pending', 'dispatched', 'completed', 'failed', 'timeout', 'cancelled');

-- Commands issued to agents. Lifecycle: pending -> dispatched -> completed | failed; pending or dispatched ->
-- timeout once timeout_at passes (command_timeout_worker). cancelled exists in the enum but is unused.
-- A repeated (project_id, idempotency_key) returns the first row instead of issuing twice.
create table commands (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  issued_by uuid references users (id) on delete set null,
  agent_id uuid references agents (id) on delete set null,
  action text not null,
  target_type text not null,
  target_id text,
  payload jsonb not null default '{}',
  idempotency_key text check (char_length(idempotency_key) between 1 and 200),
  status command_status not null default 'pending',
  result jsonb,
  error text,
  issued_at timestamptz not null default now(),
  dispatched_at timestamptz,
  completed_at timestamptz,
  -- issued_at + command_timeout_seconds (60 by default).
  timeout_at timestamptz not null,
  source_ip inet,
  unique (project_id, idempotency_key),
  check (timeout_at > issued_at)
);

-- Command history (cursor: newest first, id as tiebreak) and its status filter.
create index commands_project_issued_idx on commands (project_id, issued_at desc, id desc);
create index commands_project_status_issued_idx on commands (project_id, status, issued_at);
-- command_timeout_worker: one UPDATE over the live commands whose timeout_at has passed.
create index commands_live_timeout_at_idx on commands (timeout_at) where status in ('pending', 'dispatched');
-- Drain on connect and the registry reconcile loop: pending commands of agent X, oldest first.
create index commands_agent_pending_idx on commands (agent_id, issued_at) where status = 'pending';
-- ON DELETE SET NULL from agents (agent_hygiene_worker deletes stale agents) and users.
create index commands_agent_id_idx on commands (agent_id) where agent_id is not null;
create index commands_issued_by_idx on commands (issued_by) where issued_by is not null;
