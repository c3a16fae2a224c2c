import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { api, type Page } from '../api/client';
import { keys } from '../api/queries';
import { Card, EmptyState, ErrorNote, Spinner } from '../components/ui';
import { relativeTime } from '../lib/format';

interface Summary {
  readonly items: {
    project_id: string;
    project_slug: string;
    project_name: string;
    tasks: { total: number; by_state: Record<string, number> };
    agents: { online: number; offline: number };
  }[];
}

interface Failure {
  readonly project_slug: string;
  readonly engine: string;
  readonly task_id: string;
  readonly name: string;
  readonly exception: string | null;
  readonly finished_at: string | null;
  readonly created_at: string;
}

/** Every project the caller can see: online agents, failure rate over the last 24 h, and recent failures. */
export function HomePage() {
  const summary = useQuery({ queryKey: [...keys.home, 'summary'], queryFn: () => api<Summary>('/home/summary') });
  const failures = useQuery({
    queryKey: [...keys.home, 'failures'],
    queryFn: () => api<Page<Failure>>('/home/recent-failures', { query: { limit: 20 } }),
  });
  if (summary.isPending) return <Spinner />;
  if (summary.error) return <ErrorNote error={summary.error} />;
  if (summary.data.items.length === 0) {
    return (
      <EmptyState title="No projects yet">Ask an administrator to add you to a project, or create one as an administrator.</EmptyState>
    );
  }
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Projects</h1>
      <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
        {summary.data.items.map((project) => {
          const failed = project.tasks.by_state.failure ?? 0;
          const rate = project.tasks.total === 0 ? 0 : (failed / project.tasks.total) * 100;
          return (
            <Link key={project.project_id} to="/projects/$slug" params={{ slug: project.project_slug }} className="block">
              <Card title={project.project_name}>
                <dl className="grid grid-cols-3 gap-2 text-sm">
                  <div>
                    <dt className="text-muted">Agents online</dt>
                    <dd className="text-lg font-semibold">{project.agents.online}</dd>
                  </div>
                  <div>
                    <dt className="text-muted">Tasks (24 h)</dt>
                    <dd className="text-lg font-semibold">{project.tasks.total}</dd>
                  </div>
                  <div>
                    <dt className="text-muted">Failure rate</dt>
                    <dd className={`text-lg font-semibold ${rate > 5 ? 'text-red-600' : ''}`}>{rate.toFixed(1)}%</dd>
                  </div>
                </dl>
              </Card>
            </Link>
          );
        })}
      </div>
      <Card title="Recent failures">
        {failures.data && failures.data.items.length === 0 ? (
          <p className="text-sm text-muted">No failed tasks. </p>
        ) : (
          <ul className="divide-y divide-line text-sm">
            {failures.data?.items.map((failure) => (
              <li key={`${failure.project_slug}/${failure.engine}/${failure.task_id}`} className="py-2">
                <Link
                  to="/projects/$slug/tasks/$engine/$taskId"
                  params={{ slug: failure.project_slug, engine: failure.engine, taskId: failure.task_id }}
                  className="font-medium hover:underline"
                >
                  {failure.name}
                </Link>
                <span className="ml-2 text-muted">
                  {failure.project_slug} · {failure.exception ?? 'failed'} · {relativeTime(failure.finished_at ?? failure.created_at)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}
