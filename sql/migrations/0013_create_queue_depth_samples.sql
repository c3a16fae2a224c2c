-- z4j v1 schema, part 13: queue depth over time (the dashboard's queues page draws it).
--
-- Heartbeats carry each queue's depth every few seconds (§1.10); `queues.pending_count` keeps only the latest.
-- Here one sample per queue per minute is kept: the last heartbeat of the minute wins (many workers report the same
-- queue), so the table grows by at most 1440 rows per queue per day whatever the fleet size. The workers service
-- deletes samples older than 7 days.
create table queue_depth_samples (
  project_id uuid not null references projects (id) on delete cascade,
  engine text not null,
  queue text not null,
  minute timestamptz not null,
  depth integer not null check (depth >= 0),
  primary key (project_id, engine, queue, minute)
);

-- Retention deletes by age across projects.
create index queue_depth_samples_minute_idx on queue_depth_samples (minute);
