-- z4j v1 schema, part 8: notifications. Project channels are shared destinations admins configure; user channels
-- are personal ones. Each user subscribes per (project, trigger) and picks in-app and/or channels; project
-- default subscriptions are copied into user_subscriptions when someone joins. In-app notifications land in
-- user_notifications, external sends are recorded in notification_deliveries.
-- Triggers (task.failed, task.succeeded, task.retried, agent.offline, schedule.circuit_breaker.tripped, ...)
-- are an open vocabulary, so plain text.

create type notification_channel_type as enum ('webhook', 'email', 'slack', 'telegram', 'pagerduty', 'discord', 'teams');

-- A project-scoped delivery target (team Slack webhook, pager email, ...) any member may subscribe through.
create table notification_channels (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  type notification_channel_type not null,
  -- Channel-specific settings (URLs, tokens): treat as secret.
  config jsonb not null default '{}',
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index notification_channels_project_id_idx on notification_channels (project_id);

-- A user's personal delivery target; only its owner may reference it from a subscription.
create table user_channels (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  type notification_channel_type not null,
  config jsonb not null default '{}',
  is_verified boolean not null default false,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, name)
);

-- One user's choice to be told about one trigger in one project, and how. The channel id arrays are not
-- foreign keys (Postgres has none for array elements): the service checks them on write and skips stale ids
-- at dispatch time.
create table user_subscriptions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  project_id uuid not null references projects (id) on delete cascade,
  trigger text not null,
  -- Optional narrowing: priority, task name pattern, queue.
  filters jsonb not null default '{}',
  in_app boolean not null default true,
  project_channel_ids uuid[] not null default '{}',
  user_channel_ids uuid[] not null default '{}',
  muted_until timestamptz,
  -- Minimum interval between two firings for the same task name; last_fired_at is its anchor.
  cooldown_seconds integer not null default 0 check (cooldown_seconds >= 0),
  last_fired_at timestamptz,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, project_id, trigger)
);

-- Dispatch: active subscriptions to a trigger in a project.
create index user_subscriptions_project_trigger_idx on user_subscriptions (project_id, trigger) where is_active;

-- Admin-defined subscription templates copied into user_subscriptions for new members (project channels only).
create table project_default_subscriptions (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  trigger text not null,
  filters jsonb not null default '{}',
  in_app boolean not null default true,
  project_channel_ids uuid[] not null default '{}',
  cooldown_seconds integer not null default 0 check (cooldown_seconds >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, trigger)
);

-- Why a user got an in-app notification.
create type notification_reason as enum ('subscribed', 'default', 'mentioned');

-- The in-app inbox (the bell). Immutable apart from read_at; survives the subscription that caused it.
create table user_notifications (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  project_id uuid not null references projects (id) on delete cascade,
  subscription_id uuid references user_subscriptions (id) on delete set null,
  trigger text not null,
  reason notification_reason not null default 'subscribed',
  title text not null,
  body text,
  -- Deep-link data: task_id, worker_id, schedule_id, url, ...
  data jsonb not null default '{}',
  read_at timestamptz,
  created_at timestamptz not null default now()
);

create index user_notifications_user_created_idx on user_notifications (user_id, created_at desc, id desc);
create index user_notifications_user_unread_idx on user_notifications (user_id) where read_at is null;
create index user_notifications_project_id_idx on user_notifications (project_id);
create index user_notifications_subscription_id_idx on user_notifications (subscription_id) where subscription_id is not null;

create type notification_delivery_status as enum ('sent', 'failed', 'skipped');

-- Immutable record of each external delivery attempt (webhook, email, Slack, ...). At most one of channel_id
-- and user_channel_id is set; channel_name/channel_type are snapshots taken at send time, so renaming a channel
-- later does not rewrite history.
create table notification_deliveries (
  id uuid primary key default gen_random_uuid(),
  subscription_id uuid references user_subscriptions (id) on delete set null,
  channel_id uuid references notification_channels (id) on delete set null,
  user_channel_id uuid references user_channels (id) on delete set null,
  project_id uuid not null references projects (id) on delete cascade,
  trigger text not null,
  task_id text,
  task_name text,
  -- skipped = cooldown or mute.
  status notification_delivery_status not null,
  response_code integer,
  -- Truncated response body, for debugging failures.
  response_body text,
  error text,
  channel_name text,
  channel_type notification_channel_type,
  sent_at timestamptz not null default now(),
  -- The user whose action caused the send (e.g. a channel test), if any.
  triggered_by_user_id uuid references users (id) on delete set null,
  check (channel_id is null or user_channel_id is null)
);

-- Project delivery log, newest first.
create index notification_deliveries_project_sent_idx on notification_deliveries (project_id, sent_at desc, id desc);
-- A user's deliveries (through their subscriptions or their own channels), and the SET NULL cascades.
create index notification_deliveries_subscription_sent_idx on notification_deliveries (subscription_id, sent_at)
  where subscription_id is not null;
create index notification_deliveries_user_channel_sent_idx on notification_deliveries (user_channel_id, sent_at)
  where user_channel_id is not null;
create index notification_deliveries_channel_id_idx on notification_deliveries (channel_id) where channel_id is not null;
create index notification_deliveries_triggered_by_idx on notification_deliveries (triggered_by_user_id)
  where triggered_by_user_id is not null;

create type alert_event_type as enum ('fired', 'acknowledged', 'resolved', 'snoozed', 'expired');

-- Lifecycle of an alert (a delivery): fired -> acknowledged -> resolved, or snoozed until snooze_until and then
-- expired (re-surfaced).
create table alert_events (
  id uuid primary key default gen_random_uuid(),
  delivery_id uuid not null references notification_deliveries (id) on delete cascade,
  event_type alert_event_type not null,
  user_id uuid references users (id) on delete set null,
  note text,
  snooze_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (event_type <> 'snoozed' or snooze_until is not null)
);

create index alert_events_delivery_created_idx on alert_events (delivery_id, created_at);
create index alert_events_user_id_idx on alert_events (user_id) where user_id is not null;
