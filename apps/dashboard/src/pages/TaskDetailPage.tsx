import { useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { useAgents, useIssueCommand, useTask } from '../api/queries';
import type { Agent, Task, TaskEvent } from '../api/types';
import { useProjectRole } from '../components/AppShell';
import { TaskTree } from '../components/TaskTree';
import { CommandOutcome, useTrackedCommand } from '../components/CommandOutcome';
import { Badge, Button, Card, Dialog, ErrorNote, Facts, Pre, Spinner } from '../components/ui';
import { dateTime, duration, prettyJson } from '../lib/format';

const REDACTED = '[REDACTED]';

/** JSON with the values the redaction engine masked called out, so nobody mistakes them for the real data. */
function JsonBlock({ value }: { value: unknown }) {
  const text = prettyJson(value);
  const redacted = text.includes(REDACTED);
  return (
    <div>
      {redacted && <p className="mb-1 text-xs text-amber-700 dark:text-amber-400">Values shown as {REDACTED} were masked by redaction.</p>}
      <Pre>{text}</Pre>
    </div>
  );
}

/** The agent to send a command about this task to: the one that reported it last, else any online agent running its engine. */
function commandAgent(task: Task, events: readonly TaskEvent[], agents: readonly Agent[]): Agent | undefined {
  const live = agents.filter((agent) => !agent.revoked);
  const reporter = [...events].reverse().find((event) => event.agent_id)?.agent_id;
  return (
    live.find((agent) => agent.id === reporter) ??
    live.find((agent) => agent.state === 'online' && agent.engine_adapters.includes(task.engine)) ??
    live.find((agent) => agent.engine_adapters.includes(task.engine))
  );
}

function RetryDialog({
  open,
  onClose,
  onRetry,
  task,
}: {
  open: boolean;
  onClose: () => void;
  onRetry: (body: Record<string, unknown>) => void;
  task: Task;
}) {
  const [args, setArgs] = useState('');
  const [kwargs, setKwargs] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = () => {
    try {
      const body: Record<string, unknown> = {};
      if (args.trim()) body.override_args = JSON.parse(args) as unknown;
      if (kwargs.trim()) body.override_kwargs = JSON.parse(kwargs) as unknown;
      setError(null);
      onRetry(body);
    } catch {
      setError('Overrides must be JSON: a list for args, an object for kwargs.');
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title={`Retry ${task.name}`}>
      <div className="space-y-3 text-sm">
        <p className="text-muted">Leave the overrides empty to run the task again with its original arguments.</p>
        <label className="block">
          Override args (JSON list)
          <textarea
            className="mt-1 w-full rounded-md border border-line bg-panel p-2 font-mono text-xs"
            rows={3}
            value={args}
            onChange={(e) => setArgs(e.target.value)}
          />
        </label>
        <label className="block">
          Override kwargs (JSON object)
          <textarea
            className="mt-1 w-full rounded-md border border-line bg-panel p-2 font-mono text-xs"
            rows={3}
            value={kwargs}
            onChange={(e) => setKwargs(e.target.value)}
          />
        </label>
        {error && <ErrorNote error={new Error(error)} />}
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" onClick={submit}>
            Retry task
          </Button>
        </div>
      </div>
    </Dialog>
  );
}

export function TaskDetailPage() {
  const { slug, engine, taskId } = useParams({ from: '/app/projects/$slug/tasks/$engine/$taskId' });
  const detail = useTask(slug, engine, taskId);
  const agents = useAgents(slug);
  const role = useProjectRole(slug);
  const issue = useIssueCommand(slug);
  const [retrying, setRetrying] = useState(false);
  const { command, track } = useTrackedCommand(slug);

  if (detail.isPending) return <Spinner />;
  if (detail.error) return <ErrorNote error={detail.error} />;
  const { task, events } = detail.data;
  const agent = commandAgent(task, events, agents.data?.items ?? []);
  const canWrite = role === 'operator' || role === 'admin';

  const send = (action: 'retry-task' | 'cancel-task', extra: Record<string, unknown> = {}) => {
    if (!agent) return;
    track(undefined);
    issue.mutate({ action, body: { agent_id: agent.id, engine: task.engine, task_id: task.task_id, ...extra } }, { onSuccess: track });
  };

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-semibold">{task.name}</h1>
        <Badge value={task.state} />
        {canWrite && (
          <div className="ml-auto flex gap-2">
            <Button
              variant="primary"
              disabled={!agent || issue.isPending}
              onClick={() => setRetrying(true)}
              title={agent ? undefined : 'No agent runs this engine'}
            >
              Retry
            </Button>
            <Button variant="danger" disabled={!agent || issue.isPending} onClick={() => send('cancel-task')}>
              Cancel
            </Button>
          </div>
        )}
      </div>
      <CommandOutcome command={command} error={issue.error} />
      <Card title="Details">
        <Facts
          columns="sm:grid-cols-3"
          items={
            [
              ['Task id', <span className="font-mono">{task.task_id}</span>],
              ['Engine', task.engine],
              ['Queue', task.queue ?? '—'],
              ['Worker', task.worker_name ?? '—'],
              ['Retries', task.retry_count],
              ['Runtime', duration(task.runtime_ms)],
              ['Received', dateTime(task.received_at)],
              ['Started', dateTime(task.started_at)],
              ['Finished', dateTime(task.finished_at)],
              ['Parent', task.parent_task_id ?? '—'],
              ['Root', task.root_task_id ?? '—'],
            ] as const
          }
        />
      </Card>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Args">
          <JsonBlock value={task.args} />
        </Card>
        <Card title="Kwargs">
          <JsonBlock value={task.kwargs} />
        </Card>
        <Card title="Result">
          <JsonBlock value={task.result} />
        </Card>
        <Card title="Exception">
          {task.exception ? (
            <div className="space-y-2">
              <p className="font-mono text-sm text-red-700 dark:text-red-400">{task.exception}</p>
              {task.traceback && <Pre>{task.traceback}</Pre>}
            </div>
          ) : (
            <p className="text-sm text-muted">None</p>
          )}
        </Card>
      </div>
      <Card title="Canvas">
        <TaskTree slug={slug} engine={engine} taskId={taskId} />
      </Card>
      <Card title="Timeline">
        <ol className="space-y-2 text-sm" data-testid="timeline">
          {events.map((event) => (
            <li key={event.id} className="flex gap-3">
              <span className="w-48 shrink-0 text-muted">{dateTime(event.occurred_at)}</span>
              <span className="font-medium">{event.kind}</span>
            </li>
          ))}
        </ol>
      </Card>
      <RetryDialog
        open={retrying}
        task={task}
        onClose={() => setRetrying(false)}
        onRetry={(body) => {
          setRetrying(false);
          send('retry-task', body);
        }}
      />
    </div>
  );
}
