import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseCookies } from 'hono/utils/cookie';
import * as v from 'valibot';
import { WebSocketServer, type WebSocket } from 'ws';
import { COMMAND_UPDATES_CHANNEL, COMMANDS_CHANNEL } from '@z4j/db';
import { cookieNames } from '@z4j/identity';
import { DASHBOARD_CHANNEL, DASHBOARD_TOPICS, type DashboardTopic } from '@z4j/runtime';
import type { ApiDeps, AuthUser } from '../http/api-types.js';
import { sessionFromCookie } from '../http/principal.js';
import { isUuid } from '../http/uuid.js';

/** §10.3 close codes. */
export const DashboardClose = {
  Unauthenticated: 4401,
  Forbidden: 4403,
  BadMessage: 4400,
  Unavailable: 4402,
  Idle: 4408,
} as const;

/** The client must subscribe this soon after connecting (§10.3). */
const SUBSCRIBE_TIMEOUT_MS = 10_000;
/** Clients ping about every 25 s; a socket silent for this long is gone. */
const IDLE_TIMEOUT_MS = 90_000;
/** Open dashboard sockets per user (tabs); more gets 4402. */
const MAX_SOCKETS_PER_USER = 20;
/** The session behind a socket is re-checked this often: a revoked session or a removed membership closes it. */
const RECHECK_MS = 60_000;
/** At most one push per topic per socket per window (leading and trailing), whatever the NOTIFY rate. */
const PUSH_WINDOW_MS = 250;

const COMMAND_BATCH_MS = 100;
const IssuedCommand = v.object({ c: v.string() });

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const SubscribeMessage = v.object({ type: v.literal('subscribe'), project_id: v.pipe(v.string(), v.uuid()) });
const PingMessage = v.object({ type: v.literal('ping') });
const DashboardNotification = v.object({ p: v.pipe(v.string(), v.uuid()), t: v.picklist(DASHBOARD_TOPICS), w: v.optional(v.string()) });

interface Subscriber {
  readonly ws: WebSocket;
  readonly user: AuthUser;
  readonly sessionId: string;
  readonly projectId: string;
  /** Per topic: pushed within the current window, and whether another change came in since. */
  readonly windows: Map<DashboardTopic, { dirty: boolean }>;
}

export interface DashboardSockets {
  /** The `/ws/dashboard` upgrade handler for the HTTP host. */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** LISTENs for `z4j_dashboard` (every replica's changes). */
  start(): Promise<void>;
  /** Closes every socket (1001) and stops listening. */
  drain(): Promise<void>;
  readonly size: () => number;
}

/**
 * `/ws/dashboard` (§10.3): a browser with a valid session cookie and an
 * allowed Origin subscribes to one project it can see and gets
 * `{"type":"event","topic":…}` whenever tasks, commands or agents of that
 * project change, on any replica (NOTIFY `z4j_dashboard`). The dashboard then
 * refetches over REST; pushes carry no data, so nothing here needs authorising
 * beyond the subscription itself.
 */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Origins allowed to open a dashboard socket: the public URL's and Z4J_CORS_ORIGINS. A loopback public URL
 * (the default `http://localhost:7700`) also admits the other loopback names on the same port, so a browser
 * on `http://127.0.0.1:7700` gets live updates too; nothing outside this machine is admitted by that.
 */
export function dashboardOrigins(publicUrl: string, corsOrigins: readonly string[]): ReadonlySet<string> {
  const url = new URL(publicUrl);
  const origins = new Set([url.origin, ...corsOrigins]);
  if (LOOPBACK_NAMES.includes(url.hostname)) {
    for (const name of LOOPBACK_NAMES) origins.add(`${url.protocol}//${name}${url.port ? `:${url.port}` : ''}`);
  }
  return origins;
}

export function createDashboardSockets(deps: ApiDeps): DashboardSockets {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  const byProject = new Map<string, Set<Subscriber>>();
  const perUser = new Map<string, number>();
  const allowedOrigins = dashboardOrigins(deps.settings.publicUrl, deps.settings.corsOrigins);
  const unsubscribers: (() => Promise<void>)[] = [];
  let recheck: NodeJS.Timeout | undefined;
  /** Command ids from `z4j_command_updates` waiting to be mapped to their projects (one query per batch). */
  let pendingCommandIds = new Set<string>();
  let commandBatch: NodeJS.Timeout | undefined;

  function push(subscriber: Subscriber, topic: DashboardTopic): void {
    const open = subscriber.windows.get(topic);
    if (open) {
      open.dirty = true;
      return;
    }
    send(subscriber, topic);
    const window = { dirty: false };
    subscriber.windows.set(topic, window);
    setTimeout(() => {
      subscriber.windows.delete(topic);
      if (window.dirty) push(subscriber, topic);
    }, PUSH_WINDOW_MS).unref();
  }

  function send(subscriber: Subscriber, topic: DashboardTopic): void {
    if (subscriber.ws.readyState === subscriber.ws.OPEN) subscriber.ws.send(JSON.stringify({ type: 'event', topic }));
  }

  function onNotification(payload: string): void {
    const result = v.safeParse(DashboardNotification, safeJson(payload));
    if (!result.success) {
      deps.logger.warn({ payload: payload.slice(0, 200) }, 'dashboard:notify:malformed');
      return;
    }
    for (const subscriber of byProject.get(result.output.p) ?? []) push(subscriber, result.output.t);
  }

  /**
   * `z4j_command_updates` carries only a command id (it is what `?wait=true` listens to); dashboards want
   * `command.changed` for its project. Ids are batched for COMMAND_BATCH_MS and mapped in one query, and
   * only while this replica has dashboard sockets at all.
   */
  function onCommandUpdate(commandId: string): void {
    if (byProject.size === 0 || !isUuid(commandId)) return;
    pendingCommandIds.add(commandId.toLowerCase());
    commandBatch ??= setTimeout(() => {
      commandBatch = undefined;
      const ids = [...pendingCommandIds];
      pendingCommandIds = new Set();
      deps.db
        .selectFrom('commands')
        .select('project_id')
        .distinct()
        .where('id', 'in', ids)
        .execute()
        .then(
          (rows) => {
            for (const row of rows) for (const subscriber of byProject.get(row.project_id) ?? []) push(subscriber, 'command.changed');
          },
          (error: unknown) => deps.logger.warn({ err: error }, 'dashboard:commands:lookup_failed'),
        );
    }, COMMAND_BATCH_MS);
    commandBatch.unref();
  }

  async function canSee(user: AuthUser, projectId: string): Promise<boolean> {
    if (user.isAdmin)
      return (await deps.db.selectFrom('projects').select('id').where('id', '=', projectId).executeTakeFirst()) !== undefined;
    const membership = await deps.db
      .selectFrom('memberships')
      .select('id')
      .where('user_id', '=', user.id)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    return membership !== undefined;
  }

  async function authenticate(request: IncomingMessage): Promise<{ user: AuthUser; sessionId: string } | undefined> {
    const cookie = parseCookies(request.headers.cookie ?? '')[cookieNames(deps.secureCookies).session];
    if (!cookie) return undefined;
    try {
      const principal = await sessionFromCookie(deps, cookie, request.headers['user-agent'] ?? null);
      // A session that still owes its MFA code is not signed in yet.
      if (principal.user.mfaEnrolledAt !== null && principal.session.mfaVerifiedAt === null) return undefined;
      return { user: principal.user, sessionId: principal.session.id };
    } catch {
      return undefined;
    }
  }

  function onConnection(ws: WebSocket, request: IncomingMessage): void {
    ws.on('error', (error) => deps.logger.debug({ err: error }, 'dashboard:socket:error'));
    const origin = request.headers.origin;
    if (!origin || !allowedOrigins.has(origin)) {
      ws.close(DashboardClose.Forbidden, 'origin not allowed');
      return;
    }
    let subscriber: Subscriber | undefined;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.close(DashboardClose.Idle, 'idle'), subscriber ? IDLE_TIMEOUT_MS : SUBSCRIBE_TIMEOUT_MS);
      idle.unref();
    };
    armIdle();
    ws.once('close', () => {
      clearTimeout(idle);
      if (!subscriber) return;
      byProject.get(subscriber.projectId)?.delete(subscriber);
      if (byProject.get(subscriber.projectId)?.size === 0) byProject.delete(subscriber.projectId);
      perUser.set(subscriber.user.id, (perUser.get(subscriber.user.id) ?? 1) - 1);
      if (perUser.get(subscriber.user.id) === 0) perUser.delete(subscriber.user.id);
    });
    // Frames that arrive while the cookie is checked wait in the paused socket.
    ws.pause();
    const authenticated = authenticate(request);
    ws.on('message', (data: Buffer) => {
      armIdle();
      void (async () => {
        let message: unknown;
        try {
          message = JSON.parse(data.toString('utf8'));
        } catch {
          message = undefined;
        }
        if (subscriber) {
          if (v.is(PingMessage, message)) ws.send(JSON.stringify({ type: 'pong' }));
          return;
        }
        const identity = await authenticated;
        if (!identity) return; // already closed 4401
        const subscribe = v.safeParse(SubscribeMessage, message);
        if (!subscribe.success) {
          ws.close(DashboardClose.BadMessage, 'first message must be {"type":"subscribe","project_id":"<uuid>"}');
          return;
        }
        if (!(await canSee(identity.user, subscribe.output.project_id))) {
          ws.close(DashboardClose.Forbidden, 'not a member of this project');
          return;
        }
        if ((perUser.get(identity.user.id) ?? 0) >= MAX_SOCKETS_PER_USER) {
          ws.close(DashboardClose.Unavailable, 'too many dashboard connections for this user');
          return;
        }
        if (ws.readyState !== ws.OPEN) return;
        subscriber = { ws, user: identity.user, sessionId: identity.sessionId, projectId: subscribe.output.project_id, windows: new Map() };
        perUser.set(identity.user.id, (perUser.get(identity.user.id) ?? 0) + 1);
        let set = byProject.get(subscriber.projectId);
        if (!set) byProject.set(subscriber.projectId, (set = new Set()));
        set.add(subscriber);
        armIdle();
        ws.send(JSON.stringify({ type: 'ready' }));
      })().catch((error: unknown) => {
        deps.logger.error({ err: error }, 'dashboard:socket:failed');
        ws.close(1011, 'internal error');
      });
    });
    authenticated.then(
      (identity) => {
        // Resumed either way: a paused socket would never read the client's half of the closing handshake.
        ws.resume();
        if (!identity) ws.close(DashboardClose.Unauthenticated, 'sign in first');
      },
      (error: unknown) => {
        deps.logger.error({ err: error }, 'dashboard:auth:failed');
        ws.resume();
        ws.close(1011, 'internal error');
      },
    );
  }

  /** Revoked sessions, deactivated users and removed memberships lose their sockets within RECHECK_MS. */
  async function recheckSubscribers(): Promise<void> {
    for (const set of byProject.values()) {
      for (const subscriber of set) {
        const session = await deps.db
          .selectFrom('sessions')
          .innerJoin('users', 'users.id', 'sessions.user_id')
          .select(['sessions.revoked_at', 'users.is_active'])
          .where('sessions.id', '=', subscriber.sessionId)
          .executeTakeFirst();
        if (!session || session.revoked_at !== null || !session.is_active)
          subscriber.ws.close(DashboardClose.Unauthenticated, 'session ended');
        else if (!(await canSee(subscriber.user, subscriber.projectId)))
          subscriber.ws.close(DashboardClose.Forbidden, 'no longer a member');
      }
    }
  }

  return {
    upgrade(request, socket, head) {
      wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request));
    },
    async start() {
      unsubscribers.push(await deps.subscribe(DASHBOARD_CHANNEL, onNotification));
      unsubscribers.push(await deps.subscribe(COMMAND_UPDATES_CHANNEL, onCommandUpdate));
      // A newly issued command is announced on z4j_commands ({"c": id, "a": agent}) before any status change.
      unsubscribers.push(
        await deps.subscribe(COMMANDS_CHANNEL, (payload) => {
          const issued = v.safeParse(IssuedCommand, safeJson(payload));
          if (issued.success) onCommandUpdate(issued.output.c);
        }),
      );
      recheck = setInterval(() => {
        recheckSubscribers().catch((error: unknown) => deps.logger.warn({ err: error }, 'dashboard:recheck:failed'));
      }, RECHECK_MS);
      recheck.unref();
    },
    async drain() {
      clearInterval(recheck);
      clearTimeout(commandBatch);
      for (const unsubscribe of unsubscribers.splice(0)) await unsubscribe();
      for (const client of wss.clients) client.close(1001, 'brain shutting down');
      wss.close();
    },
    size: () => wss.clients.size,
  };
}
