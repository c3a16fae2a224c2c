import { Link, useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { useWorker } from '../api/queries';
import { useProjectRole } from '../components/AppShell';
import { CommandOutcome, useTrackedCommand } from '../components/CommandOutcome';
import { Badge, Button, Card, EmptyState, ErrorNote, Facts, Pre, Spinner } from '../components/ui';
import { useWorkerCommands, WorkerActionButtons, WorkerActionDialog, type WorkerAction } from '../components/WorkerActions';
import { dateTime, prettyJson, relativeTime } from '../lib/format';

function bytes(value: number | null): string {
  if (value === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'object' && Object.keys(value).length === 0);
}

/** One worker: what it runs and did, what its engine reported, and the operator actions on it. */
export function WorkerDetailPage() {
  const { slug, workerId } = useParams({ from: '/app/projects/$slug/workers/$workerId' });
  const detail = useWorker(slug, workerId);
  const role = useProjectRole(slug);
  const canWrite = role === 'operator' || role === 'admin';
  const { command, track } = useTrackedCommand(slug);
  const commands = useWorkerCommands(slug, track);
  const [acting, setActing] = useState<{ action: WorkerAction; queue?: string } | undefined>();

  if (detail.isPending) return <Spinner />;
  if (detail.error) return <ErrorNote error={detail.error} />;
  const worker = detail.data;
  const agent = commands.agentFor(worker);

  return (
    <div className="space-y-4">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link to="/projects/$slug/workers" params={{ slug }} className="text-accent underline">
          Workers
        </Link>
      </nav>
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-semibold break-all">{worker.name}</h1>
        <Badge value={worker.state} />
        {canWrite && (
          <div className="sm:ml-auto">
            <WorkerActionButtons worker={worker} agent={agent} onPick={(action) => setActing({ action })} />
          </div>
        )}
      </div>
      {canWrite && !agent && (
        <p className="text-sm text-amber-700 dark:text-amber-400">
          No agent of this project runs {worker.engine}; worker commands need one.
        </p>
      )}
      <CommandOutcome command={command} error={commands.error} />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Details">
          <Facts
            columns="grid-cols-2"
            items={
              [
                ['Engine', worker.engine],
                ['Host', worker.hostname ?? '—'],
                ['PID', worker.pid ?? '—'],
                ['Pool (concurrency)', worker.concurrency ?? '—'],
                ['Active tasks', worker.active_tasks],
                ['Load average', worker.load_average?.map((value) => value.toFixed(2)).join(' · ') ?? '—'],
                ['Memory', bytes(worker.memory_bytes)],
                ['Last heartbeat', relativeTime(worker.last_heartbeat)],
                ['First seen', dateTime(worker.created_at)],
              ] as const
            }
          />
        </Card>
        <Card title={`Tasks since ${dateTime(worker.counts_since)}`}>
          <dl className="grid grid-cols-2 gap-3 text-sm sm:grid-cols-4">
            {(
              [
                ['Processed', worker.processed],
                ['Succeeded', worker.succeeded],
                ['Failed', worker.failed],
                ['Retried', worker.retried],
              ] as const
            ).map(([label, value]) => (
              <div key={label}>
                <dt className="text-muted">{label}</dt>
                <dd className={`text-lg font-semibold ${label === 'Failed' && value > 0 ? 'text-red-600' : ''}`}>{value}</dd>
              </div>
            ))}
          </dl>
        </Card>
      </div>
      <Card
        title="Queues consumed"
        actions={
          canWrite && (
            <Button disabled={!agent} onClick={() => setActing({ action: 'add-consumer' })}>
              Add consumer
            </Button>
          )
        }
      >
        {worker.queues.length === 0 ? (
          <p className="text-sm text-muted">The engine has not reported which queues this worker consumes.</p>
        ) : (
          <ul className="divide-y divide-line text-sm">
            {worker.queues.map((queue) => (
              <li key={queue} className="flex items-center justify-between gap-2 py-2">
                <span className="font-mono">{queue}</span>
                {canWrite && (
                  <Button
                    variant="ghost"
                    disabled={!agent}
                    aria-label={`Stop consuming ${queue}`}
                    onClick={() => setActing({ action: 'cancel-consumer', queue })}
                  >
                    Stop consuming
                  </Button>
                )}
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card title="Reported by the engine">
        {isEmpty(worker.metadata) ? (
          <EmptyState title="Nothing reported yet">
            Stats, active tasks and configuration appear once the agent sends worker details.
          </EmptyState>
        ) : (
          <Pre>{prettyJson(worker.metadata)}</Pre>
        )}
      </Card>
      {acting && (
        <WorkerActionDialog
          worker={worker}
          action={acting.action}
          queue={acting.queue}
          onClose={() => setActing(undefined)}
          onSend={(fields) => commands.send(worker, acting.action, fields)}
        />
      )}
    </div>
  );
}
