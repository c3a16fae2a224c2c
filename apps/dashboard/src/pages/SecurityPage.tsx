import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { keys, useMfaStatus, useSessions, useTrustedDevices } from '../api/queries';
import type { MfaEnrolment, TrustedDevice, UserSession } from '../api/types';
import { ActionError } from '../components/ActionError';
import { Badge, Button, Card, ConfirmDialog, CopyButton, ErrorNote, Input, Pre, Spinner, Table } from '../components/ui';
import { dateTime, relativeTime } from '../lib/format';

/** Recovery codes exist in one reply only: shown with a copy button until the user says they kept them. */
function RecoveryCodes({ codes, onDone }: { codes: readonly string[]; onDone: () => void }) {
  return (
    <div className="space-y-2 text-sm">
      <p className="rounded-md bg-amber-50 p-2 text-amber-900 dark:bg-amber-950 dark:text-amber-200">
        Save these recovery codes somewhere safe now: they are not shown again. Each one signs you in once if you lose your authenticator.
      </p>
      <Pre>
        <span data-testid="recovery-codes">{codes.join('\n')}</span>
      </Pre>
      <div className="flex gap-2">
        <CopyButton value={codes.join('\n')} label="Copy codes" />
        <Button variant="primary" onClick={onDone}>
          I saved them
        </Button>
      </div>
    </div>
  );
}

/** Enrolment in two steps (§7): a new secret for the authenticator app, then a code from it turns MFA on. */
function Enrol({ onEnrolled }: { onEnrolled: (codes: string[]) => void }) {
  const [enrolment, setEnrolment] = useState<MfaEnrolment | undefined>();
  const [code, setCode] = useState('');
  const start = useMutation({ mutationFn: () => api<MfaEnrolment>('/auth/mfa/enroll-start', { method: 'POST' }), onSuccess: setEnrolment });
  const complete = useMutation({
    mutationFn: () => api<{ recovery_codes: string[] }>('/auth/mfa/enroll-complete', { method: 'POST', body: { code: code.trim() } }),
    onSuccess: (reply) => onEnrolled(reply.recovery_codes),
  });
  if (!enrolment) {
    return (
      <div className="space-y-2 text-sm">
        <p>
          MFA is <strong>off</strong>. With it on, signing in also asks for a 6-digit code from an authenticator app (1Password, Google
          Authenticator, Aegis, …).
        </p>
        <Button variant="primary" disabled={start.isPending} onClick={() => start.mutate()}>
          Set up MFA
        </Button>
        <ErrorNote error={start.error} />
      </div>
    );
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    complete.mutate();
  };
  return (
    <div className="space-y-3 text-sm">
      <p>
        1. In your authenticator app, add an account from this <strong>otpauth link</strong> (many apps accept it pasted), or type the{' '}
        <strong>secret</strong> by hand. The secret is shown only now.
      </p>
      <div>
        <div className="flex items-center justify-between">
          <span className="font-medium">otpauth link</span>
          <CopyButton value={enrolment.provisioning_url} />
        </div>
        <Pre>{enrolment.provisioning_url}</Pre>
      </div>
      <div>
        <div className="flex items-center justify-between">
          <span className="font-medium">Secret</span>
          <CopyButton value={enrolment.secret_base32} />
        </div>
        <Pre>
          <span data-testid="mfa-secret">{enrolment.secret_base32}</span>
        </Pre>
      </div>
      <form className="flex flex-wrap items-end gap-2" onSubmit={submit}>
        <label className="grow">
          2. Enter the 6-digit code the app shows
          <Input value={code} onChange={(e) => setCode(e.target.value)} autoComplete="one-time-code" inputMode="numeric" required />
        </label>
        <Button type="submit" variant="primary" disabled={complete.isPending || code.trim() === ''}>
          Verify and turn on
        </Button>
      </form>
      <ErrorNote error={complete.error} />
    </div>
  );
}

function Mfa() {
  const client = useQueryClient();
  const status = useMfaStatus();
  const [codes, setCodes] = useState<string[] | undefined>();
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [regenerating, setRegenerating] = useState(false);
  const refresh = () => Promise.all([client.invalidateQueries({ queryKey: keys.mfa }), client.invalidateQueries({ queryKey: keys.me })]);
  const regenerate = useMutation({
    mutationFn: () => api<{ recovery_codes: string[] }>('/auth/mfa/recovery-codes/regenerate', { method: 'POST' }),
    onSuccess: (reply) => {
      setCodes(reply.recovery_codes);
      void refresh();
    },
  });
  const disable = useMutation({
    mutationFn: () => api<void>('/auth/mfa/disable', { method: 'POST', body: { password, code: code.trim() } }),
    onSuccess: () => {
      setPassword('');
      setCode('');
      void refresh();
      void client.invalidateQueries({ queryKey: keys.trustedDevices });
    },
  });

  if (codes) return <RecoveryCodes codes={codes} onDone={() => setCodes(undefined)} />;
  if (status.isPending) return <Spinner />;
  if (status.error) return <ErrorNote error={status.error} />;
  if (!status.data.enrolled) {
    return (
      <Enrol
        onEnrolled={(recovery) => {
          setCodes(recovery);
          void refresh();
        }}
      />
    );
  }
  return (
    <div className="space-y-4 text-sm">
      <p>
        MFA is <Badge value="active" /> since {dateTime(status.data.enrolled_at)}.{' '}
        <span className={status.data.remaining_recovery_codes < 3 ? 'text-amber-700 dark:text-amber-400' : 'text-muted'}>
          {status.data.remaining_recovery_codes} unused recovery codes left.
        </span>
      </p>
      <div className="space-y-2">
        <Button disabled={regenerate.isPending} onClick={() => setRegenerating(true)}>
          Regenerate recovery codes
        </Button>
        <ActionError error={regenerate.error} onRetry={() => regenerate.mutate()} />
      </div>
      <form
        className="space-y-2 rounded-md border border-line p-3"
        onSubmit={(event) => {
          event.preventDefault();
          disable.mutate();
        }}
      >
        <h3 className="font-medium">Turn MFA off</h3>
        <p className="text-muted">Needs your password and a current code. It also forgets your remembered devices.</p>
        <div className="grid gap-2 sm:grid-cols-2">
          <label>
            Password
            <Input
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          <label>
            MFA code
            <Input autoComplete="one-time-code" inputMode="numeric" required value={code} onChange={(e) => setCode(e.target.value)} />
          </label>
        </div>
        <ActionError error={disable.error} onRetry={() => disable.mutate()} />
        <Button type="submit" variant="danger" disabled={disable.isPending || password === '' || code.trim() === ''}>
          Turn off MFA
        </Button>
      </form>
      {regenerating && (
        <ConfirmDialog
          title="Regenerate recovery codes"
          confirmLabel="Regenerate"
          onClose={() => setRegenerating(false)}
          onConfirm={() => {
            setRegenerating(false);
            regenerate.mutate();
          }}
        >
          <p>Every current recovery code stops working, and a new set is shown once.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function Sessions() {
  const sessions = useSessions();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [revoking, setRevoking] = useState<UserSession | undefined>();
  const revoke = useMutation({
    mutationFn: (session: UserSession) => api<void>(`/auth/sessions/${session.id}/revoke`, { method: 'POST' }),
    onSuccess: async (_reply, session) => {
      if (session.current) {
        client.clear();
        await navigate({ to: '/login' });
        return;
      }
      await client.invalidateQueries({ queryKey: keys.sessions });
    },
  });
  if (sessions.isPending) return <Spinner />;
  if (sessions.error) return <ErrorNote error={sessions.error} />;
  return (
    <>
      <ErrorNote error={revoke.error} />
      <Table label="Sessions" head={['Browser', 'IP', 'Signed in', 'Last active', '']}>
        {sessions.data.map((session) => (
          <tr key={session.id}>
            <td className="max-w-80 px-3 py-2">
              <span className="line-clamp-2 break-all">{session.user_agent ?? 'Unknown browser'}</span>
              {session.current && <Badge value="this session" />}
            </td>
            <td className="px-3 py-2 font-mono text-xs">{session.ip ?? '—'}</td>
            <td className="px-3 py-2 text-muted">{dateTime(session.issued_at)}</td>
            <td className="px-3 py-2 text-muted">{relativeTime(session.last_seen_at)}</td>
            <td className="px-3 py-2 text-right">
              <Button
                variant="danger"
                onClick={() => setRevoking(session)}
                aria-label={session.current ? 'Sign out this session' : 'Revoke session'}
              >
                {session.current ? 'Sign out' : 'Revoke'}
              </Button>
            </td>
          </tr>
        ))}
      </Table>
      {revoking && (
        <ConfirmDialog
          title={revoking.current ? 'Sign out this session' : 'Revoke session'}
          confirmLabel={revoking.current ? 'Sign out' : 'Revoke'}
          variant="danger"
          onClose={() => setRevoking(undefined)}
          onConfirm={() => {
            revoke.mutate(revoking);
            setRevoking(undefined);
          }}
        >
          <p>
            {revoking.current
              ? 'You are signed out of this browser at once.'
              : 'That browser is signed out at once; its next request goes to the sign-in page.'}
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

function TrustedDevices() {
  const devices = useTrustedDevices();
  const client = useQueryClient();
  const revoke = useMutation({
    mutationFn: (device: TrustedDevice) => api<void>(`/auth/mfa/trusted-devices/${device.id}/revoke`, { method: 'POST' }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.trustedDevices }),
  });
  if (devices.isPending) return <Spinner />;
  if (devices.error) return <ErrorNote error={devices.error} />;
  if (devices.data.length === 0) {
    return (
      <p className="text-sm text-muted">
        No remembered devices. Tick “remember this device” when you enter an MFA code to skip the code on that browser for a while.
      </p>
    );
  }
  return (
    <>
      <ErrorNote error={revoke.error} />
      <Table label="Remembered devices" head={['Device', 'Remembered', 'Last used', 'Expires', '']}>
        {devices.data.map((device) => (
          <tr key={device.id}>
            <td className="px-3 py-2">{device.label ?? 'Unnamed device'}</td>
            <td className="px-3 py-2 text-muted">{dateTime(device.created_at)}</td>
            <td className="px-3 py-2 text-muted">{relativeTime(device.last_seen_at)}</td>
            <td className="px-3 py-2 text-muted">{dateTime(device.expires_at)}</td>
            <td className="px-3 py-2 text-right">
              <Button
                variant="danger"
                disabled={revoke.isPending}
                aria-label={`Forget ${device.label ?? 'device'}`}
                onClick={() => revoke.mutate(device)}
              >
                Forget
              </Button>
            </td>
          </tr>
        ))}
      </Table>
    </>
  );
}

/** The caller's account security (§7): MFA, where they are signed in, and the browsers that skip the MFA code. */
export function SecurityPage() {
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Security</h1>
      <Card title="Two-factor authentication (MFA)">
        <Mfa />
      </Card>
      <Card title="Sessions">
        <Sessions />
      </Card>
      <Card title="Remembered devices">
        <TrustedDevices />
      </Card>
    </div>
  );
}
