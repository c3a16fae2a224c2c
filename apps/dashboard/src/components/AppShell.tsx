import { useQueryClient } from '@tanstack/react-query';
import { Link, Outlet, useLocation, useNavigate, useParams } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { api, ApiError } from '../api/client';
import { useMe, useProjects } from '../api/queries';
import { useLiveProject, useLiveState } from '../lib/live';
import { currentTheme, setTheme, type Theme } from '../lib/theme';
import { Button, ErrorNote, Spinner } from './ui';

/** The project's pages; `admin` ones are hidden from viewers and operators (the API refuses them anyway). */
const PROJECT_NAV = [
  { label: 'Overview', to: '/projects/$slug' },
  { label: 'Tasks', to: '/projects/$slug/tasks' },
  { label: 'Workers', to: '/projects/$slug/workers' },
  { label: 'Queues', to: '/projects/$slug/queues' },
  { label: 'Schedules', to: '/projects/$slug/schedules' },
  { label: 'Agents', to: '/projects/$slug/agents' },
  { label: 'Commands', to: '/projects/$slug/commands' },
  { label: 'Audit log', to: '/projects/$slug/audit', admin: true },
  { label: 'Members', to: '/projects/$slug/members', admin: true },
] as const;

/** The user's own settings; `admin` ones only for global admins. */
const SETTINGS_NAV = [
  { label: 'Security', to: '/settings/security' },
  { label: 'API keys', to: '/settings/api-keys' },
  { label: 'Runtime', to: '/settings/runtime', admin: true },
] as const;

const NAV_LINK = 'shrink-0 border-b-2 border-transparent px-3 py-2 text-sm text-muted hover:text-ink';
const NAV_ACTIVE = { className: 'border-accent! text-ink!' };

function LiveIndicator() {
  const state = useLiveState();
  const colour = state === 'live' ? 'bg-emerald-500' : state === 'connecting' ? 'bg-amber-500' : 'bg-slate-400';
  return (
    <span className="flex items-center gap-1 text-xs text-muted" data-live={state} title="Live updates from the brain">
      <span className={`inline-block h-2 w-2 rounded-full ${colour}`} />
      {state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting' : 'Offline'}
    </span>
  );
}

function ThemeToggle() {
  const [theme, setLocal] = useState<Theme>(currentTheme);
  const next: Theme = theme === 'dark' ? 'light' : 'dark';
  return (
    <Button
      variant="ghost"
      aria-label={`Switch to ${next} theme`}
      onClick={() => {
        setTheme(next);
        setLocal(next);
      }}
    >
      {theme === 'dark' ? '☀' : '☾'}
    </Button>
  );
}

/**
 * Signed-in layout: header (projects, live indicator, theme, sign out), the
 * project's navigation when a project is open, and the page. A 401 sends the
 * browser to /login (or to its MFA step when the password was accepted).
 */
export function AppShell() {
  const me = useMe();
  const navigate = useNavigate();
  const client = useQueryClient();
  const params = useParams({ strict: false });
  const slug = (params as { slug?: string }).slug;
  const projects = useProjects(me.isSuccess);
  const project = projects.data?.items.find((item) => item.slug === slug);
  const projectAdmin = me.data?.is_admin === true || project?.role === 'admin';
  const inSettings = useLocation({ select: (location) => location.pathname.startsWith('/settings') });
  useLiveProject(project?.id, slug);

  useEffect(() => {
    if (!(me.error instanceof ApiError)) return;
    if (me.error.status === 401) void navigate({ to: me.error.code === 'mfa_required' ? '/login/mfa' : '/login' });
  }, [me.error, navigate]);

  // Until /auth/me answers, the page itself already loads (its queries run in parallel with this one, so the
  // first rows do not wait for a round trip); a 401 redirects above.
  if (me.error instanceof ApiError && me.error.status === 401) return <Spinner label="Signing in…" />;
  if (me.error) return <ErrorNote error={me.error} />;

  const signOut = async () => {
    await api('/auth/logout', { method: 'POST' }).catch(() => undefined);
    client.clear();
    await navigate({ to: '/login' });
  };

  return (
    <div className="min-h-screen">
      <header className="sticky top-0 z-10 flex flex-wrap items-center gap-3 border-b border-line bg-panel px-4 py-2">
        <Link to="/" className="font-semibold">
          z4j
        </Link>
        <label className="text-sm">
          <span className="sr-only">Project</span>
          <select
            aria-label="Project"
            className="rounded-md border border-line bg-panel px-2 py-1 text-sm"
            value={slug ?? ''}
            onChange={(event) => {
              if (event.target.value) void navigate({ to: '/projects/$slug/tasks', params: { slug: event.target.value } });
            }}
          >
            <option value="">All projects</option>
            {projects.data?.items.map((item) => (
              <option key={item.id} value={item.slug}>
                {item.name}
              </option>
            ))}
          </select>
        </label>
        <div className="ml-auto flex items-center gap-2">
          {slug && <LiveIndicator />}
          <ThemeToggle />
          <Link
            to="/settings/security"
            className="rounded-md px-2 py-1 text-sm text-muted hover:bg-surface hover:text-ink"
            title="Your account: security, API keys"
          >
            <span className="hidden sm:inline">{me.data?.email ?? 'Account'}</span>
            <span className="sm:hidden">Account</span>
          </Link>
          <Button variant="ghost" onClick={() => void signOut()}>
            Sign out
          </Button>
        </div>
      </header>
      {slug && (
        <nav aria-label="Project" className="flex gap-1 overflow-x-auto border-b border-line bg-panel px-4">
          {PROJECT_NAV.filter((item) => !('admin' in item) || projectAdmin).map((item) => (
            <Link
              key={item.to}
              to={item.to}
              params={{ slug }}
              activeOptions={{ exact: item.to === '/projects/$slug' }}
              className={NAV_LINK}
              activeProps={NAV_ACTIVE}
            >
              {item.label}
            </Link>
          ))}
        </nav>
      )}
      {inSettings && (
        <nav aria-label="Settings" className="flex gap-1 overflow-x-auto border-b border-line bg-panel px-4">
          {SETTINGS_NAV.filter((item) => !('admin' in item) || me.data?.is_admin).map((item) => (
            <Link key={item.to} to={item.to} className={NAV_LINK} activeProps={NAV_ACTIVE}>
              {item.label}
            </Link>
          ))}
        </nav>
      )}
      <main className="mx-auto max-w-7xl p-4">
        <Outlet />
      </main>
    </div>
  );
}

/** The caller's role in the project on screen (global admins are admins everywhere). */
export function useProjectRole(slug: string): 'viewer' | 'operator' | 'admin' | undefined {
  const me = useMe();
  const projects = useProjects(me.isSuccess);
  if (me.data?.is_admin) return 'admin';
  const role = projects.data?.items.find((item) => item.slug === slug)?.role;
  return role ?? undefined;
}
