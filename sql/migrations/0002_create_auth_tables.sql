-- z4j v1 schema, part 2: sessions, MFA, one-time tokens, invitations and personal API keys.
-- Every secret is stored as a hash (HMAC-SHA256 hex, SHA-256 hex or argon2id); plaintexts are shown once.

-- Server-side dashboard sessions, looked up by id on every request so they can be revoked before expiry.
create table sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  csrf_token text not null,
  issued_at timestamptz not null default now(),
  -- Absolute lifetime (7 days, 30 with remember-me); idle expiry is judged from last_seen_at.
  expires_at timestamptz not null,
  last_seen_at timestamptz not null default now(),
  revoked_at timestamptz,
  -- logout | password_changed | admin_revoke | deactivated | role_changed | ...
  revocation_reason text,
  ip_at_issue inet,
  user_agent_at_issue text,
  -- Set by a successful TOTP/recovery check; "fresh MFA" compares it with the verification TTL.
  mfa_verified_at timestamptz,
  check (expires_at > issued_at)
);

-- "My sessions", "revoke every session of user X" and the cascade from users.
create index sessions_user_id_idx on sessions (user_id);
-- Expiry sweeps.
create index sessions_expires_at_idx on sessions (expires_at);

-- "Remember this device" for MFA: the cookie holds a random id, the row holds its SHA-256 hex.
create table trusted_devices (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  cookie_id_hash text not null unique,
  label text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_seen_at timestamptz,
  expires_at timestamptz not null,
  revoked_at timestamptz
);

create index trusted_devices_user_id_idx on trusted_devices (user_id);

-- Single-use MFA recovery codes (argon2id hashes, so they are matched per user, not looked up by hash).
create table mfa_recovery_codes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  code_hash text not null,
  created_at timestamptz not null default now(),
  consumed_at timestamptz
);

create index mfa_recovery_codes_user_id_idx on mfa_recovery_codes (user_id);

-- The first-boot setup token, minted while no user exists and deleted when setup completes.
create table first_boot_tokens (
  id uuid primary key default gen_random_uuid(),
  token_hash text not null unique,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);

-- Single-use password reset tokens.
create table password_reset_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  token_hash text not null unique,
  expires_at timestamptz not null,
  consumed_at timestamptz,
  created_at timestamptz not null default now()
);

create index password_reset_tokens_user_id_idx on password_reset_tokens (user_id);

-- Invitations to join a project with a role. States: pending (neither accepted nor revoked, not expired),
-- accepted, revoked, expired. Accepted and revoked are exclusive and final.
create table invitations (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  email citext not null,
  role project_role not null default 'viewer',
  invited_by uuid references users (id) on delete set null,
  token_hash text not null unique,
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by_user_id uuid references users (id) on delete set null,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (accepted_at is null or revoked_at is null)
);

-- Admin list of pending invitations per project.
create index invitations_project_pending_idx on invitations (project_id, expires_at)
  where accepted_at is null and revoked_at is null;

-- Personal API keys (`Authorization: Bearer z4k_...`), looked up by token_hash on every bearer request.
create table api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  token_hash text not null unique,
  -- First 8 characters of the plaintext, for listings.
  prefix text not null check (char_length(prefix) between 1 and 8),
  last_used_at timestamptz,
  last_used_ip inet,
  expires_at timestamptz,
  revoked_at timestamptz,
  revoked_reason text,
  scopes text[] not null default '{}',
  -- Set for a key bound to one project.
  project_id uuid references projects (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index api_keys_user_id_idx on api_keys (user_id);
create index api_keys_project_id_idx on api_keys (project_id) where project_id is not null;
