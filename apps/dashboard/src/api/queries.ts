import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, type Page } from './client';
import type { Agent, Command, Me, MintedAgent, Project, Task, TaskEvent } from './types';

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
  home: ['home'] as const,
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
