-- z4j v1 schema, part 12: the audit chain's head, read after the chain lock in one round trip.
--
-- Appending to the chain (internal/audit) must read the newest row AFTER taking the chain's advisory xact lock
-- 0x7A346ADA, with a snapshot taken after the lock was granted (READ COMMITTED): otherwise a writer that committed
-- while we waited is invisible and we would sign the wrong predecessor. One plain statement cannot do both, because
-- its snapshot is fixed when it starts, before a lock taken inside it is granted. A VOLATILE plpgsql function takes
-- a fresh snapshot for every query it runs, so this one takes the lock, then reads the head: every audited write
-- saves a round trip, which matters on the command path (issue 5's latency goal).
create function z4j_audit_chain_head(lock_key bigint)
returns table (row_hmac text, occurred_at_text text)
language plpgsql
volatile
as $$
begin
  perform pg_advisory_xact_lock(lock_key);
  return query
    select a.row_hmac, to_char(a.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
      from audit_log a
     order by a.occurred_at desc, a.id desc
     limit 1;
end
$$;
