import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import { keys } from '../api/queries';
import { Button, ErrorNote, Input } from './ui';

/**
 * The error of a write, with the one recovery the dashboard can offer in place: sensitive writes (members,
 * API keys, recovery codes) answer 403 `mfa_reverify_required` when the session's MFA check is older than
 * Z4J_MFA_VERIFICATION_TTL_SECONDS; the user types a fresh code here and the write is retried.
 */
export function ActionError({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const client = useQueryClient();
  const [code, setCode] = useState('');
  const [verifyError, setVerifyError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (!(error instanceof ApiError && error.code === 'mfa_reverify_required')) return <ErrorNote error={error} />;
  const verify = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setVerifyError(null);
    try {
      await api('/auth/mfa/verify', { method: 'POST', body: { code: code.trim() } });
      setCode('');
      await client.invalidateQueries({ queryKey: keys.me });
      onRetry();
    } catch (failure) {
      setVerifyError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      onSubmit={(event) => void verify(event)}
      className="space-y-2 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-800 dark:bg-amber-950"
    >
      <p role="alert">This change needs a recent MFA check. Enter the code from your authenticator app (or a recovery code).</p>
      <div className="flex flex-wrap items-end gap-2">
        <label className="grow">
          MFA code
          <Input value={code} onChange={(e) => setCode(e.target.value)} autoComplete="one-time-code" inputMode="numeric" required />
        </label>
        <Button type="submit" variant="primary" disabled={busy || code.trim() === ''}>
          Verify and retry
        </Button>
      </div>
      <ErrorNote error={verifyError} />
    </form>
  );
}
