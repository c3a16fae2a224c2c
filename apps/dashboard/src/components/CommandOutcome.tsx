import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError } from '../api/client';
import { keys } from '../api/queries';
import type { Command } from '../api/types';
import { Badge, ErrorNote } from './ui';

/**
 * The command a page just issued, followed as it moves on (pending → dispatched → completed | failed | timeout):
 * its query sits under the project's `commands` key, so each `command.changed` push refetches it.
 */
export function useTrackedCommand(slug: string) {
  const [issued, setIssued] = useState<Command | undefined>();
  const followed = useQuery({
    queryKey: [...keys.commands(slug), 'tracked', issued?.id],
    queryFn: () => api<Command>(`/projects/${slug}/commands/${issued!.id}`),
    enabled: issued !== undefined,
    initialData: issued,
  });
  return { command: issued && followed.data, track: setIssued };
}

/** What became of an issued command: its status badge and error, or why it could not be sent. */
export function CommandOutcome({ command, error }: { command: Command | undefined; error: unknown }) {
  const offline = error instanceof ApiError && error.code === 'agent_offline';
  if (offline)
    return <p className="text-sm text-amber-700 dark:text-amber-400">The agent is offline; the command waits for it until it times out.</p>;
  if (error) return <ErrorNote error={error} />;
  if (!command) return null;
  return (
    <p className="text-sm" data-testid="command-outcome" role="status">
      Command {command.action}
      {command.target_id ? <span className="font-mono text-xs"> ({command.target_id})</span> : null}: <Badge value={command.status} />
      {command.error && <span className="ml-2 text-red-700 dark:text-red-400">{command.error}</span>}
    </p>
  );
}
