import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';

/** Connection state of `/ws/dashboard`, shown by the indicator in the header. */
export type LiveState = 'connecting' | 'live' | 'offline';

const PING_MS = 25_000;
const MAX_BACKOFF_MS = 30_000;

let state: LiveState = 'offline';
const listeners = new Set<() => void>();
function setState(next: LiveState): void {
  if (state === next) return;
  state = next;
  for (const listener of listeners) listener();
}

export function useLiveState(): LiveState {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => state,
  );
}

/** Which cached queries (by key prefix under the project slug) each §10.3 topic makes stale. */
const TOPIC_QUERIES: Record<string, readonly string[]> = {
  // Worker counts come from the task projection; their state and queues from agent heartbeats.
  'task.changed': ['tasks', 'overview', 'workers'],
  'command.changed': ['commands', 'tasks', 'schedules'],
  'agent.changed': ['agents', 'overview', 'workers'],
};

/**
 * Keeps one `/ws/dashboard` socket subscribed to the project on screen and
 * refetches the visible queries of a topic when it is pushed — no polling and
 * no page reloads. Reconnects with capped exponential backoff.
 */
export function useLiveProject(projectId: string | undefined, slug: string | undefined): void {
  const client = useQueryClient();
  useEffect(() => {
    if (!projectId || !slug) return;
    let socket: WebSocket | undefined;
    let ping: ReturnType<typeof setInterval> | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let attempts = 0;
    let stopped = false;

    const connect = () => {
      setState('connecting');
      const url = new URL('/ws/dashboard', window.location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      socket = new WebSocket(url);
      socket.onopen = () => {
        attempts = 0;
        socket?.send(JSON.stringify({ type: 'subscribe', project_id: projectId }));
        setState('live');
        // Whatever changed while we were away.
        void client.invalidateQueries({ queryKey: [slug] });
        ping = setInterval(() => socket?.send(JSON.stringify({ type: 'ping' })), PING_MS);
      };
      socket.onmessage = (message: MessageEvent<string>) => {
        let data: { type?: string; topic?: string };
        try {
          data = JSON.parse(message.data) as typeof data;
        } catch {
          return;
        }
        if (data.type !== 'event' || !data.topic) return;
        for (const prefix of TOPIC_QUERIES[data.topic] ?? []) void client.invalidateQueries({ queryKey: [slug, prefix] });
      };
      socket.onclose = () => {
        clearInterval(ping);
        if (stopped) return;
        setState('offline');
        const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempts) * (0.5 + Math.random() / 2);
        attempts += 1;
        retry = setTimeout(connect, delay);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      clearInterval(ping);
      socket?.close(1000);
      setState('offline');
    };
  }, [client, projectId, slug]);
}
