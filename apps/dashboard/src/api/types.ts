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

export type WorkerState = 'online' | 'offline' | 'draining' | 'unknown';

/** `GET /projects/:slug/workers` items: an engine-native worker and what it did since the list's `counts_since`. */
export interface Worker {
  readonly id: string;
  readonly engine: string;
  readonly name: string;
  readonly hostname: string | null;
  readonly pid: number | null;
  readonly concurrency: number | null;
  readonly queues: readonly string[];
  readonly state: WorkerState;
  readonly last_heartbeat: string | null;
  readonly load_average: readonly number[] | null;
  readonly memory_bytes: number | null;
  readonly active_tasks: number;
  readonly created_at: string;
  readonly updated_at: string;
  readonly processed: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly retried: number;
}

export interface WorkerList {
  readonly counts_since: string;
  readonly items: Worker[];
  readonly next_cursor: string | null;
}

/** `GET /projects/:slug/workers/:workerId`: the worker, its counts window and what its engine reported. */
export interface WorkerDetail extends Worker {
  readonly counts_since: string;
  readonly metadata: unknown;
}

export interface Schedule {
  readonly id: string;
  readonly name: string;
  readonly engine: string;
  readonly scheduler: string;
  readonly task_name: string;
  readonly kind: string;
  readonly expression: string;
  readonly timezone: string;
  readonly queue: string | null;
  readonly is_enabled: boolean;
  readonly last_run_at: string | null;
  readonly next_run_at: string | null;
  readonly total_runs: number;
  readonly source: string;
}

/** The reply of `POST /projects/:slug/schedules/:id/{enable,disable,trigger}`. */
export interface ScheduleControl {
  readonly schedule: Schedule;
  readonly command: Command;
}

export interface AuditRow {
  readonly id: string;
  readonly action: string;
  readonly target_type: string;
  readonly target_id: string | null;
  readonly result: string;
  readonly outcome: string;
  readonly project_slug: string | null;
  readonly user_id: string | null;
  readonly user_email: string | null;
  readonly api_key_id: string | null;
  readonly source_ip: string | null;
  readonly user_agent: string | null;
  readonly metadata: unknown;
  readonly occurred_at: string;
}

export interface Membership {
  readonly id: string;
  readonly user_id: string;
  readonly role: Role;
  readonly email: string;
  readonly display_name: string | null;
  readonly user_is_active: boolean;
  readonly created_at: string;
}

export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly scopes: readonly string[];
  readonly project_slug: string | null;
  readonly state: 'active' | 'expired' | 'revoked';
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
}

export interface ApiKeyScope {
  readonly scope: string;
  readonly tag: string;
  readonly access: 'read' | 'write' | 'all';
  readonly admin_only: boolean;
}

/** `POST /api-keys`: the token is in this reply only. */
export interface CreatedApiKey {
  readonly api_key: ApiKey;
  readonly token: string;
}

export interface MfaStatus {
  readonly enrolled: boolean;
  readonly enrolled_at: string | null;
  readonly remaining_recovery_codes: number;
}

export interface MfaEnrolment {
  readonly secret_base32: string;
  readonly provisioning_url: string;
}

export interface UserSession {
  readonly id: string;
  readonly issued_at: string;
  readonly last_seen_at: string;
  readonly ip: string | null;
  readonly user_agent: string | null;
  readonly current: boolean;
}

export interface TrustedDevice {
  readonly id: string;
  readonly label: string | null;
  readonly created_at: string;
  readonly last_seen_at: string | null;
  readonly expires_at: string;
}

/** `GET /admin/settings` items: secrets arrive masked from the server. */
export interface EffectiveSetting {
  readonly name: string;
  readonly section: string;
  readonly value: string;
  readonly source: 'env' | 'dotenv' | 'config.env' | 'secret.env' | 'default';
  readonly default: string | null;
  readonly secret: boolean;
  readonly description: string;
}
