import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useParams } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { keys, useMe, useMemberships } from '../api/queries';
import type { Membership, Role } from '../api/types';
import { ActionError } from '../components/ActionError';
import { useProjectRole } from '../components/AppShell';
import { Badge, Button, Card, ConfirmDialog, EmptyState, ErrorNote, Input, Select, Spinner, Table } from '../components/ui';
import { relativeTime } from '../lib/format';

const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];
const ROLE_HELP: Record<Role, string> = {
  viewer: 'reads everything',
  operator: 'also retries, cancels and runs worker and schedule actions',
  admin: 'also purges queues, manages agents, members and the audit log',
};

/**
 * A project's members (admins): add an existing user by email with a role, change roles, remove. The API keeps
 * at least one admin (409 otherwise), and these writes need a recent MFA check for users who have MFA.
 */
export function MembersPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/members' });
  const role = useProjectRole(slug);
  const me = useMe();
  const members = useMemberships(slug);
  const client = useQueryClient();
  const refresh = () => client.invalidateQueries({ queryKey: keys.memberships(slug) });
  const [email, setEmail] = useState('');
  const [newRole, setNewRole] = useState<Role>('viewer');
  const [removing, setRemoving] = useState<Membership | undefined>();

  const add = useMutation({
    mutationFn: () => api<Membership>(`/projects/${slug}/memberships`, { method: 'POST', body: { email: email.trim(), role: newRole } }),
    onSuccess: () => {
      setEmail('');
      void refresh();
    },
  });
  const change = useMutation({
    mutationFn: ({ member, role }: { member: Membership; role: Role }) =>
      api<Membership>(`/projects/${slug}/memberships/${member.id}`, { method: 'PATCH', body: { role } }),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (member: Membership) => api<void>(`/projects/${slug}/memberships/${member.id}`, { method: 'DELETE' }),
    onSettled: refresh,
  });

  if (role !== undefined && role !== 'admin') {
    return (
      <div className="space-y-3">
        <h1 className="text-xl font-semibold">Members</h1>
        <EmptyState title="Project admins only">Ask an admin of this project to change who has access.</EmptyState>
      </div>
    );
  }

  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };

  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Members</h1>
      <Card title="Add a member">
        <form className="flex flex-wrap items-end gap-2 text-sm" onSubmit={submit}>
          <label className="min-w-60 grow">
            Email of an existing user
            <Input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} placeholder="jane@example.com" />
          </label>
          <label>
            Role
            <Select className="block" value={newRole} onChange={(e) => setNewRole(e.target.value as Role)}>
              {ROLES.map((item) => (
                <option key={item} value={item}>
                  {item}
                </option>
              ))}
            </Select>
          </label>
          <Button type="submit" variant="primary" disabled={add.isPending}>
            Add member
          </Button>
        </form>
        <p className="mt-2 text-xs text-muted">
          A {newRole} {ROLE_HELP[newRole]}. The user must already have an account; a global admin creates accounts.
        </p>
        <div className="mt-2">
          <ActionError error={add.error} onRetry={() => add.mutate()} />
        </div>
      </Card>
      <ActionError error={change.error} onRetry={() => change.variables && change.mutate(change.variables)} />
      <ActionError error={remove.error} onRetry={() => remove.variables && remove.mutate(remove.variables)} />
      {members.isPending ? (
        <Spinner />
      ) : members.error ? (
        <ErrorNote error={members.error} />
      ) : members.data.items.length === 0 ? (
        <EmptyState title="No members yet">Add the first one above; global admins can reach every project without a membership.</EmptyState>
      ) : (
        <Table label="Members" head={['Member', 'Role', 'Since', 'Actions']}>
          {members.data.items.map((member) => (
            <tr key={member.id}>
              <td className="px-3 py-2">
                <span className="font-medium">{member.display_name ?? member.email}</span>
                {member.display_name && <div className="text-xs text-muted">{member.email}</div>}
                {!member.user_is_active && <Badge value="deactivated" />}
                {member.user_id === me.data?.id && <span className="ml-1 text-xs text-muted">(you)</span>}
              </td>
              <td className="px-3 py-2">
                <Select
                  aria-label={`Role of ${member.email}`}
                  value={member.role}
                  disabled={change.isPending}
                  onChange={(e) => change.mutate({ member, role: e.target.value as Role })}
                >
                  {ROLES.map((item) => (
                    <option key={item} value={item}>
                      {item}
                    </option>
                  ))}
                </Select>
              </td>
              <td className="px-3 py-2 text-muted">{relativeTime(member.created_at)}</td>
              <td className="px-3 py-2">
                <Button variant="danger" aria-label={`Remove ${member.email}`} onClick={() => setRemoving(member)}>
                  Remove
                </Button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.email}`}
          confirmLabel="Remove member"
          variant="danger"
          onClose={() => setRemoving(undefined)}
          onConfirm={() => {
            remove.mutate(removing);
            setRemoving(undefined);
          }}
        >
          <p>
            {removing.email} loses access to this project at once (their {removing.role} role goes). Their account and other projects stay
            as they are.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
