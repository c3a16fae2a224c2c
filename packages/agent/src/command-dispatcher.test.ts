import { describe, expect, it } from 'vitest';
import type { JsonObject } from '@z4j/protocol';
import { createRedactor } from '@z4j/redaction';
import type { AgentLogger } from './agent-logger.js';
import { CommandDispatcher } from './command-dispatcher.js';
import { CommandError } from './command-error.js';
import type { CommandAction, CommandTarget, EngineAdapter, SchedulerAdapter } from './engine-adapter.js';

const silent: AgentLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function engine(
  name: string,
  capabilities: CommandAction[],
  execute: (action: CommandAction, target: CommandTarget, parameters: JsonObject, signal: AbortSignal) => Promise<JsonObject | undefined>,
): EngineAdapter {
  return {
    engine: name,
    capabilities: new Set(capabilities),
    start: () => undefined,
    stop: () => undefined,
    queueDepths: async () => ({}),
    workerDetails: async () => [],
    execute,
  };
}

function harness(adapters: EngineAdapter[]) {
  const sent: { type: string; id: string; payload: JsonObject }[] = [];
  const redactor = createRedactor();
  let resolveResult: (() => void) | undefined;
  const dispatcher = new CommandDispatcher({
    adapters,
    send: (type, id, payload) => {
      sent.push({ type, id, payload });
      if (type === 'command_result') resolveResult?.();
    },
    redact: (value) => redactor.redact(value).value as JsonObject,
    logger: silent,
    now: () => 0,
  });
  /** Dispatches and waits for the result frame of this id. */
  const run = async (id: string, payload: JsonObject) => {
    const done = new Promise<void>((resolve) => (resolveResult = resolve));
    dispatcher.handle(id, payload);
    await done;
    return sent.filter((frame) => frame.id === id);
  };
  return { sent, dispatcher, run };
}

const command = (action: string, parameters: JsonObject = {}, target: JsonObject = { type: 'task', id: 'x' }) => ({
  action,
  target,
  parameters,
  timeout_seconds: 60,
  issued_by: null,
});

describe('CommandDispatcher', () => {
  it('acks, runs on the advertised engine, then reports success with the redacted result', async () => {
    const calls: unknown[] = [];
    const { run } = harness([
      engine('fake', ['cancel_task'], async (action, target, parameters) => {
        calls.push({ action, target, parameters });
        return { cancelled: true, password: 'hunter2' };
      }),
    ]);
    const frames = await run('c1', command('cancel_task', { task_id: 't1' }, { type: 'task', id: 'fake:t1', engine: 'fake' }));
    expect(frames.map((frame) => frame.type)).toEqual(['command_ack', 'command_result']);
    expect(frames[1]!.payload).toEqual({ status: 'success', result: { cancelled: true, password: '[REDACTED]' }, error: null });
    expect(calls).toEqual([
      { action: 'cancel_task', target: { type: 'task', id: 'fake:t1', engine: 'fake' }, parameters: { task_id: 't1' } },
    ]);
  });

  it('only re-acks a command id it has already seen, without running it again', async () => {
    let runs = 0;
    const { run, dispatcher, sent } = harness([engine('fake', ['cancel_task'], async () => ((runs += 1), {}))]);
    await run('c1', command('cancel_task'));
    dispatcher.handle('c1', command('cancel_task'));
    expect(runs).toBe(1);
    expect(sent.map((frame) => frame.type)).toEqual(['command_ack', 'command_result', 'command_ack']);
  });

  it('refuses an action the adapter does not advertise, in the Python agent’s words', async () => {
    const { run } = harness([engine('fake', ['cancel_task'], async () => ({}))]);
    const frames = await run('c1', command('purge_queue'));
    expect(frames[1]!.payload).toEqual({ status: 'failed', result: null, error: "adapter 'fake' does not support action 'purge_queue'" });
    expect((await run('c2', command('frobnicate')))[1]!.payload.error).toBe("adapter 'fake' does not support action 'frobnicate'");
  });

  it('turns every adapter error into a failed result', async () => {
    const { run } = harness([
      engine('fake', ['cancel_task', 'retry_task', 'purge_queue'], (action) => {
        if (action === 'cancel_task') return Promise.reject(new CommandError('task_not_found', 'no job 42'));
        if (action === 'retry_task') return Promise.reject(new Error('redis down'));
        throw new TypeError('sync throw');
      }),
    ]);
    expect((await run('a', command('cancel_task')))[1]!.payload.error).toBe('task_not_found: no job 42');
    expect((await run('b', command('retry_task')))[1]!.payload.error).toBe('internal error: redis down');
    expect((await run('c', command('purge_queue')))[1]!.payload.error).toBe('internal error: sync throw');
    expect((await run('d', { action: 42 }))[1]!.payload.error).toMatch(/^invalid command payload: action/);
  });

  it('routes by target.engine and refuses to guess between several engines', async () => {
    const { run } = harness([
      engine('a', ['cancel_task'], async () => ({ from: 'a' })),
      engine('b', ['cancel_task'], async () => ({ from: 'b' })),
    ]);
    expect((await run('1', command('cancel_task', {}, { type: 'task', id: 'x', engine: 'b' })))[1]!.payload.result).toEqual({ from: 'b' });
    expect((await run('2', command('cancel_task')))[1]!.payload.error).toBe('no engine adapter registered for None');
    expect((await run('3', command('cancel_task', {}, { engine: 'c' })))[1]!.payload.error).toBe('no engine adapter registered for c');
  });

  it('falls back from retry_task to submit_task with the brain’s copy of the task, and answers reconcile_task with unknown', async () => {
    const calls: { action: string; parameters: JsonObject }[] = [];
    const { run } = harness([
      engine('fake', ['submit_task'], async (action, _target, parameters) => {
        calls.push({ action, parameters });
        return { task_id: 'new-1' };
      }),
    ]);
    const retry = await run(
      'r',
      command('retry_task', { task_id: 't', task_name: 'mail', args: [1], kwargs: { a: 1 }, override_args: [2], eta_seconds: 5 }),
    );
    expect(retry[1]!.payload).toMatchObject({ status: 'success', result: { task_id: 'new-1' } });
    expect(calls).toEqual([
      { action: 'submit_task', parameters: { name: 'mail', args: [2], kwargs: { a: 1 }, queue: null, eta: 5, priority: null } },
    ]);
    expect((await run('q', command('reconcile_task', { task_id: 't' })))[1]!.payload).toEqual({
      status: 'success',
      result: { engine_state: 'unknown' },
      error: null,
    });
  });

  it('aborts and fails a command that outlives its timeout_seconds', async () => {
    let signal: AbortSignal | undefined;
    const { run } = harness([
      engine('fake', ['cancel_task'], (_action, _target, _parameters, s) => {
        signal = s;
        return new Promise(() => undefined);
      }),
    ]);
    const frames = await run('slow', { ...command('cancel_task'), timeout_seconds: 1 });
    expect(frames[1]!.payload).toEqual({ status: 'failed', result: null, error: 'timeout: command did not finish within 1 s' });
    expect(signal?.aborted).toBe(true);
  });

  it('aborts running commands when the agent stops, still reporting a result', async () => {
    const { dispatcher, sent } = harness([
      engine(
        'fake',
        ['cancel_task'],
        (_a, _t, _p, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))),
      ),
    ]);
    dispatcher.handle('running', command('cancel_task'));
    expect(dispatcher.running).toBe(1);
    await dispatcher.abortAll(1_000);
    expect(dispatcher.running).toBe(0);
    expect(sent.at(-1)).toEqual({
      type: 'command_result',
      id: 'running',
      payload: { status: 'failed', result: null, error: 'agent_stopping: the agent is stopping' },
    });
  });

  it('routes schedule actions to the scheduler adapter named by target.scheduler, and resync to every scheduler', async () => {
    const calls: { action: string; target: JsonObject; parameters: JsonObject }[] = [];
    let resyncs = 0;
    const scheduler: SchedulerAdapter = {
      scheduler: 'beat',
      execute: async (action, target, parameters) => (calls.push({ action, target, parameters }), { done: action }),
      resync: async () => void (resyncs += 1),
    };
    const { run } = harness([{ ...engine('fake', [], async () => ({})), scheduler }]);
    const enable = await run(
      's1',
      command('schedule.enable', { schedule_id: 'nightly' }, { type: 'schedule', id: 'u', scheduler: 'beat' }),
    );
    expect(enable[1]!.payload).toEqual({ status: 'success', result: { done: 'schedule.enable' }, error: null });
    expect(calls).toEqual([
      { action: 'schedule.enable', target: { type: 'schedule', id: 'u', scheduler: 'beat' }, parameters: { schedule_id: 'nightly' } },
    ]);
    // The only scheduler is used when the target names none (a Python-style brain).
    expect((await run('s2', command('schedule.delete', { schedule_id: 'nightly' })))[1]!.payload.result).toEqual({
      done: 'schedule.delete',
    });
    expect((await run('s3', command('schedule.enable', {}, { scheduler: 'cron' })))[1]!.payload.error).toBe(
      'no scheduler adapter registered for cron',
    );
    expect((await run('s4', command('schedule.frobnicate')))[1]!.payload.error).toBe(
      "scheduler 'beat' does not support action 'schedule.frobnicate'",
    );
    expect((await run('s5', command('schedule.resync')))[1]!.payload.result).toEqual({ schedulers_drained: 1 });
    expect(resyncs).toBe(1);
  });
});
