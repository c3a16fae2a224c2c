import { useQuery } from '@tanstack/react-query';
import { useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { purgeConfirmToken } from '@z4j/protocol/purge-confirm';
import { api, type Page } from '../api/client';
import { useAgents, useIssueCommand } from '../api/queries';
import { CommandOutcome, useTrackedCommand } from '../components/CommandOutcome';
import type { Command } from '../api/types';
import { useProjectRole } from '../components/AppShell';
import { Badge, Button, Dialog, EmptyState, ErrorNote, Input, Spinner, Table } from '../components/ui';
import { relativeTime } from '../lib/format';

interface Queue {
  readonly id: string;
  readonly engine: string;
  readonly name: string;
  readonly depth: number | null;
  readonly last_seen_at: string | null;
}

/**
 * Purging deletes every waiting task of a queue: the dialog shows how many
 * first, and the button stays disabled until the queue's name is typed. The
 * confirm token binds the command to that count, so the agent refuses if the
 * queue changed since (§3).
 */
function PurgeDialog({ slug, queue, onClose }: { slug: string; queue: Queue; onClose: () => void }) {
  const agents = useAgents(slug);
  const issue = useIssueCommand(slug);
  const [typed, setTyped] = useState('');
  const [done, setDone] = useState<Command | undefined>();
  const agent = agents.data?.items.find((item) => !item.revoked && item.state === 'online' && item.engine_adapters.includes(queue.engine));
  const depth = queue.depth ?? 0;
  const purge = async () => {
    if (!agent) return;
    const confirm = await purgeConfirmToken(queue.name, depth);
    issue.mutate(
      { action: 'purge-queue', wait: true, body: { agent_id: agent.id, engine: queue.engine, queue: queue.name, confirm_token: confirm } },
      { onSuccess: setDone },
    );
  };
  return (
    <Dialog open onClose={onClose} title={`Purge ${queue.name}`}>
      <div className="space-y-3 text-sm">
        <p>
          This deletes <strong>{depth} tasks</strong> waiting in <span className="font-mono">{queue.name}</span> ({queue.engine}). It cannot
          be undone.
        </p>
        {!agent && <ErrorNote error={new Error(`No online agent runs ${queue.engine}; a purge needs one.`)} />}
        <label className="block">
          Type the queue name to confirm
          <Input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
        </label>
        <ErrorNote error={issue.error} />
        {done && (
          <p data-testid="command-outcome">
            Purge: <Badge value={done.status} /> {done.error}
          </p>
        )}
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Close</Button>
          <Button
            variant="danger"
            disabled={typed !== queue.name || !agent || issue.isPending || done !== undefined}
            onClick={() => void purge()}
          >
            Purge queue
          </Button>
        </div>
      </div>
    </Dialog>
  );
}

export function QueuesPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/queues' });
  const role = useProjectRole(slug);
  const queues = useQuery({
    queryKey: [slug, 'agents', 'queues'],
    queryFn: () => api<Page<Queue>>(`/projects/${slug}/queues`, { query: { limit: 200 } }),
  });
  const [purging, setPurging] = useState<Queue | undefined>();
  const agents = useAgents(slug);
  const issue = useIssueCommand(slug);
  const tracked = useTrackedCommand(slug);
  const canOperate = role === 'operator' || role === 'admin';
  /** Pausing needs an online agent running the queue's engine (engines without pause answer `failed`). */
  const agentFor = (queue: Queue) =>
    agents.data?.items.find((item) => !item.revoked && item.state === 'online' && item.engine_adapters.includes(queue.engine));
  const setState = (queue: Queue, action: 'pause-queue' | 'resume-queue') => {
    const agent = agentFor(queue);
    if (!agent) return;
    issue.mutate({ action, body: { agent_id: agent.id, engine: queue.engine, queue: queue.name } }, { onSuccess: tracked.track });
  };
  if (queues.isPending) return <Spinner />;
  if (queues.error) return <ErrorNote error={queues.error} />;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Queues</h1>
      {queues.data.items.length === 0 ? (
        <EmptyState title="No queues seen yet">Queues appear when an agent reports tasks or heartbeats with queue depths.</EmptyState>
      ) : (
        <Table label="Queues" head={['Queue', 'Engine', 'Depth', 'Last seen', '']}>
          {queues.data.items.map((queue) => (
            <tr key={queue.id}>
              <td className="px-3 py-2 font-medium">{queue.name}</td>
              <td className="px-3 py-2">{queue.engine}</td>
              <td className="px-3 py-2">{queue.depth ?? '—'}</td>
              <td className="px-3 py-2 text-muted">{relativeTime(queue.last_seen_at)}</td>
              <td className="px-3 py-2 text-right">
                <div className="flex justify-end gap-2">
                  {canOperate && (
                    <>
                      <Button
                        aria-label={`Pause ${queue.name}`}
                        disabled={!agentFor(queue) || issue.isPending}
                        onClick={() => setState(queue, 'pause-queue')}
                      >
                        Pause
                      </Button>
                      <Button
                        aria-label={`Resume ${queue.name}`}
                        disabled={!agentFor(queue) || issue.isPending}
                        onClick={() => setState(queue, 'resume-queue')}
                      >
                        Resume
                      </Button>
                    </>
                  )}
                  {role === 'admin' && (
                    <Button variant="danger" aria-label={`Purge ${queue.name}`} onClick={() => setPurging(queue)}>
                      Purge
                    </Button>
                  )}
                </div>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <CommandOutcome command={tracked.command} error={issue.error} />
      {purging && <PurgeDialog slug={slug} queue={purging} onClose={() => setPurging(undefined)} />}
    </div>
  );
}
