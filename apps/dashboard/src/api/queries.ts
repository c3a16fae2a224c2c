import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, type Page } from './client';
import type {
  Agent,
  ApiKey,
  ApiKeyScope,
  AuditRow,
  Command,
  EffectiveSetting,
  Me,
  Membership,
  MfaStatus,
  MintedAgent,
  Project,
  Schedule,
  Task,
  TaskEvent,
  TrustedDevice,
  UserSession,
  WorkerDetail,
  WorkerList,
} from './types';

/**
 * Query keys are `[project slug, topic, …]` so a `/ws/dashboard` push for a
 * topic refreshes exactly the visible queries of that topic (see live.ts).
 */
export const keys = {
  me: ['me'] as const,
  projects: ['projects'] as const,
  tasks: (slug: string, filters: TaskFilters) => [slug, 'tasks', 'list', filters] as const,
  task: (slug: string, engine: string, taskId: string) => [slug, 'tasks', 'detail', engine, taskId] as const,
  agents: (slug: string) => [slug, 'agents'] as const,
  commands: (slug: string) => [slug, 'commands'] as const,
  workers: (slug: string) => [slug, 'workers'] as const,
  schedules: (slug: string) => [slug, 'schedules'] as const,
  audit: (slug: string, action: string | undefined) => [slug, 'audit', action] as const,
  memberships: (slug: string) => [slug, 'memberships'] as const,
  home: ['home'] as const,
  // The caller's own account: not under a project slug, so live project pushes leave them alone.
  apiKeys: ['account', 'api-keys'] as const,
  mfa: ['account', 'mfa'] as const,
  sessions: ['account', 'sessions'] as const,
  trustedDevices: ['account', 'trusted-devices'] as const,
  runtimeSettings: ['admin', 'settings'] as const,
};

export function useMe() {
  return useQuery({
    queryKey: keys.me,
    queryFn: () => api<Me>('/auth/me'),
    retry: (count, error) => !(error instanceof ApiError && (error.status === 401 || error.status === 403)) && count < 2,
    staleTime: 60_000,
  });
}

export function useProjects(enabled = true) {
  return useQuery({ queryKey: keys.projects, queryFn: () => api<{ items: Project[] }>('/projects'), enabled, staleTime: 60_000 });
}

export interface TaskFilters {
  readonly state?: string;
  readonly search?: string;
  readonly name?: string;
  readonly queue?: string;
  readonly worker?: string;
}

const TASK_PAGE = 50;

export function useTasks(slug: string, filters: TaskFilters) {
  return useInfiniteQuery({
    queryKey: keys.tasks(slug, filters),
    queryFn: ({ pageParam, signal }) =>
      api<Page<Task>>(`/projects/${slug}/tasks`, { query: { ...filters, limit: TASK_PAGE, cursor: pageParam }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });
}

export function useTask(slug: string, engine: string, taskId: string) {
  return useQuery({
    queryKey: keys.task(slug, engine, taskId),
    queryFn: async ({ signal }) => {
      const path = `/projects/${slug}/tasks/${encodeURIComponent(engine)}/${encodeURIComponent(taskId)}`;
      const [task, events] = await Promise.all([
        api<Task>(path, { signal }),
        api<Page<TaskEvent>>(`/projects/${slug}/events`, { query: { task_id: taskId, engine, limit: 200 }, signal }),
      ]);
      return { task, events: events.items };
    },
  });
}

export function useAgents(slug: string) {
  return useQuery({
    queryKey: keys.agents(slug),
    queryFn: () => api<Page<Agent>>(`/projects/${slug}/agents`, { query: { limit: 200 } }),
  });
}

export function useCommands(slug: string) {
  return useQuery({
    queryKey: keys.commands(slug),
    queryFn: () => api<Page<Command>>(`/projects/${slug}/commands`, { query: { limit: 100 } }),
  });
}

export function useMintAgent(slug: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => api<MintedAgent>(`/projects/${slug}/agents`, { method: 'POST', body: { name } }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.agents(slug) }),
  });
}

export function useRevokeAgent(slug: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (agentId: string) => api<unknown>(`/projects/${slug}/agents/${agentId}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.agents(slug) }),
  });
}

/**
 * A §3.1 command; the reply is the stored command (202), or 503 agent_offline with it. With `wait`, the reply
 * comes once the agent answered (or 504 command_timeout).
 */
export function useIssueCommand(slug: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ action, body, wait = false }: { action: string; body: Record<string, unknown>; wait?: boolean }) =>
      api<Command>(`/projects/${slug}/commands/${action}`, { method: 'POST', body, query: { wait: wait || undefined } }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.commands(slug) }),
  });
}

export function useWorkers(slug: string) {
  return useQuery({
    queryKey: [...keys.workers(slug), 'list'],
    queryFn: ({ signal }) => api<WorkerList>(`/projects/${slug}/workers`, { query: { limit: 500 }, signal }),
  });
}

export function useWorker(slug: string, workerId: string) {
  return useQuery({
    queryKey: [...keys.workers(slug), 'detail', workerId],
    queryFn: ({ signal }) => api<WorkerDetail>(`/projects/${slug}/workers/${encodeURIComponent(workerId)}`, { signal }),
  });
}

export function useSchedules(slug: string) {
  return useQuery({
    queryKey: keys.schedules(slug),
    queryFn: ({ signal }) => api<Page<Schedule>>(`/projects/${slug}/schedules`, { query: { limit: 500 }, signal }),
  });
}

const AUDIT_PAGE = 50;

/** A project's audit rows, newest first; `action` is a prefix (`agent.` matches `agent.token.minted`). */
export function useAudit(slug: string, action: string | undefined) {
  return useInfiniteQuery({
    queryKey: keys.audit(slug, action),
    queryFn: ({ pageParam, signal }) =>
      api<Page<AuditRow>>(`/projects/${slug}/audit`, { query: { action, limit: AUDIT_PAGE, cursor: pageParam }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });
}

export function useMemberships(slug: string) {
  return useQuery({
    queryKey: keys.memberships(slug),
    queryFn: ({ signal }) => api<Page<Membership>>(`/projects/${slug}/memberships`, { query: { limit: 500 }, signal }),
  });
}

export function useApiKeys() {
  return useQuery({ queryKey: keys.apiKeys, queryFn: ({ signal }) => api<Page<ApiKey>>('/api-keys', { query: { limit: 200 }, signal }) });
}

export function useApiKeyScopes() {
  return useQuery({
    queryKey: [...keys.apiKeys, 'scopes'],
    queryFn: ({ signal }) => api<{ items: ApiKeyScope[] }>('/api-keys/scopes', { signal }),
    staleTime: Infinity,
  });
}

export function useMfaStatus() {
  return useQuery({ queryKey: keys.mfa, queryFn: ({ signal }) => api<MfaStatus>('/auth/mfa/status', { signal }) });
}

export function useSessions() {
  return useQuery({ queryKey: keys.sessions, queryFn: ({ signal }) => api<UserSession[]>('/auth/sessions', { signal }) });
}

export function useTrustedDevices() {
  return useQuery({
    queryKey: keys.trustedDevices,
    queryFn: ({ signal }) => api<TrustedDevice[]>('/auth/mfa/trusted-devices', { signal }),
  });
}

export function useRuntimeSettings() {
  return useQuery({
    queryKey: keys.runtimeSettings,
    queryFn: ({ signal }) => api<{ items: EffectiveSetting[] }>('/admin/settings', { signal }),
  });
}
