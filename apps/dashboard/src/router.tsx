import { createRootRoute, createRoute, createRouter, Outlet } from '@tanstack/react-router';
import { AppShell } from './components/AppShell';
import { AgentsPage } from './pages/AgentsPage';
import { ApiKeysPage } from './pages/ApiKeysPage';
import { AuditPage } from './pages/AuditPage';
import { CommandsPage } from './pages/CommandsPage';
import { HomePage } from './pages/HomePage';
import { LoginPage } from './pages/LoginPage';
import { MembersPage } from './pages/MembersPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { OverviewPage } from './pages/OverviewPage';
import { QueuesPage } from './pages/QueuesPage';
import { RuntimeSettingsPage } from './pages/RuntimeSettingsPage';
import { SchedulesPage } from './pages/SchedulesPage';
import { SecurityPage } from './pages/SecurityPage';
import { TaskDetailPage } from './pages/TaskDetailPage';
import { TasksPage } from './pages/TasksPage';
import { WorkerDetailPage } from './pages/WorkerDetailPage';
import { WorkersPage } from './pages/WorkersPage';

/** Routes in code (no generator step in the build): the dashboard's page map, §8 of the reference. */
const rootRoute = createRootRoute({ component: Outlet, notFoundComponent: NotFoundPage });

const loginRoute = createRoute({ getParentRoute: () => rootRoute, path: '/login', component: () => <LoginPage /> });
const loginMfaRoute = createRoute({ getParentRoute: () => rootRoute, path: '/login/mfa', component: () => <LoginPage mfaPending /> });

/** Everything behind sign-in shares the shell. */
const appRoute = createRoute({ getParentRoute: () => rootRoute, id: 'app', component: AppShell });
const homeRoute = createRoute({ getParentRoute: () => appRoute, path: '/', component: HomePage });
const projectRoute = createRoute({ getParentRoute: () => appRoute, path: 'projects/$slug', component: Outlet });
const overviewRoute = createRoute({ getParentRoute: () => projectRoute, path: '/', component: OverviewPage });

interface TaskSearch {
  readonly state?: string;
  readonly q?: string;
}
const tasksRoute = createRoute({
  getParentRoute: () => projectRoute,
  path: 'tasks',
  // The URL is the saved view: filters survive reloads and can be shared.
  validateSearch: (search: Record<string, unknown>): TaskSearch => ({
    state: typeof search.state === 'string' && search.state ? search.state : undefined,
    q: typeof search.q === 'string' && search.q ? search.q : undefined,
  }),
  component: TasksPage,
});
const taskDetailRoute = createRoute({ getParentRoute: () => projectRoute, path: 'tasks/$engine/$taskId', component: TaskDetailPage });
const agentsRoute = createRoute({ getParentRoute: () => projectRoute, path: 'agents', component: AgentsPage });
const commandsRoute = createRoute({ getParentRoute: () => projectRoute, path: 'commands', component: CommandsPage });
const queuesRoute = createRoute({ getParentRoute: () => projectRoute, path: 'queues', component: QueuesPage });
const workersRoute = createRoute({ getParentRoute: () => projectRoute, path: 'workers', component: WorkersPage });
const workerDetailRoute = createRoute({ getParentRoute: () => projectRoute, path: 'workers/$workerId', component: WorkerDetailPage });
const schedulesRoute = createRoute({ getParentRoute: () => projectRoute, path: 'schedules', component: SchedulesPage });

interface AuditSearch {
  readonly action?: string;
}
const auditRoute = createRoute({
  getParentRoute: () => projectRoute,
  path: 'audit',
  validateSearch: (search: Record<string, unknown>): AuditSearch => ({
    action: typeof search.action === 'string' && search.action ? search.action : undefined,
  }),
  component: AuditPage,
});
const membersRoute = createRoute({ getParentRoute: () => projectRoute, path: 'members', component: MembersPage });

/** The signed-in user's own settings, and the brain's for global admins. */
const settingsRoute = createRoute({ getParentRoute: () => appRoute, path: 'settings', component: Outlet });
const securityRoute = createRoute({ getParentRoute: () => settingsRoute, path: 'security', component: SecurityPage });
const apiKeysRoute = createRoute({ getParentRoute: () => settingsRoute, path: 'api-keys', component: ApiKeysPage });
const runtimeRoute = createRoute({ getParentRoute: () => settingsRoute, path: 'runtime', component: RuntimeSettingsPage });

const routeTree = rootRoute.addChildren([
  loginRoute,
  loginMfaRoute,
  appRoute.addChildren([
    homeRoute,
    projectRoute.addChildren([
      overviewRoute,
      tasksRoute,
      taskDetailRoute,
      workersRoute,
      workerDetailRoute,
      queuesRoute,
      schedulesRoute,
      agentsRoute,
      commandsRoute,
      auditRoute,
      membersRoute,
    ]),
    settingsRoute.addChildren([securityRoute, apiKeysRoute, runtimeRoute]),
  ]),
]);

export const router = createRouter({ routeTree, defaultPreload: 'intent' });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
