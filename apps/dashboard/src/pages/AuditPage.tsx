import { useNavigate, useParams, useSearch } from '@tanstack/react-router';
import { useState } from 'react';
import { apiUrl } from '../api/client';
import { useAudit } from '../api/queries';
import { useProjectRole } from '../components/AppShell';
import { Badge, Button, EmptyState, ErrorNote, Input, Pre, Spinner, Table } from '../components/ui';
import { dateTime, prettyJson } from '../lib/format';

/** A project's audit log (admins): newest first, an action-prefix filter in the URL, cursor paging and exports. */
export function AuditPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/audit' });
  const search = useSearch({ from: '/app/projects/$slug/audit' });
  const navigate = useNavigate({ from: '/projects/$slug/audit' });
  const role = useProjectRole(slug);
  const [draft, setDraft] = useState(search.action ?? '');
  const audit = useAudit(slug, search.action);
  const rows = audit.data?.pages.flatMap((page) => page.items) ?? [];

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-2">
        <h1 className="mr-auto text-xl font-semibold">Audit log</h1>
        <form
          className="flex gap-2"
          role="search"
          onSubmit={(event) => {
            event.preventDefault();
            void navigate({ search: { action: draft.trim() || undefined } });
          }}
        >
          <Input
            aria-label="Action starts with"
            placeholder="Action prefix, e.g. agent."
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
          <Button type="submit">Filter</Button>
        </form>
        {(['csv', 'xlsx', 'json'] as const).map((format) => (
          <a
            key={format}
            className="text-sm text-accent underline"
            href={apiUrl(`/projects/${slug}/audit`, { action: search.action, format })}
            download
            aria-label={`Export as ${format.toUpperCase()}`}
          >
            {format.toUpperCase()}
          </a>
        ))}
      </div>
      {role !== undefined && role !== 'admin' ? (
        <EmptyState title="Project admins only">The audit log of a project is visible to its admins. Ask one for access.</EmptyState>
      ) : audit.isPending ? (
        <Spinner />
      ) : audit.error ? (
        <ErrorNote error={audit.error} />
      ) : rows.length === 0 ? (
        <EmptyState title={search.action ? `No audit rows start with “${search.action}”` : 'Nothing audited yet'}>
          {search.action
            ? 'Clear the filter to see every row.'
            : 'Every write in this project (commands, agents, members, schedules) is recorded here with who did it and from where.'}
        </EmptyState>
      ) : (
        <Table label="Audit log" minWidth="min-w-[56rem]" head={['When', 'Action', 'Result', 'Who', 'Target', 'From', 'Details']}>
          {rows.map((row) => (
            <tr key={row.id} className="align-top">
              <td className="px-3 py-2 whitespace-nowrap text-muted">{dateTime(row.occurred_at)}</td>
              <td className="px-3 py-2 font-mono text-xs">{row.action}</td>
              <td className="px-3 py-2">
                <Badge value={row.result} />
              </td>
              <td className="px-3 py-2">
                {row.user_email ?? (row.user_id ? <span className="font-mono text-xs">{row.user_id}</span> : 'system')}
                {row.api_key_id && <div className="text-xs text-muted">with an API key</div>}
              </td>
              <td className="px-3 py-2">
                {row.target_type}
                {row.target_id && <div className="font-mono text-xs break-all text-muted">{row.target_id}</div>}
              </td>
              <td className="px-3 py-2 text-muted">{row.source_ip ?? '—'}</td>
              <td className="px-3 py-2">
                <details>
                  <summary className="cursor-pointer text-accent">Metadata</summary>
                  <Pre>{prettyJson(row.metadata)}</Pre>
                </details>
              </td>
            </tr>
          ))}
        </Table>
      )}
      {audit.hasNextPage && (
        <Button onClick={() => void audit.fetchNextPage()} disabled={audit.isFetchingNextPage}>
          {audit.isFetchingNextPage ? 'Loading…' : 'Load more'}
        </Button>
      )}
    </div>
  );
}
