// Seeds a project with `tasks` tasks spread over the last 7 days and up to 5 events per task, set-based in
// Postgres (the benches measure reads, not this): 40 task names, 5 queues, 20 workers, ~8% failures.

const KINDS = ['task.received', 'task.started', 'task.succeeded', 'task.retried', 'task.failed'];

/**
 * @param {import('pg').Client} client
 * @param {string} projectId
 * @param {number} tasks
 * @param {number} eventsPerTask 0..5
 * @returns {Promise<number>} seconds taken
 */
export async function seedTasks(client, projectId, tasks, eventsPerTask) {
  const started = performance.now();
  await client.query(`select z4j_events_ensure_partitions((now() - interval '8 days')::date, 10)`);
  await client.query(
    `insert into tasks (project_id, engine, task_id, name, queue, state, priority, args, kwargs, exception, received_at,
                        started_at, finished_at, runtime_ms, worker_name, created_at, updated_at)
     select $1, 'celery', md5(i::text)::uuid::text, 'app.tasks.job_' || (i % 40), 'queue-' || (i % 5),
            (case when i % 25 = 0 then 'failure' when i % 50 = 1 then 'started' else 'success' end)::task_state,
            (case when i % 10 = 0 then 'high' else 'normal' end)::task_priority,
            jsonb_build_array(i, 'arg'), jsonb_build_object('user_id', i % 10000, 'flag', true),
            case when i % 25 = 0 then 'ValueError' end,
            t, t + interval '5 ms', case when i % 50 <> 1 then t + interval '40 ms' end,
            case when i % 50 <> 1 then 35 + i % 100 end, 'celery@worker-' || (i % 20), t, t
       from (select i, now() - (i * (604800.0 / $2)) * interval '1 second' as t from generate_series(1, $2) as i) s`,
    [projectId, tasks],
  );
  // One statement per kind keeps each under the statement timeout and the WAL steady.
  for (let k = 0; k < Math.min(eventsPerTask, KINDS.length); k += 1) {
    await client.query(
      `insert into events (project_id, occurred_at, id, engine, task_id, kind, payload)
       select $1, t + ($3 || ' ms')::interval, gen_random_uuid(), 'celery', md5(i::text)::uuid::text, $4,
              jsonb_build_object('kind', $4::text, 'task_id', md5(i::text)::uuid::text, 'data', jsonb_build_object('task_name', 'app.tasks.job_' || (i % 40)))
         from (select i, now() - (i * (604800.0 / $2)) * interval '1 second' as t from generate_series(1, $2) as i) s`,
      [projectId, tasks, String(k * 10), KINDS[k]],
    );
  }
  // VACUUM as well as ANALYZE: a freshly bulk-loaded table is otherwise picked up by autovacuum in the middle of
  // the measurement (insert-triggered vacuum), which shows up as a latency tail that a table in steady state has not.
  await client.query('vacuum analyze tasks');
  await client.query('vacuum analyze events');
  return (performance.now() - started) / 1000;
}
