import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import { keys } from '../api/queries';
import type { User } from '../api/types';
import { Button, Card, ErrorNote, Input } from '../components/ui';

/** Sign-in: password, then the TOTP (or recovery) code when the account has MFA (§7). */
export function LoginPage({ mfaPending = false }: { mfaPending?: boolean }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [step, setStep] = useState<'password' | 'mfa'>(mfaPending ? 'mfa' : 'password');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [rememberMe, setRememberMe] = useState(false);
  const [code, setCode] = useState('');
  const [rememberDevice, setRememberDevice] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const setup = useQuery({ queryKey: ['setup-status'], queryFn: () => api<{ first_boot: boolean }>('/setup/status') });

  const finish = async () => {
    await client.invalidateQueries({ queryKey: keys.me });
    await navigate({ to: '/' });
  };

  const submitPassword = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const reply = await api<{ user: User; mfa_required: boolean }>('/auth/login', {
        method: 'POST',
        body: { email, password, remember_me: rememberMe },
      });
      if (reply.mfa_required) setStep('mfa');
      else await finish();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const submitCode = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/auth/mfa/verify', { method: 'POST', body: { code: code.trim(), remember_device: rememberDevice } });
      await finish();
    } catch (caught) {
      setError(caught instanceof ApiError && caught.status === 401 ? new Error('That code did not work. Try the current one.') : caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-sm space-y-4">
        <h1 className="text-center text-2xl font-semibold">z4j</h1>
        {setup.data?.first_boot && (
          <p className="rounded-md border border-line bg-panel p-3 text-sm">
            This brain has no administrator yet. Open{' '}
            <a className="text-accent underline" href="/setup">
              /setup
            </a>{' '}
            with the setup token printed in the brain's log.
          </p>
        )}
        {step === 'password' ? (
          <Card title="Sign in">
            <form className="space-y-3" onSubmit={(event) => void submitPassword(event)}>
              <label className="block text-sm">
                Email
                <Input
                  name="email"
                  type="email"
                  autoComplete="username"
                  required
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                />
              </label>
              <label className="block text-sm">
                Password
                <Input
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              </label>
              <label className="flex items-center gap-2 text-sm">
                <input type="checkbox" checked={rememberMe} onChange={(e) => setRememberMe(e.target.checked)} /> Keep me signed in
              </label>
              <ErrorNote error={error} />
              <Button type="submit" variant="primary" className="w-full" disabled={busy}>
                Sign in
              </Button>
            </form>
          </Card>
        ) : (
          <Card title="Two-factor code">
            <form className="space-y-3" onSubmit={(event) => void submitCode(event)}>
              <label className="block text-sm">
                Code from your authenticator app, or a recovery code
                <Input
                  name="code"
                  autoComplete="one-time-code"
                  inputMode="text"
                  required
                  value={code}
                  onChange={(e) => setCode(e.target.value)}
                />
              </label>
              <label className="flex items-center gap-2 text-sm">
                <input type="checkbox" checked={rememberDevice} onChange={(e) => setRememberDevice(e.target.checked)} /> Trust this browser
              </label>
              <ErrorNote error={error} />
              <Button type="submit" variant="primary" className="w-full" disabled={busy}>
                Verify
              </Button>
            </form>
          </Card>
        )}
      </div>
    </main>
  );
}
