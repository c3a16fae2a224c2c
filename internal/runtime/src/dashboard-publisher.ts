import type { Logger } from '@z4j/logger';

/** The topics `/ws/dashboard` pushes (§10.3); the dashboard refetches over REST when one arrives. */
export const DASHBOARD_TOPICS = ['task.changed', 'command.changed', 'agent.changed'] as const;
export type DashboardTopic = (typeof DASHBOARD_TOPICS)[number];

/** NOTIFY channel of the dashboard fan-out; payload `{"p":"<project_id>","t":"<topic>","w":"<worker_id>"}` (§10.2). */
export const DASHBOARD_CHANNEL = 'z4j_dashboard';

export interface DashboardPublisherOptions {
  readonly publish: (channel: string, payload: string) => Promise<void>;
  /** This process's id, so receivers can tell their own NOTIFYs apart (diagnostics only). */
  readonly workerId: string;
  readonly logger: Logger;
  /** At most one NOTIFY per (project, topic) per window; the last change in a window is never lost. Default 250 ms. */
  readonly windowMs?: number;
}

export interface DashboardPublisher {
  /** Something in `projectId` changed: a task, a command or an agent. Cheap; call it on every change. */
  changed(projectId: string, topic: DashboardTopic): void;
  /** Sends what is still pending and stops. */
  close(): Promise<void>;
}

/**
 * Coalesces dashboard change signals before they become NOTIFYs: the first
 * change of a (project, topic) goes out at once, further ones within the
 * window collapse into a single trailing NOTIFY at its end. Ten thousand
 * ingested events a second become a handful of NOTIFYs, not ten thousand.
 */
export function createDashboardPublisher(options: DashboardPublisherOptions): DashboardPublisher {
  const windowMs = options.windowMs ?? 250;
  /** Keys inside their window → whether another change arrived meanwhile. */
  const open = new Map<string, { dirty: boolean; timer: NodeJS.Timeout; projectId: string; topic: DashboardTopic }>();
  let closed = false;

  const send = (projectId: string, topic: DashboardTopic) => {
    const payload = JSON.stringify({ p: projectId, t: topic, w: options.workerId });
    options.publish(DASHBOARD_CHANNEL, payload).catch((error: unknown) => options.logger.warn({ err: error }, 'dashboard:notify:failed'));
  };

  const openWindow = (key: string, projectId: string, topic: DashboardTopic) => {
    const timer = setTimeout(() => {
      const entry = open.get(key);
      open.delete(key);
      if (entry?.dirty && !closed) {
        send(projectId, topic);
        openWindow(key, projectId, topic);
      }
    }, windowMs);
    timer.unref();
    open.set(key, { dirty: false, timer, projectId, topic });
  };

  return {
    changed(projectId, topic) {
      if (closed) return;
      const key = `${projectId}\u0000${topic}`;
      const entry = open.get(key);
      if (entry) {
        entry.dirty = true;
        return;
      }
      send(projectId, topic);
      openWindow(key, projectId, topic);
    },
    async close() {
      closed = true;
      for (const entry of open.values()) {
        clearTimeout(entry.timer);
        if (entry.dirty) send(entry.projectId, entry.topic);
      }
      open.clear();
    },
  };
}
