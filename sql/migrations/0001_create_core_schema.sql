-- z4j v1 schema, part 1: extensions, the meta table, projects, users, memberships and the key/value stores.
--
-- Conventions for every migration in this folder:
-- - Each file runs as one multi-statement simple query inside one transaction (the migrator wraps it), so no
--   BEGIN/COMMIT here and no CREATE INDEX CONCURRENTLY. The same SQL runs on PostgreSQL >= 15 and on PGlite.
-- - Primary keys are uuid with gen_random_uuid() (core since PG13, no pgcrypto); log-like tables use bigserial.
-- - Timestamps are timestamptz. created_at/updated_at default to now(); the application sets updated_at on
--   every UPDATE (no trigger: callers inject their clock, and the ingest hot path must not pay for one).
-- - Closed vocabularies the code branches on (states, roles, kinds, statuses) are enum types, one per
--   vocabulary, created next to the table that owns them. Open vocabularies (engine and scheduler names, audit
--   actions, notification triggers, event kinds) are plain text.
-- - Rows owned by a project or a user cascade when it is deleted; references kept for history use SET NULL.

create extension if not exists citext;
create extension if not exists pg_trgm;

-- Key/value facts about the database itself. The migrator upserts 'schema_version' here after each migration;
-- a brain refuses to start on a database whose schema is newer than the code it runs.
create table z4j_meta (
  key text primary key,
  value text not null,
  updated_at timestamptz not null default now()
);

-- A project: one app deployment. Agents, tasks, schedules, commands and notifications all belong to one.
-- Projects are archived (is_active = false) rather than deleted; deleting one cascades to everything it owns.
create table projects (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique
    constraint projects_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name text not null check (char_length(name) between 1 and 200),
  description text,
  environment text not null default 'production',
  timezone text not null default 'UTC',
  retention_days integer not null default 30 check (retention_days > 0),
  is_active boolean not null default true,
  -- Scheduler that owns schedules created without an explicit one.
  default_scheduler_owner text not null default 'z4j-scheduler',
  -- Schedulers this project may assign; null = unrestricted.
  allowed_schedulers text[],
  settings jsonb not null default '{}' check (jsonb_typeof(settings) = 'object'),
  -- Reserved for an organisation hierarchy; nothing references it yet.
  organization_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Dashboard accounts (operators, not the customers' end users). Deactivated (is_active = false) rather than
-- deleted, so their audit rows keep pointing at a real user.
create table users (
  id uuid primary key default gen_random_uuid(),
  -- Canonicalised by the application (NFKC, casefold, IDNA domain); citext makes the UNIQUE case-insensitive.
  email citext not null unique check (position('@' in email) > 1),
  password_hash text not null,
  display_name text,
  first_name text,
  last_name text,
  is_admin boolean not null default false,
  is_active boolean not null default true,
  last_login_at timestamptz,
  force_password_change boolean not null default false,
  timezone text not null default 'UTC',
  failed_login_count integer not null default 0 check (failed_login_count >= 0),
  locked_until timestamptz,
  last_failed_login_at timestamptz,
  last_failed_login_ip inet,
  -- Sessions issued before this instant (1 s grace) are invalid.
  password_changed_at timestamptz,
  -- AES-256-GCM: nonce(12) || ciphertext || tag(16), AAD = user id. Set at enroll-start, before enrolment.
  mfa_secret_encrypted bytea,
  mfa_enrolled_at timestamptz,
  mfa_enforcement_started_at timestamptz,
  avatar_url text,
  external_id text,
  sso_provider text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_mfa_enrolled_has_secret check (mfa_enrolled_at is null or mfa_secret_encrypted is not null)
);

create unique index users_sso_identity_key on users (sso_provider, external_id) where external_id is not null;

create type project_role as enum ('viewer', 'operator', 'admin');

-- A user's role in one project. Global admins (users.is_admin) need no row here.
create table memberships (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  project_id uuid not null references projects (id) on delete cascade,
  role project_role not null default 'viewer',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, project_id)
);

create index memberships_project_id_idx on memberships (project_id);

-- Per-user dashboard preferences (theme, locale, ...), one JSON value per key.
create table user_preferences (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  key text not null,
  value jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, key)
);

-- Per-project configuration overrides and plugin settings, one JSON value per key.
create table project_config (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  key text not null,
  value jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, key)
);

-- Global schemaless storage for extensions; rows with autoload = true are read at startup.
create table extension_store (
  id uuid primary key default gen_random_uuid(),
  key text not null unique,
  value jsonb not null default '{}',
  autoload boolean not null default false,
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index extension_store_autoload_idx on extension_store (key) where autoload;

-- Runtime feature toggles and kill switches.
create table feature_flags (
  id uuid primary key default gen_random_uuid(),
  key text not null unique,
  description text not null default '',
  enabled boolean not null default false,
  value text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
