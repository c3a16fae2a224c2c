import { CompiledQuery, sql, type Kysely } from 'kysely';
import { expect, it } from 'vitest';
import type { Database } from '@z4j/db';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { createApiHarness } from '../testing/api-harness.js';
import { TASK_LIST_FIELDS } from './task-fields.js';
import { taskPageQuery, type TaskFilters } from './task-listing.js';

const postgres = await probePostgres();

interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}

/** The plan Postgres picks for the list query the API runs (same SQL, same bound parameters). */
async function planOf(db: Kysely<Database>, filters: TaskFilters, after?: { at: string; id: string }): Promise<PlanNode[]> {
  const compiled = taskPageQuery(db, await alphaId(db), filters, TASK_LIST_FIELDS, after, 51).compile();
  const result = await db.executeQuery<{ 'QUERY PLAN': unknown }>(
    CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [...compiled.parameters]),
  );
  const raw = result.rows[0]!['QUERY PLAN'];
  const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as [{ Plan: PlanNode }];
  return flatten(parsed[0].Plan);
}

async function alphaId(db: Kysely<Database>): Promise<string> {
  return (await db.selectFrom('projects').select('id').where('slug', '=', 'alpha').executeTakeFirstOrThrow()).id;
}

function describePlan(nodes: readonly PlanNode[]): string {
  return nodes.map((node) => `${node['Node Type']}${node['Index Name'] ? ` (${node['Index Name']})` : ''}`).join(' > ');
}

/** The plan reads tasks through an index, never a sequential scan, and needs no sort of its own. */
function expectOrderedIndexScan(nodes: readonly PlanNode[], index: string): void {
  const plan = describePlan(nodes);
  expect(
    nodes.some((node) => node['Relation Name'] === 'tasks' && node['Node Type'] === 'Seq Scan'),
    plan,
  ).toBe(false);
  expect(
    nodes.some((node) => node['Node Type'] === 'Sort' || node['Node Type'] === 'Incremental Sort'),
    plan,
  ).toBe(false);
  expect(
    nodes.some((node) => (node['Node Type'] === 'Index Scan' || node['Node Type'] === 'Index Only Scan') && node['Index Name'] === index),
    plan,
  ).toBe(true);
}

describeEachDatabase('task list query plans', postgres, ({ kind, skip, test }) => {
  it.skipIf(skip)('the list, with and without each filter, is an ordered index scan over 5,000 analysed tasks', async () => {
    const harness = createApiHarness(test().database.db);
    await harness.reset();
    const alpha = await harness.createProject('alpha');
    const beta = await harness.createProject('beta');
    // Realistic spread: 5k tasks in the project under test and as many in another project, over 9 states, 4 priorities,
    // 20 names, 5 queues, 10 workers and a week of creation times; some failures with exceptions, some kwargs.
    for (const projectId of [alpha, beta]) {
      await sql`
        insert into tasks (project_id, engine, task_id, name, queue, worker_name, state, priority, exception, kwargs, created_at)
        select ${projectId}::uuid, 'celery', md5(${projectId}::text || i::text), 'app.tasks.job_' || (i % 20),
               'queue-' || (i % 5), 'celery@worker-' || (i % 10),
               (array['pending','received','started','success','success','success','success','failure','retry'])[1 + i % 9]::task_state,
               (array['critical','high','normal','low'])[1 + i % 4]::task_priority,
               case when i % 9 = 7 then 'Error' || (i % 13) end,
               jsonb_build_object('user_id', i % 500),
               timestamptz '2026-03-01 00:00:00+00' + i * interval '2 minutes'
          from generate_series(1, 5000) as i`.execute(harness.db);
    }
    await sql`analyze tasks`.execute(harness.db);
    const db = harness.db;

    expectOrderedIndexScan(await planOf(db, {}), 'tasks_project_created_idx');
    expectOrderedIndexScan(await planOf(db, { state: ['failure'] }), 'tasks_project_state_created_idx');
    expectOrderedIndexScan(await planOf(db, { priority: ['high'] }), 'tasks_project_priority_created_idx');
    expectOrderedIndexScan(await planOf(db, { name: 'app.tasks.job_3' }), 'tasks_project_name_created_idx');
    expectOrderedIndexScan(await planOf(db, { queue: 'queue-2' }), 'tasks_project_queue_created_idx');
    expectOrderedIndexScan(await planOf(db, { worker: 'celery@worker-4' }), 'tasks_project_worker_created_idx');
    expectOrderedIndexScan(
      await planOf(db, { since: new Date('2026-03-03T00:00:00Z'), until: new Date('2026-03-04T00:00:00Z') }),
      'tasks_project_created_idx',
    );
    // A later page: the (created_at, id) cursor is part of the index range, still no sort.
    const after = { at: '2026-03-04T00:00:00.000000+00:00', id: 'ffffffff-ffff-4fff-bfff-ffffffffffff' };
    expectOrderedIndexScan(await planOf(db, {}, after), 'tasks_project_created_idx');
    expectOrderedIndexScan(await planOf(db, { state: ['failure'] }, after), 'tasks_project_state_created_idx');

    // Search. With 5k rows the planner may rightly read a few hundred pages rather than a trigram index, so only the
    // arms whose index wins at any size are asserted here (plans on 500k rows: see the report of this change).
    const prefix = await planOf(db, { search: 'ab' });
    // PGlite's C collation lets the planner serve the prefix from another task_id index; either way no table scan.
    if (kind === 'postgres') expect(describePlan(prefix)).toContain('tasks_project_task_id_prefix_idx');
    expect(
      prefix.some((node) => node['Relation Name'] === 'tasks' && node['Node Type'] === 'Seq Scan'),
      describePlan(prefix),
    ).toBe(false);
    const json = await planOf(db, { search: '{"user_id": 7}' });
    expect(describePlan(json)).toContain('tasks_kwargs_gin_idx');
    expect(
      json.some((node) => node['Relation Name'] === 'tasks' && node['Node Type'] === 'Seq Scan'),
      describePlan(json),
    ).toBe(false);
  });
});
