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

interface DepthSeries {
  readonly engine: string;
  readonly queue: string;
  readonly points: readonly { minute: string; depth: number }[];
}

const HISTORY_MINUTES = 60;

/** The last hour of a queue's depth (one point per minute with a heartbeat) as a small line; empty until samples exist. */
function DepthSparkline({ series, since }: { series: DepthSeries | undefined; since: number }) {
  if (!series || series.points.length === 0) return <span className="text-xs text-muted">no history yet</span>;
  const width = 120;
  const height = 24;
  const max = Math.max(1, ...series.points.map((point) => point.depth));
  const xy = series.points.map((point) => {
    const x = ((Date.parse(point.minute) - since) / (HISTORY_MINUTES * 60_000)) * width;
    return `${Math.max(0, Math.min(width, x)).toFixed(1)},${(height - 2 - (point.depth / max) * (height - 4)).toFixed(1)}`;
  });
  const last = series.points.at(-1)!;
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      className="h-6 w-32"
      role="img"
      aria-label={`Depth over the last hour, now ${last.depth}, peak ${max}`}
    >
      <title>{`Last hour: peak ${max}, latest ${last.depth}`}</title>
      <polyline points={xy.join(' ')} fill="none" className="stroke-accent" strokeWidth="1.5" />
    </svg>
  );
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
  // Samples land once a minute per queue; no push topic carries them, so the history refreshes on that cadence.
  const history = useQuery({
    queryKey: [slug, 'agents', 'queue-depths'],
    queryFn: () => api<{ since: string; items: DepthSeries[] }>(`/projects/${slug}/queues/depths`, { query: { minutes: HISTORY_MINUTES } }),
    refetchInterval: 60_000,
  });
  const seriesOf = (queue: Queue) => history.data?.items.find((item) => item.engine === queue.engine && item.queue === queue.name);
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
        <Table label="Queues" head={['Queue', 'Engine', 'Depth', 'Last hour', 'Last seen', '']}>
          {queues.data.items.map((queue) => (
            <tr key={queue.id}>
              <td className="px-3 py-2 font-medium">{queue.name}</td>
              <td className="px-3 py-2">{queue.engine}</td>
              <td className="px-3 py-2">{queue.depth ?? '—'}</td>
              <td className="px-3 py-2">
                <DepthSparkline series={seriesOf(queue)} since={Date.parse(history.data?.since ?? new Date().toISOString())} />
              </td>
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
