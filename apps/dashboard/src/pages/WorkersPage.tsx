import { Link, useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { useWorkers } from '../api/queries';
import type { Worker } from '../api/types';
import { useProjectRole } from '../components/AppShell';
import { CommandOutcome, useTrackedCommand } from '../components/CommandOutcome';
import { Badge, EmptyState, ErrorNote, Spinner, Table } from '../components/ui';
import { useWorkerCommands, WorkerActionButtons, WorkerActionDialog, type WorkerAction } from '../components/WorkerActions';
import { dateTime, relativeTime } from '../lib/format';

/** The engines' workers (§8): state, queues and what each processed over the last 24 h, with operator actions. */
export function WorkersPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/workers' });
  const workers = useWorkers(slug);
  const role = useProjectRole(slug);
  const canWrite = role === 'operator' || role === 'admin';
  const { command, track } = useTrackedCommand(slug);
  const commands = useWorkerCommands(slug, track);
  const [acting, setActing] = useState<{ worker: Worker; action: WorkerAction } | undefined>();

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-baseline gap-2">
        <h1 className="mr-auto text-xl font-semibold">Workers</h1>
        {workers.data && <p className="text-sm text-muted">Counts since {dateTime(workers.data.counts_since)}</p>}
      </div>
      <CommandOutcome command={command} error={commands.error} />
      {workers.isPending ? (
        <Spinner />
      ) : workers.error ? (
        <ErrorNote error={workers.error} />
      ) : workers.data.items.length === 0 ? (
        <EmptyState title="No workers seen yet">
          Workers appear when an agent reports their tasks or heartbeats.{' '}
          <Link to="/projects/$slug/agents" params={{ slug }} className="text-accent underline">
            Check your agents
          </Link>{' '}
          are connected and running next to your workers.
        </EmptyState>
      ) : (
        <Table
          label="Workers"
          minWidth="min-w-[60rem]"
          bodyTestId="worker-rows"
          head={[
            'Worker',
            'State',
            'Engine',
            'Queues',
            'Pool',
            'Active',
            'Processed',
            'Succeeded',
            'Failed',
            'Retried',
            'Heartbeat',
            canWrite ? 'Actions' : '',
          ]}
        >
          {workers.data.items.map((worker) => (
            <tr key={worker.id} className="hover:bg-surface">
              <td className="px-3 py-2">
                <Link to="/projects/$slug/workers/$workerId" params={{ slug, workerId: worker.id }} className="font-medium hover:underline">
                  {worker.name}
                </Link>
                {worker.hostname && <div className="text-xs text-muted">{worker.hostname}</div>}
              </td>
              <td className="px-3 py-2">
                <Badge value={worker.state} />
              </td>
              <td className="px-3 py-2">{worker.engine}</td>
              <td className="px-3 py-2">{worker.queues.join(', ') || '—'}</td>
              <td className="px-3 py-2">{worker.concurrency ?? '—'}</td>
              <td className="px-3 py-2">{worker.active_tasks}</td>
              <td className="px-3 py-2">{worker.processed}</td>
              <td className="px-3 py-2">{worker.succeeded}</td>
              <td className={`px-3 py-2 ${worker.failed > 0 ? 'text-red-700 dark:text-red-400' : ''}`}>{worker.failed}</td>
              <td className="px-3 py-2">{worker.retried}</td>
              <td className="px-3 py-2 text-muted">{relativeTime(worker.last_heartbeat)}</td>
              <td className="px-3 py-2">
                {canWrite && (
                  <WorkerActionButtons
                    compact
                    worker={worker}
                    agent={commands.agentFor(worker)}
                    onPick={(action) => setActing({ worker, action })}
                  />
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {acting && (
        <WorkerActionDialog
          worker={acting.worker}
          action={acting.action}
          onClose={() => setActing(undefined)}
          onSend={(fields) => commands.send(acting.worker, acting.action, fields)}
        />
      )}
    </div>
  );
}
