import { useParams } from '@tanstack/react-router';
import { useCommands } from '../api/queries';
import { Badge, EmptyState, ErrorNote, Spinner, Table } from '../components/ui';
import { relativeTime } from '../lib/format';

/** Commands issued in the project, newest first, refreshed live as agents answer. */
export function CommandsPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/commands' });
  const commands = useCommands(slug);
  if (commands.isPending) return <Spinner />;
  if (commands.error) return <ErrorNote error={commands.error} />;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Commands</h1>
      {commands.data.items.length === 0 ? (
        <EmptyState title="No commands yet">Retry or cancel a task, or act on a worker or queue, and it shows here.</EmptyState>
      ) : (
        <Table label="Commands" head={['Action', 'Target', 'Status', 'Issued', 'Error']}>
          {commands.data.items.map((command) => (
            <tr key={command.id}>
              <td className="px-3 py-2 font-medium">{command.action}</td>
              <td className="px-3 py-2 font-mono text-xs">
                {command.target_type}
                {command.target_id ? `: ${command.target_id}` : ''}
              </td>
              <td className="px-3 py-2">
                <Badge value={command.status} />
              </td>
              <td className="px-3 py-2 text-muted">{relativeTime(command.issued_at)}</td>
              <td className="px-3 py-2 text-red-700">{command.error ?? ''}</td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}
