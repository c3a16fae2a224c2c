-- Revoking an agent keeps its row (commands, audit and history still point at it) but makes its
-- token unusable at once: every token lookup filters on revoked_at is null, and the gateways close
-- its live sockets on NOTIFY z4j_agent_revoked.
alter table agents add column revoked_at timestamptz;

create index agents_project_active_idx on agents (project_id) where revoked_at is null;
