import { useState, type ReactNode } from 'react';
import { useAgents, useIssueCommand } from '../api/queries';
import type { Agent, Command, Worker } from '../api/types';
import { Button, ConfirmDialog, ErrorNote, Input, Select } from './ui';

/** The worker commands of §3.1 an operator can send, each behind its own confirmation. */
export type WorkerAction = 'pool-resize' | 'add-consumer' | 'cancel-consumer' | 'restart-worker' | 'rate-limit';

/** Celery's rate grammar, as the API checks it: N, N/s, N/m or N/h; 0 clears the limit. */
const RATE_PATTERN = /^(0|[1-9]\d*(\/[smh])?)$/;

/** The agent that speaks for a worker: an online one running its engine, else any live one running it (it would queue). */
export function workerAgent(worker: Pick<Worker, 'engine'>, agents: readonly Agent[]): Agent | undefined {
  const live = agents.filter((agent) => !agent.revoked && agent.engine_adapters.includes(worker.engine));
  return live.find((agent) => agent.state === 'online') ?? live[0];
}

/** Issues worker commands for a page and remembers the latest reply (or error) for its outcome line. */
export function useWorkerCommands(slug: string, onIssued: (command: Command | undefined) => void) {
  const agents = useAgents(slug);
  const issue = useIssueCommand(slug);
  const send = (worker: Worker, action: WorkerAction, fields: Record<string, unknown>) => {
    const agent = workerAgent(worker, agents.data?.items ?? []);
    if (!agent) return;
    onIssued(undefined);
    issue.mutate({ action, body: { agent_id: agent.id, engine: worker.engine, ...fields } }, { onSuccess: onIssued });
  };
  const agentFor = (worker: Worker) => workerAgent(worker, agents.data?.items ?? []);
  return { send, agentFor, error: issue.error, pending: issue.isPending };
}

function Field({ label, children, hint }: { label: string; children: ReactNode; hint?: string }) {
  return (
    <label className="block">
      {label}
      {children}
      {hint && <span className="mt-1 block text-xs text-muted">{hint}</span>}
    </label>
  );
}

/**
 * One confirmation dialog per action: it says what will happen to which worker, collects the action's fields,
 * and only then sends. The reply (a pending command, or why it could not be sent) shows on the page.
 */
export function WorkerActionDialog({
  worker,
  action,
  queue: initialQueue = '',
  onSend,
  onClose,
}: {
  worker: Worker;
  action: WorkerAction;
  queue?: string;
  onSend: (fields: Record<string, unknown>) => void;
  onClose: () => void;
}) {
  const [direction, setDirection] = useState<'grow' | 'shrink'>('grow');
  const [delta, setDelta] = useState('1');
  const [queue, setQueue] = useState(initialQueue);
  const [taskName, setTaskName] = useState('');
  const [rate, setRate] = useState('');
  const [allWorkers, setAllWorkers] = useState(false);
  const send = (fields: Record<string, unknown>) => {
    onSend({ worker_name: worker.name, ...fields });
    onClose();
  };
  const name = <span className="font-mono">{worker.name}</span>;

  if (action === 'pool-resize') {
    const amount = Number(delta);
    const valid = Number.isInteger(amount) && amount >= 1 && amount <= 100;
    return (
      <ConfirmDialog
        title={`Resize the pool of ${worker.name}`}
        confirmLabel={`${direction === 'grow' ? 'Grow' : 'Shrink'} pool by ${valid ? amount : '…'}`}
        disabled={!valid}
        onClose={onClose}
        onConfirm={() => send({ delta: direction === 'grow' ? amount : -amount })}
      >
        <p>
          Adds or removes worker processes of {name} (concurrency now: {worker.concurrency ?? 'unknown'}). Shrinking lets running tasks
          finish first.
        </p>
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Direction">
            <Select className="mt-1 w-full" value={direction} onChange={(e) => setDirection(e.target.value as 'grow' | 'shrink')}>
              <option value="grow">Grow (add processes)</option>
              <option value="shrink">Shrink (remove processes)</option>
            </Select>
          </Field>
          <Field label="Processes" hint="1 to 100">
            <Input className="mt-1" type="number" min={1} max={100} required value={delta} onChange={(e) => setDelta(e.target.value)} />
          </Field>
        </div>
      </ConfirmDialog>
    );
  }

  if (action === 'add-consumer' || action === 'cancel-consumer') {
    const adding = action === 'add-consumer';
    const trimmed = queue.trim();
    return (
      <ConfirmDialog
        title={adding ? `Add a queue to ${worker.name}` : `Stop ${worker.name} consuming a queue`}
        confirmLabel={adding ? 'Start consuming' : 'Stop consuming'}
        variant={adding ? 'primary' : 'danger'}
        disabled={trimmed === ''}
        onClose={onClose}
        onConfirm={() => send({ queue: trimmed })}
      >
        <p>
          {adding ? 'The worker starts taking tasks from this queue as well.' : 'The worker stops taking new tasks from this queue; '}
          {!adding && 'tasks waiting there stay queued for other consumers.'}
        </p>
        {adding || worker.queues.length === 0 ? (
          <Field label="Queue">
            <Input
              className="mt-1"
              required
              maxLength={200}
              value={queue}
              onChange={(e) => setQueue(e.target.value)}
              placeholder="default"
            />
          </Field>
        ) : (
          <Field label="Queue">
            <Select className="mt-1 w-full" required value={queue} onChange={(e) => setQueue(e.target.value)}>
              <option value="">Choose a queue…</option>
              {worker.queues.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </Select>
          </Field>
        )}
      </ConfirmDialog>
    );
  }

  if (action === 'restart-worker') {
    return (
      <ConfirmDialog
        title={`Restart ${worker.name}`}
        confirmLabel="Restart worker"
        variant="danger"
        onClose={onClose}
        onConfirm={() => send({})}
      >
        <p>
          Restarts the worker {name}
          {worker.hostname ? ` on ${worker.hostname}` : ''}. Tasks it is running now may be interrupted and retried, depending on how the
          engine acknowledges them.
        </p>
      </ConfirmDialog>
    );
  }

  const rateOk = RATE_PATTERN.test(rate.trim());
  return (
    <ConfirmDialog
      title="Set a task rate limit"
      confirmLabel={rate.trim() === '0' ? 'Clear rate limit' : 'Set rate limit'}
      disabled={taskName.trim() === '' || !rateOk}
      onClose={onClose}
      onConfirm={() => send({ task_name: taskName.trim(), rate: rate.trim(), worker_name: allWorkers ? '' : worker.name })}
    >
      <Field label="Task name">
        <Input
          className="mt-1"
          required
          maxLength={500}
          value={taskName}
          onChange={(e) => setTaskName(e.target.value)}
          placeholder="app.tasks.send_email"
        />
      </Field>
      <Field label="Rate" hint="N per second by default, or N/s, N/m, N/h; 0 clears the limit">
        <Input className="mt-1" required maxLength={20} value={rate} onChange={(e) => setRate(e.target.value)} placeholder="10/m" />
      </Field>
      {rate.trim() !== '' && !rateOk && <ErrorNote error={new Error('Expected 0, N, N/s, N/m or N/h, e.g. 10/m.')} />}
      <label className="flex items-center gap-2">
        <input type="checkbox" checked={allWorkers} onChange={(e) => setAllWorkers(e.target.checked)} />
        Apply to every worker, not only {worker.name}
      </label>
    </ConfirmDialog>
  );
}

/** The action buttons of one worker; the caller decides who sees them (operators and admins). */
export function WorkerActionButtons({
  worker,
  agent,
  compact = false,
  onPick,
}: {
  worker: Worker;
  agent: Agent | undefined;
  compact?: boolean;
  onPick: (action: WorkerAction) => void;
}) {
  const disabled = agent === undefined;
  const title = disabled ? `No agent runs ${worker.engine}; commands need one` : undefined;
  const actions: readonly [WorkerAction, string][] = compact
    ? [
        ['pool-resize', 'Resize pool'],
        ['restart-worker', 'Restart'],
      ]
    : [
        ['pool-resize', 'Resize pool'],
        ['add-consumer', 'Add consumer'],
        ['cancel-consumer', 'Cancel consumer'],
        ['rate-limit', 'Rate limit'],
        ['restart-worker', 'Restart'],
      ];
  return (
    <div className="flex flex-wrap gap-2">
      {actions.map(([action, label]) => (
        <Button
          key={action}
          variant={action === 'restart-worker' ? 'danger' : 'secondary'}
          disabled={disabled}
          title={title}
          aria-label={compact ? `${label} ${worker.name}` : undefined}
          onClick={() => onPick(action)}
        >
          {label}
        </Button>
      ))}
    </div>
  );
}
