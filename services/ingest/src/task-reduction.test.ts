import { describe, expect, it } from 'vitest';
import type { JsonObject } from '@z4j/protocol';
import type { NormalisedEvent } from './normalise-event.js';
import { reduceTaskEvents, stateWins, taskOutcomes } from './task-reduction.js';

const projectId = '11111111-2222-4333-8444-555555555555';
let counter = 0;

function ev(kind: string, at: number, data: JsonObject = {}, taskId = 't1', engine = 'celery'): NormalisedEvent {
  counter += 1;
  return {
    id: `id-${counter}`,
    projectId,
    agentId: null,
    engine,
    kind,
    taskId,
    occurredMicros: at,
    storedMicros: at,
    clamped: false,
    data,
    payload: '{}',
  };
}

function reduceOne(events: NormalisedEvent[]) {
  const deltas = reduceTaskEvents(events);
  expect(deltas).toHaveLength(1);
  return deltas[0]!;
}

describe('reduceTaskEvents', () => {
  it('terminal beats in-flight whatever the order and the timestamps', () => {
    const lifecycle = [ev('task.received', 1), ev('task.started', 2), ev('task.succeeded', 3, { result: 42, runtime_ms: 10 })];
    for (const order of [lifecycle, [...lifecycle].reverse(), [lifecycle[2]!, lifecycle[0]!, lifecycle[1]!]]) {
      const delta = reduceOne(order);
      expect(delta).toMatchObject({
        state: 'success',
        receivedMicros: 1,
        startedMicros: 2,
        finishedMicros: 3,
        result: '42',
        runtimeMs: 10,
      });
    }
    // A started stamped AFTER the success still does not revert it.
    expect(reduceOne([ev('task.succeeded', 3), ev('task.started', 9)]).state).toBe('success');
  });

  it('within a tier the newer event wins; an exact tie goes to the higher rank', () => {
    expect(reduceOne([ev('task.started', 5), ev('task.received', 4)]).state).toBe('started');
    expect(reduceOne([ev('task.retried', 6), ev('task.received', 7)]).state).toBe('received');
    expect(reduceOne([ev('task.received', 5), ev('task.started', 5)]).state).toBe('started');
    expect(reduceOne([ev('task.started', 5), ev('task.received', 5)]).state).toBe('started');
    expect(stateWins('failure', 3, 'success', 4)).toBe(false);
    expect(stateWins('revoked', 4, 'success', 4)).toBe(true);
    expect(stateWins('received', 100, 'failure', 1)).toBe(false);
  });

  it('retried then succeeded ends success with the retry count; uncounted retries are counted', () => {
    const delta = reduceOne([
      ev('task.received', 1),
      ev('task.retried', 2, { retry_count: 1 }),
      ev('task.retried', 3, { retry_count: 2 }),
      ev('task.succeeded', 4),
    ]);
    expect(delta).toMatchObject({ state: 'success', retryCount: 2, retriesUncounted: 0 });
    expect(reduceOne([ev('task.retried', 2), ev('task.retried', 3)]).retriesUncounted).toBe(2);
  });

  it('a success clears the failure details even when the failure is newer in the batch order', () => {
    const delta = reduceOne([ev('task.succeeded', 5), ev('task.failed', 4, { exception: 'ValueError', traceback: 'tb' })]);
    expect(delta).toMatchObject({ state: 'success', exception: null, traceback: null });
    expect(reduceOne([ev('task.failed', 4, { exception: 'ValueError', traceback: 'tb' })])).toMatchObject({
      state: 'failure',
      exception: 'ValueError',
      traceback: 'tb',
    });
  });

  it('maps the informational fields', () => {
    const delta = reduceOne([
      ev('task.sent', 1, { task_name: 'app.add', queue: 'default', priority: 'bogus' }),
      ev('task.received', 2, {
        task_name: 'app.add',
        args: [1, 2],
        kwargs: { x: 1 },
        parent_task_id: 'p1',
        root_task_id: 't1',
        tags: ['a', 'a', 'b', 3],
      }),
      ev('task.started', 3, { worker: 'celery@h1', priority: 'high', eta: '2026-11-22T22:57:51Z' }),
    ]);
    expect(delta).toMatchObject({
      name: 'app.add',
      queue: 'default',
      workerName: 'celery@h1',
      priority: 'high',
      args: '[1,2]',
      kwargs: '{"x":1}',
      parentTaskId: 'p1',
      rootTaskId: null, // self reference
      tags: ['a', 'b', '3'],
      state: 'started',
      etaMicros: 1795388271000000,
    });
    expect(reduceOne([ev('task.sent', 1, { priority: 'bogus' })]).priority).toBe('normal');
    expect(reduceOne([ev('task.sent', 1)])).toMatchObject({ state: null, priority: null, name: null });
    expect(reduceOne([ev('task.received', 1, { parent_task_id: 'x'.repeat(201) })]).parentTaskId).toBeNull();
    expect(reduceOne([ev('task.succeeded', 1, { runtime_ms: -5 })]).runtimeMs).toBeNull();
  });

  it('one delta per (project, engine, task), sorted by that key; non-task events are ignored', () => {
    const deltas = reduceTaskEvents([
      ev('task.started', 1, {}, 'b'),
      ev('task.started', 1, {}, 'a', 'rq'),
      ev('task.started', 1, {}, 'a'),
      ev('worker.online', 1, {}, ''),
      ev('unknown', 1, {}, 'z'),
    ]);
    expect(deltas.map((delta) => `${delta.engine}/${delta.taskId}`)).toEqual(['celery/a', 'celery/b', 'rq/a']);
  });
});

describe('taskOutcomes', () => {
  it('lists terminal outcomes with durations from runtime_ms', () => {
    expect(
      taskOutcomes([
        ev('task.started', 1),
        ev('task.succeeded', 2, { task_name: 'app.add', runtime_ms: 1500 }),
        ev('task.failed', 3),
        ev('task.revoked', 4, { task_name: 'x' }),
      ]),
    ).toEqual([
      { projectId, taskName: 'app.add', state: 'success', durationSeconds: 1.5 },
      { projectId, taskName: 'unknown', state: 'failure', durationSeconds: undefined },
      { projectId, taskName: 'x', state: 'revoked', durationSeconds: undefined },
    ]);
  });
});
