import { Counter, Histogram, type Registry } from 'prom-client';
import type { NormalisedEvent } from './normalise-event.js';
import type { TaskOutcome } from './task-reduction.js';

/**
 * The ingest series of §13. Counted once per stored row (after commit, from
 * the rows the insert really returned), so replays never count twice. The
 * `project` label is the project id: no extra query on the hot path.
 */

/** task_name label: cut to 128 chars, at most this many names per project, then `__overflow__`. */
export const MAX_TASK_NAMES_PER_PROJECT = 1000;
export const MAX_TASK_NAME_LABEL = 128;
export const OVERFLOW_TASK_NAME = '__overflow__';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export interface IngestMetrics {
  /** After a commit: the events that became rows, and the terminal task outcomes among them. */
  recordCommitted(events: readonly NormalisedEvent[], outcomes: readonly TaskOutcome[]): void;
  recordDeadlock(): void;
  /** A group that carried events already stored (re-sends, replays) and was written the careful way. */
  recordReplayedGroup(): void;
}

/**
 * Registers on `registry` when given (reusing a series another pipeline in the
 * same process already registered), else keeps the series unregistered.
 */
export function createIngestMetrics(registry: Registry | undefined): IngestMetrics {
  const registers = registry ? [registry] : [];
  const existing = <T>(name: string): T | undefined => registry?.getSingleMetric(name) as T | undefined;

  const eventsIngested =
    existing<Counter<'project' | 'engine' | 'kind'>>('z4j_events_ingested_total') ??
    new Counter({
      name: 'z4j_events_ingested_total',
      help: 'Events stored (new rows; replays and duplicates are not counted).',
      labelNames: ['project', 'engine', 'kind'] as const,
      registers,
    });
  const tasks =
    existing<Counter<'project' | 'task_name' | 'state'>>('z4j_tasks_total') ??
    new Counter({
      name: 'z4j_tasks_total',
      help: 'Tasks that reached a terminal state (success, failure, revoked), by task name.',
      labelNames: ['project', 'task_name', 'state'] as const,
      registers,
    });
  const duration =
    existing<Histogram<'project' | 'task_name'>>('z4j_task_duration_seconds') ??
    new Histogram({
      name: 'z4j_task_duration_seconds',
      help: 'Runtime of succeeded tasks (runtime_ms of task.succeeded).',
      labelNames: ['project', 'task_name'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
  const deadlocks =
    existing<Counter>('z4j_postgres_deadlocks_total') ??
    new Counter({
      name: 'z4j_postgres_deadlocks_total',
      help: 'Transactions that hit a Postgres deadlock (40P01) and were retried.',
      registers,
    });

  const replayedGroups =
    existing<Counter>('z4j_ingest_replayed_groups_total') ??
    new Counter({
      name: 'z4j_ingest_replayed_groups_total',
      help: 'Group commits that carried already-stored events (agent re-sends, replays) and were written in a second, careful pass.',
      registers,
    });

  const namesByProject = new Map<string, Set<string>>();
  const taskNameLabel = (projectId: string, taskName: string): string => {
    const name = taskName.length > MAX_TASK_NAME_LABEL ? taskName.slice(0, MAX_TASK_NAME_LABEL) : taskName;
    let names = namesByProject.get(projectId);
    if (!names) namesByProject.set(projectId, (names = new Set()));
    if (names.has(name)) return name;
    if (names.size >= MAX_TASK_NAMES_PER_PROJECT) return OVERFLOW_TASK_NAME;
    names.add(name);
    return name;
  };

  return {
    recordCommitted(events, outcomes) {
      // Pre-aggregate: one inc() per label set instead of per event.
      const counts = new Map<string, { project: string; engine: string; kind: string; n: number }>();
      for (const event of events) {
        const key = `${event.projectId}\u0000${event.engine}\u0000${event.kind}`;
        const entry = counts.get(key);
        if (entry) entry.n += 1;
        else counts.set(key, { project: event.projectId, engine: event.engine, kind: event.kind, n: 1 });
      }
      for (const { project, engine, kind, n } of counts.values()) eventsIngested.inc({ project, engine, kind }, n);
      for (const outcome of outcomes) {
        const taskName = taskNameLabel(outcome.projectId, outcome.taskName);
        tasks.inc({ project: outcome.projectId, task_name: taskName, state: outcome.state });
        if (outcome.durationSeconds !== undefined)
          duration.observe({ project: outcome.projectId, task_name: taskName }, outcome.durationSeconds);
      }
    },
    recordDeadlock() {
      deadlocks.inc();
    },
    recordReplayedGroup() {
      replayedGroups.inc();
    },
  };
}
