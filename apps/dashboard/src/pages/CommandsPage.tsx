import { useParams } from '@tanstack/react-router';
import { useCommands } from '../api/queries';
import { Badge, EmptyState, ErrorNote, Spinner } from '../components/ui';
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
        <div className="overflow-x-auto rounded-lg border border-line bg-panel">
          <table className="w-full text-left text-sm">
            <thead className="border-b border-line text-xs text-muted uppercase">
              <tr>
                <th className="px-3 py-2">Action</th>
                <th className="px-3 py-2">Target</th>
                <th className="px-3 py-2">Status</th>
                <th className="px-3 py-2">Issued</th>
                <th className="px-3 py-2">Error</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-line">
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
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
