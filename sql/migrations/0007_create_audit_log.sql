-- z4j v1 schema, part 7: the append-only, HMAC-chained audit log.

-- allow (success), deny (policy denial), failure (the action failed), error (anything else).
create type audit_outcome as enum ('allow', 'deny', 'failure', 'error');

-- Append-only audit trail. Each row carries row_hmac = HMAC-SHA256(Z4J_SECRET, canonical JSON of the row,
-- including prev_row_hmac), so rows form a chain in (occurred_at, id) order; writers serialise on the advisory
-- xact lock 0x7A346ADA and read the newest row's hmac as their prev_row_hmac.
--
-- No foreign keys at all, on purpose: project_id, user_id and api_key_id are part of the signed content and
-- rows must outlive what they point at. ON DELETE SET NULL would rewrite signed rows (and trip the guard
-- trigger below), RESTRICT would make users, projects and API keys undeletable once audited.
--
-- The text length limits are the ones applied before hashing; values are truncated before they are stored.
create table audit_log (
  id uuid primary key default gen_random_uuid(),
  project_id uuid,
  user_id uuid,
  api_key_id uuid,
  action text not null check (char_length(action) <= 80),
  target_type text not null check (char_length(target_type) <= 40),
  target_id text check (char_length(target_id) <= 200),
  result text not null check (char_length(result) <= 20),
  outcome audit_outcome not null,
  -- Correlates several rows written for one user-visible action.
  event_id uuid,
  metadata jsonb not null default '{}',
  source_ip inet,
  user_agent text check (char_length(user_agent) <= 1024),
  occurred_at timestamptz not null default now(),
  row_hmac text not null check (row_hmac ~ '^[0-9a-f]{64}$'),
  -- Null only for the first row of the chain.
  prev_row_hmac text check (prev_row_hmac ~ '^[0-9a-f]{64}$')
);

-- The chain cannot fork: each row's hmac is the predecessor of at most one row, and there is at most one
-- first row (retention may later delete it, after which the oldest remaining row starts the visible chain).
create unique index audit_log_prev_row_hmac_key on audit_log (prev_row_hmac) where prev_row_hmac is not null;
create unique index audit_log_single_first_row_key on audit_log ((true)) where prev_row_hmac is null;
-- Chain order (writers read the newest row, `audit verify` streams the oldest) and the retention sweep.
create index audit_log_occurred_id_idx on audit_log (occurred_at, id);
create index audit_log_project_occurred_idx on audit_log (project_id, occurred_at);
create index audit_log_user_occurred_idx on audit_log (user_id, occurred_at) where user_id is not null;
-- Exact actions and action prefixes (e.g. action like 'setup.%' for the setup rate limit) over a time window.
create index audit_log_action_occurred_idx on audit_log (action text_pattern_ops, occurred_at);
create index audit_log_api_key_id_idx on audit_log (api_key_id) where api_key_id is not null;

-- Rows moved aside by `z4j audit fork-cleanup`: the same columns as audit_log, plus when they were moved.
create table audit_log_legacy_forks (
  like audit_log including defaults including constraints,
  moved_at timestamptz not null default now(),
  primary key (id)
);

-- UPDATE, DELETE and TRUNCATE on audit_log raise unless the transaction has opted in with
-- SET LOCAL z4j.audit_sweep = 'on' (the retention sweeper and fork-cleanup do, per batch).
-- A role that owns the table can still drop the trigger; the HMAC chain is what detects that.
create function z4j_audit_log_guard()
returns trigger
language plpgsql
as $$
begin
  if current_setting('z4j.audit_sweep', true) is distinct from 'on' then
    raise exception 'audit_log is append-only: % is not allowed', tg_op
      using errcode = 'insufficient_privilege',
            hint = 'retention and fork-cleanup run with SET LOCAL z4j.audit_sweep = ''on''';
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  return new;
end;
$$;

create trigger audit_log_guard_update
  before update on audit_log
  for each row execute function z4j_audit_log_guard();

create trigger audit_log_guard_delete
  before delete on audit_log
  for each row execute function z4j_audit_log_guard();

create trigger audit_log_guard_truncate
  before truncate on audit_log
  for each statement execute function z4j_audit_log_guard();
