import { createRootRoute, createRoute, createRouter, Outlet } from '@tanstack/react-router';
import { AppShell } from './components/AppShell';
import { AgentsPage } from './pages/AgentsPage';
import { CommandsPage } from './pages/CommandsPage';
import { HomePage } from './pages/HomePage';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { OverviewPage } from './pages/OverviewPage';
import { QueuesPage } from './pages/QueuesPage';
import { TaskDetailPage } from './pages/TaskDetailPage';
import { TasksPage } from './pages/TasksPage';

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

const routeTree = rootRoute.addChildren([
  loginRoute,
  loginMfaRoute,
  appRoute.addChildren([
    homeRoute,
    projectRoute.addChildren([overviewRoute, tasksRoute, taskDetailRoute, agentsRoute, queuesRoute, commandsRoute]),
  ]),
]);

export const router = createRouter({ routeTree, defaultPreload: 'intent' });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
