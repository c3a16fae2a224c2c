/** The shapes the dashboard reads, as `/api/v1` answers them (services/api is the source of truth). */

export interface User {
  readonly id: string;
  readonly email: string;
  readonly display_name: string | null;
  readonly is_admin: boolean;
  readonly mfa_enrolled: boolean;
  readonly timezone: string;
}

/** `GET /auth/me`: the user, their memberships and the session's MFA state. */
export interface Me extends User {
  readonly memberships: readonly { project_id: string; project_slug: string; role: Role }[];
  readonly mfa: { readonly enrolled: boolean; readonly verified_this_session: boolean };
}

export type Role = 'viewer' | 'operator' | 'admin';

export interface Project {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly is_active: boolean;
  readonly role?: Role | null;
}

export type TaskState = 'pending' | 'received' | 'started' | 'success' | 'failure' | 'retry' | 'revoked' | 'rejected' | 'unknown';
export const TASK_STATES: readonly TaskState[] = [
  'pending',
  'received',
  'started',
  'success',
  'failure',
  'retry',
  'revoked',
  'rejected',
  'unknown',
];

export interface Task {
  readonly id: string;
  readonly engine: string;
  readonly task_id: string;
  readonly name: string;
  readonly queue: string | null;
  readonly state: TaskState;
  readonly priority: string;
  readonly worker_name: string | null;
  readonly retry_count: number;
  readonly runtime_ms: number | null;
  readonly exception: string | null;
  readonly traceback?: string | null;
  readonly args?: unknown;
  readonly kwargs?: unknown;
  readonly result?: unknown;
  readonly parent_task_id: string | null;
  readonly root_task_id: string | null;
  readonly received_at: string | null;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface TaskEvent {
  readonly id: string;
  readonly kind: string;
  readonly occurred_at: string;
  readonly task_id: string | null;
  readonly engine: string;
  readonly agent_id: string | null;
  readonly payload?: unknown;
}

export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly engine_adapters: readonly string[];
  readonly scheduler_adapters: readonly string[];
  readonly last_seen_at: string | null;
  readonly revoked: boolean;
}

/** `POST /projects/:slug/agents`: the token and the frame-signing secret are in this reply only. */
export interface MintedAgent {
  readonly agent: Agent;
  readonly token: string;
  readonly hmac_secret: string;
}

export type CommandStatus = 'pending' | 'dispatched' | 'completed' | 'failed' | 'timeout' | 'cancelled';

export interface Command {
  readonly id: string;
  readonly agent_id: string | null;
  readonly action: string;
  readonly target_type: string;
  readonly target_id: string | null;
  readonly status: CommandStatus;
  readonly result: unknown;
  readonly error: string | null;
  readonly issued_at: string;
  readonly completed_at: string | null;
}
