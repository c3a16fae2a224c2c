import { useState } from 'react';
import { ApiError } from '../api/client';
import { useMe, useRuntimeSettings } from '../api/queries';
import type { EffectiveSetting } from '../api/types';
import { EmptyState, ErrorNote, Input, Spinner, Table } from '../components/ui';

const SOURCE_LABELS: Record<EffectiveSetting['source'], string> = {
  env: 'process env',
  dotenv: './.env',
  'config.env': '$Z4J_HOME/config.env',
  'secret.env': '$Z4J_HOME/secret.env',
  default: 'default',
};

/**
 * The brain's effective configuration (global admins): every Z4J_* variable as this process resolved it at
 * boot and which layer it came from. Secrets arrive masked from the server; changing a value means editing
 * that layer and restarting.
 */
export function RuntimeSettingsPage() {
  const me = useMe();
  const settings = useRuntimeSettings();
  const [filter, setFilter] = useState('');
  const [changedOnly, setChangedOnly] = useState(false);

  const header = (
    <div className="space-y-2">
      <h1 className="text-xl font-semibold">Runtime settings</h1>
      <p className="text-sm text-muted">
        What this brain process runs with, read at start-up from (highest first) the process env, ./.env, $Z4J_HOME/config.env and
        $Z4J_HOME/secret.env. Change a value in its layer and restart to apply it.
      </p>
    </div>
  );
  if (me.data && !me.data.is_admin) {
    return (
      <div className="space-y-3">
        {header}
        <EmptyState title="Global admins only">The brain's configuration is visible to global administrators.</EmptyState>
      </div>
    );
  }
  if (settings.isPending) return <Spinner />;
  if (settings.error) {
    const forbidden = settings.error instanceof ApiError && settings.error.status === 403;
    return (
      <div className="space-y-3">
        {header}
        {forbidden ? <EmptyState title="Global admins only">{settings.error.message}</EmptyState> : <ErrorNote error={settings.error} />}
      </div>
    );
  }
  const needle = filter.trim().toLowerCase();
  const shown = settings.data.items.filter(
    (item) =>
      (!changedOnly || item.source !== 'default') &&
      (needle === '' || `${item.name} ${item.section} ${item.description}`.toLowerCase().includes(needle)),
  );
  const sections = [...new Set(shown.map((item) => item.section))];

  return (
    <div className="space-y-3">
      {header}
      <div className="flex flex-wrap items-center gap-3">
        <Input
          className="max-w-sm"
          aria-label="Filter settings"
          placeholder="Filter by name, section or description"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={changedOnly} onChange={(e) => setChangedOnly(e.target.checked)} />
          Only values not at their default
        </label>
        <span className="text-sm text-muted">
          {shown.length} of {settings.data.items.length}
        </span>
      </div>
      {shown.length === 0 ? (
        <EmptyState title="No setting matches">Clear the filter to see all of them.</EmptyState>
      ) : (
        <Table label="Runtime settings" minWidth="min-w-[52rem]" head={['Variable', 'Value', 'Source', 'Default']}>
          {sections.map((section) => [
            <tr key={`section-${section}`} className="bg-surface">
              <th colSpan={4} scope="colgroup" className="px-3 py-1.5 text-left text-xs font-semibold tracking-wide text-muted uppercase">
                {section}
              </th>
            </tr>,
            ...shown
              .filter((item) => item.section === section)
              .map((item) => (
                <tr key={item.name} className="align-top">
                  <td className="px-3 py-2">
                    <span className="font-mono text-xs font-medium">{item.name}</span>
                    <div className="max-w-md text-xs text-muted">{item.description}</div>
                  </td>
                  <td className="max-w-xs px-3 py-2 font-mono text-xs break-all">
                    {item.value === '' ? <span className="text-muted">unset</span> : <span>{item.value}</span>}
                    {item.secret && <span className="ml-1 rounded bg-slate-100 px-1 text-muted dark:bg-slate-800">secret</span>}
                  </td>
                  <td className={`px-3 py-2 text-xs whitespace-nowrap ${item.source === 'default' ? 'text-muted' : 'font-medium'}`}>
                    {SOURCE_LABELS[item.source]}
                  </td>
                  <td className="max-w-xs px-3 py-2 font-mono text-xs break-all text-muted">{item.default ?? '—'}</td>
                </tr>
              )),
          ])}
        </Table>
      )}
    </div>
  );
}
