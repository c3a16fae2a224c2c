-- z4j v1 schema, part 10: task-id search by prefix instead of by trigram.
--
-- tasks_task_id_trgm_idx indexed every trigram of every task id. Task ids are random (uuids, BullMQ
-- counters with prefixes), so each insert added ~36 unrelated GIN entries: measured on Postgres 15, it was
-- the most expensive of the tasks indexes by far (inserting 50k tasks: 1.6 s with every other index,
-- 3.0 s with it), and tasks are inserted on the ingest hot path. People search ids they copied from a log
-- or a traceback: the start of the id, or all of it. A btree with text_pattern_ops answers both
-- `task_id = $1` and `task_id like 'prefix%'` within a project, at the cost of one ordinary btree entry.
-- Free-text search keeps its trigram indexes on name and exception.
drop index tasks_task_id_trgm_idx;
create index tasks_project_task_id_prefix_idx on tasks (project_id, task_id text_pattern_ops);
