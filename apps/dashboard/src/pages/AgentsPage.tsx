import { useParams } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { useAgents, useMintAgent, useProjects, useRevokeAgent } from '../api/queries';
import type { MintedAgent } from '../api/types';
import { useProjectRole } from '../components/AppShell';
import { Badge, Button, CopyButton, Dialog, EmptyState, ErrorNote, Input, Pre, Spinner, Table } from '../components/ui';
import { relativeTime } from '../lib/format';

function envSnippets(minted: MintedAgent, projectId: string): { python: string; node: string } {
  const brainUrl = window.location.origin;
  const python = [
    `Z4J_BRAIN_URL=${brainUrl}`,
    `Z4J_TOKEN=${minted.token}`,
    `Z4J_HMAC_SECRET=${minted.hmac_secret}`,
    `Z4J_PROJECT_ID=${projectId}`,
    `Z4J_AGENT_NAME=${minted.agent.name}`,
  ].join('\n');
  const node = `${python}\n# then, in your worker:\n# import { createAgent, agentOptionsFromEnv } from '@z4j/agent';`;
  return { python, node };
}

/** The token and secret exist only in this reply: shown once, with copy buttons and ready-to-paste env files. */
function MintedSecrets({ minted, projectId }: { minted: MintedAgent; projectId: string }) {
  const snippets = envSnippets(minted, projectId);
  const [tab, setTab] = useState<'python' | 'node'>('python');
  return (
    <div className="space-y-3 text-sm">
      <p className="rounded-md bg-amber-50 p-2 text-amber-900 dark:bg-amber-950 dark:text-amber-200">
        Copy these now: the token and the secret are not shown again.
      </p>
      <div>
        <div className="flex items-center justify-between">
          <span className="font-medium">Token</span>
          <CopyButton value={minted.token} />
        </div>
        <Pre>
          <span data-testid="minted-token">{minted.token}</span>
        </Pre>
      </div>
      <div>
        <div className="flex items-center justify-between">
          <span className="font-medium">HMAC secret</span>
          <CopyButton value={minted.hmac_secret} />
        </div>
        <Pre>
          <span data-testid="minted-secret">{minted.hmac_secret}</span>
        </Pre>
      </div>
      <div>
        <div className="flex gap-2" role="tablist">
          {(['python', 'node'] as const).map((name) => (
            <Button
              key={name}
              role="tab"
              aria-selected={tab === name}
              variant={tab === name ? 'primary' : 'secondary'}
              onClick={() => setTab(name)}
            >
              {name === 'python' ? 'Python agent (.env)' : 'Node agent (.env)'}
            </Button>
          ))}
          <CopyButton value={snippets[tab]} label="Copy env" />
        </div>
        <Pre>{snippets[tab]}</Pre>
      </div>
    </div>
  );
}

export function AgentsPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/agents' });
  const agents = useAgents(slug);
  const role = useProjectRole(slug);
  const mint = useMintAgent(slug);
  const revoke = useRevokeAgent(slug);
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [minted, setMinted] = useState<MintedAgent | undefined>();
  const isAdmin = role === 'admin';
  const projectId = useProjects().data?.items.find((item) => item.slug === slug)?.id ?? '';

  const submit = (event: FormEvent) => {
    event.preventDefault();
    mint.mutate(name.trim(), { onSuccess: setMinted });
  };
  const close = () => {
    setOpen(false);
    setMinted(undefined);
    setName('');
    mint.reset();
  };

  return (
    <div className="space-y-3">
      <div className="flex items-center">
        <h1 className="mr-auto text-xl font-semibold">Agents</h1>
        {isAdmin && (
          <Button variant="primary" onClick={() => setOpen(true)}>
            Mint agent
          </Button>
        )}
      </div>
      {agents.isPending ? (
        <Spinner />
      ) : agents.error ? (
        <ErrorNote error={agents.error} />
      ) : agents.data.items.length === 0 ? (
        <EmptyState title="No agents yet">
          {isAdmin ? 'Mint one, then start it next to your workers with the token and secret it shows.' : 'A project admin can mint one.'}
        </EmptyState>
      ) : (
        <Table label="Agents" head={['Name', 'State', 'Engines', 'Last seen', '']}>
          {agents.data.items.map((agent) => (
            <tr key={agent.id}>
              <td className="px-3 py-2 font-medium">{agent.name}</td>
              <td className="px-3 py-2">
                <Badge value={agent.revoked ? 'revoked' : agent.state} />
              </td>
              <td className="px-3 py-2">{agent.engine_adapters.join(', ') || '—'}</td>
              <td className="px-3 py-2 text-muted">{relativeTime(agent.last_seen_at)}</td>
              <td className="px-3 py-2 text-right">
                {isAdmin && !agent.revoked && (
                  <Button
                    variant="danger"
                    onClick={() => {
                      if (window.confirm(`Revoke ${agent.name}? Its token stops working at once.`)) revoke.mutate(agent.id);
                    }}
                  >
                    Revoke
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <ErrorNote error={revoke.error} />
      <Dialog open={open} onClose={close} title={minted ? `Agent ${minted.agent.name}` : 'Mint an agent'}>
        {minted ? (
          <MintedSecrets minted={minted} projectId={projectId} />
        ) : (
          <form className="space-y-3" onSubmit={submit}>
            <label className="block text-sm">
              Name
              <Input
                name="agent-name"
                required
                maxLength={100}
                value={name}
                onChange={(e) => setName(e.target.value)}
                placeholder="billing-workers"
              />
            </label>
            <ErrorNote error={mint.error} />
            <div className="flex justify-end">
              <Button type="submit" variant="primary" disabled={mint.isPending}>
                Mint
              </Button>
            </div>
          </form>
        )}
      </Dialog>
    </div>
  );
}
