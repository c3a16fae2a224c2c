import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { keys, useApiKeys, useApiKeyScopes, useMe, useProjects } from '../api/queries';
import type { ApiKey, ApiKeyScope, CreatedApiKey } from '../api/types';
import { ActionError } from '../components/ActionError';
import {
  Badge,
  Button,
  ConfirmDialog,
  CopyButton,
  Dialog,
  EmptyState,
  ErrorNote,
  Input,
  Pre,
  Select,
  Spinner,
  Table,
} from '../components/ui';
import { dateTime, relativeTime } from '../lib/format';

const EXPIRY_CHOICES = [
  ['30', '30 days'],
  ['90', '90 days'],
  ['365', '1 year'],
  ['', 'Never'],
] as const;

/** Scopes by tag: one row per tag with its read/write checkboxes, `admin:*` (global admins) on its own. */
function ScopePicker({
  scopes,
  chosen,
  onToggle,
}: {
  scopes: readonly ApiKeyScope[];
  chosen: ReadonlySet<string>;
  onToggle: (scope: string) => void;
}) {
  const tags = [...new Set(scopes.map((scope) => scope.tag))];
  return (
    <fieldset className="max-h-64 overflow-y-auto rounded-md border border-line p-2">
      <legend className="px-1">Scopes (what the key may do, within your own roles)</legend>
      <div className="grid gap-1 sm:grid-cols-2">
        {tags.map((tag) => (
          <div key={tag} className="flex items-center gap-3">
            <span className="w-28 font-mono text-xs">{tag === '*' ? 'admin' : tag}</span>
            {scopes
              .filter((scope) => scope.tag === tag)
              .map((scope) => (
                <label key={scope.scope} className="flex items-center gap-1">
                  <input type="checkbox" checked={chosen.has(scope.scope)} onChange={() => onToggle(scope.scope)} />
                  {scope.access}
                </label>
              ))}
          </div>
        ))}
      </div>
    </fieldset>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (created: CreatedApiKey) => void }) {
  const me = useMe();
  const scopes = useApiKeyScopes();
  const projects = useProjects();
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [project, setProject] = useState('');
  const [expiry, setExpiry] = useState<string>('90');
  const create = useMutation({
    mutationFn: () =>
      api<CreatedApiKey>('/api-keys', {
        method: 'POST',
        body: {
          name: name.trim(),
          scopes: [...chosen],
          project_slug: project || null,
          expires_in_days: expiry ? Number(expiry) : null,
        },
      }),
    onSuccess: (created) => {
      void client.invalidateQueries({ queryKey: keys.apiKeys });
      onCreated(created);
    },
  });
  const available = (scopes.data?.items ?? []).filter((scope) => !scope.admin_only || me.data?.is_admin);
  const toggle = (scope: string) =>
    setChosen((current) => {
      const next = new Set(current);
      if (next.has(scope)) next.delete(scope);
      else next.add(scope);
      return next;
    });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form className="space-y-3 text-sm" onSubmit={submit}>
      <label className="block">
        Name
        <Input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-deploy" />
      </label>
      {scopes.isPending ? (
        <Spinner />
      ) : scopes.error ? (
        <ErrorNote error={scopes.error} />
      ) : (
        <ScopePicker scopes={available} chosen={chosen} onToggle={toggle} />
      )}
      <div className="grid gap-3 sm:grid-cols-2">
        <label className="block">
          Project
          <Select className="mt-1 w-full" value={project} onChange={(e) => setProject(e.target.value)}>
            <option value="">Any project I can reach</option>
            {projects.data?.items.map((item) => (
              <option key={item.id} value={item.slug}>
                Only {item.name}
              </option>
            ))}
          </Select>
        </label>
        <label className="block">
          Expires after
          <Select className="mt-1 w-full" value={expiry} onChange={(e) => setExpiry(e.target.value)}>
            {EXPIRY_CHOICES.map(([value, label]) => (
              <option key={label} value={value}>
                {label}
              </option>
            ))}
          </Select>
        </label>
      </div>
      <ActionError error={create.error} onRetry={() => create.mutate()} />
      <div className="flex justify-end">
        <Button type="submit" variant="primary" disabled={create.isPending || chosen.size === 0 || name.trim() === ''}>
          Create key
        </Button>
      </div>
    </form>
  );
}

/** The caller's personal API keys: list, create (the token is shown once) and revoke. */
export function ApiKeysPage() {
  const apiKeys = useApiKeys();
  const client = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | undefined>();
  const [revoking, setRevoking] = useState<ApiKey | undefined>();
  const revoke = useMutation({
    mutationFn: (key: ApiKey) => api<void>(`/api-keys/${key.id}`, { method: 'DELETE' }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
  const close = () => {
    setCreating(false);
    setCreated(undefined);
  };

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="mr-auto text-xl font-semibold">API keys</h1>
        <Button variant="primary" onClick={() => setCreating(true)}>
          Create API key
        </Button>
      </div>
      <p className="text-sm text-muted">
        A key acts as you from scripts and CI: send it as <span className="font-mono">Authorization: Bearer …</span>. Its scopes narrow what
        your roles allow; they never widen it.
      </p>
      <ErrorNote error={revoke.error} />
      {apiKeys.isPending ? (
        <Spinner />
      ) : apiKeys.error ? (
        <ErrorNote error={apiKeys.error} />
      ) : apiKeys.data.items.length === 0 ? (
        <EmptyState title="No API keys yet">Create one for a script or a CI job; give it only the scopes it needs.</EmptyState>
      ) : (
        <Table label="API keys" minWidth="min-w-[52rem]" head={['Name', 'State', 'Scopes', 'Project', 'Last used', 'Expires', '']}>
          {apiKeys.data.items.map((key) => (
            <tr key={key.id} className="align-top">
              <td className="px-3 py-2">
                <span className="font-medium">{key.name}</span>
                <div className="font-mono text-xs text-muted">{key.prefix}…</div>
              </td>
              <td className="px-3 py-2">
                <Badge value={key.state} />
              </td>
              <td className="px-3 py-2 font-mono text-xs">{key.scopes.join(' ')}</td>
              <td className="px-3 py-2">{key.project_slug ?? 'any'}</td>
              <td className="px-3 py-2 text-muted">{key.last_used_at ? relativeTime(key.last_used_at) : 'never'}</td>
              <td className="px-3 py-2 text-muted">{key.expires_at ? dateTime(key.expires_at) : 'never'}</td>
              <td className="px-3 py-2 text-right">
                {key.state === 'active' && (
                  <Button variant="danger" aria-label={`Revoke ${key.name}`} onClick={() => setRevoking(key)}>
                    Revoke
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <Dialog open={creating} onClose={close} title={created ? `API key ${created.api_key.name}` : 'Create an API key'}>
        {created ? (
          <div className="space-y-3 text-sm">
            <p className="rounded-md bg-amber-50 p-2 text-amber-900 dark:bg-amber-950 dark:text-amber-200">
              Copy the token now: it is not shown again. Only a hash of it is stored.
            </p>
            <div className="flex items-center justify-between">
              <span className="font-medium">Token</span>
              <CopyButton value={created.token} />
            </div>
            <Pre>
              <span data-testid="api-key-token">{created.token}</span>
            </Pre>
            <div className="flex justify-end">
              <Button onClick={close}>Done</Button>
            </div>
          </div>
        ) : (
          creating && <CreateKeyForm onCreated={setCreated} />
        )}
      </Dialog>
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.name}`}
          confirmLabel="Revoke key"
          variant="danger"
          onClose={() => setRevoking(undefined)}
          onConfirm={() => {
            revoke.mutate(revoking);
            setRevoking(undefined);
          }}
        >
          <p>Scripts using this key ({revoking.prefix}…) get 401 from their next call. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
