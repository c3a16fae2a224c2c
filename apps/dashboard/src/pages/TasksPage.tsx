import { Link, useNavigate, useParams, useSearch } from '@tanstack/react-router';
import { useState } from 'react';
import { apiUrl } from '../api/client';
import { useTasks, type TaskFilters } from '../api/queries';
import { TASK_STATES } from '../api/types';
import { Badge, Button, EmptyState, ErrorNote, Input, Spinner, Table } from '../components/ui';
import { duration, relativeTime } from '../lib/format';
import { useSavedViews } from '../lib/saved-views';

/** Tasks of a project: state filter and free-text search in the URL (shareable), cursor paging, export. */
export function TasksPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/tasks' });
  const search = useSearch({ from: '/app/projects/$slug/tasks' });
  const navigate = useNavigate({ from: '/projects/$slug/tasks' });
  const filters: TaskFilters = { state: search.state, search: search.q };
  const [draft, setDraft] = useState(search.q ?? '');
  const tasks = useTasks(slug, filters);
  const rows = tasks.data?.pages.flatMap((page) => page.items) ?? [];
  const exportQuery = { state: filters.state, search: filters.search };
  const saved = useSavedViews(slug);
  const filtered = Boolean(search.state || search.q);

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-2">
        <h1 className="mr-auto text-xl font-semibold">Tasks</h1>
        <form
          className="flex gap-2"
          role="search"
          onSubmit={(event) => {
            event.preventDefault();
            void navigate({ search: (prev) => ({ ...prev, q: draft || undefined }) });
          }}
        >
          <Input
            aria-label="Search tasks"
            placeholder="Name, id, args, exception…"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
          <Button type="submit">Search</Button>
        </form>
        <select
          aria-label="State"
          className="rounded-md border border-line bg-panel px-2 py-1.5 text-sm"
          value={search.state ?? ''}
          onChange={(event) => void navigate({ search: (prev) => ({ ...prev, state: event.target.value || undefined }) })}
        >
          <option value="">Any state</option>
          {TASK_STATES.map((state) => (
            <option key={state} value={state}>
              {state}
            </option>
          ))}
        </select>
        {(['csv', 'xlsx', 'json'] as const).map((format) => (
          <a
            key={format}
            className="text-sm text-accent underline"
            href={apiUrl(`/projects/${slug}/tasks`, { ...exportQuery, format })}
            download
          >
            {format.toUpperCase()}
          </a>
        ))}
      </div>
      <div className="flex flex-wrap items-center gap-2 text-sm" aria-label="Saved views">
        {saved.views.map((view) => (
          <span key={view.name} className="inline-flex items-center rounded-full border border-line bg-panel">
            <button
              type="button"
              className="px-3 py-0.5 hover:underline"
              onClick={() => {
                setDraft(view.q ?? '');
                void navigate({ search: { state: view.state, q: view.q } });
              }}
            >
              {view.name}
            </button>
            <button
              type="button"
              aria-label={`Delete view ${view.name}`}
              className="pr-2 text-muted hover:text-ink"
              onClick={() => saved.remove(view.name)}
            >
              ×
            </button>
          </span>
        ))}
        {filtered && (
          <Button
            variant="ghost"
            onClick={() => {
              const name = window.prompt('Name this view');
              if (name?.trim()) saved.save({ name: name.trim().slice(0, 60), state: search.state, q: search.q });
            }}
          >
            Save view
          </Button>
        )}
      </div>
      <ErrorNote error={tasks.error} />
      {tasks.isPending ? (
        <Spinner />
      ) : rows.length === 0 ? (
        <EmptyState title={filters.state || filters.search ? 'No task matches these filters' : 'No tasks yet'}>
          {!filters.state && !filters.search && (
            <>
              Tasks appear here as soon as an agent reports them.{' '}
              <Link to="/projects/$slug/agents" params={{ slug }} className="text-accent underline">
                Mint an agent
              </Link>{' '}
              and start it next to your workers.
            </>
          )}
        </EmptyState>
      ) : (
        <Table label="Tasks" head={['Task', 'State', 'Queue', 'Worker', 'Runtime', 'Received']} bodyTestId="task-rows">
          {rows.map((task) => (
            <tr key={task.id} className="hover:bg-surface">
              <td className="px-3 py-2">
                <Link
                  to="/projects/$slug/tasks/$engine/$taskId"
                  params={{ slug, engine: task.engine, taskId: task.task_id }}
                  className="font-medium hover:underline"
                >
                  {task.name}
                </Link>
                <div className="font-mono text-xs text-muted">{task.task_id}</div>
              </td>
              <td className="px-3 py-2">
                <Badge value={task.state} />
                {task.retry_count > 0 && <span className="ml-1 text-xs text-muted">×{task.retry_count}</span>}
              </td>
              <td className="px-3 py-2">{task.queue ?? '—'}</td>
              <td className="px-3 py-2">{task.worker_name ?? '—'}</td>
              <td className="px-3 py-2">{duration(task.runtime_ms)}</td>
              <td className="px-3 py-2 text-muted">{relativeTime(task.received_at ?? task.created_at)}</td>
            </tr>
          ))}
        </Table>
      )}
      {tasks.hasNextPage && (
        <Button onClick={() => void tasks.fetchNextPage()} disabled={tasks.isFetchingNextPage}>
          {tasks.isFetchingNextPage ? 'Loading…' : 'Load more'}
        </Button>
      )}
    </div>
  );
}
