import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Hono } from 'hono';
import type { Kysely } from 'kysely';
import { describeEffectiveSettings, resolveConfig } from '@z4j/config';
import type { Database } from '@z4j/db';
import { hashApiKey, mintApiKey, signSessionCookie } from '@z4j/identity';
import { createLogger } from '@z4j/logger';
import { createErrorHandler } from '@z4j/runtime';
import { Hono as HonoApp } from 'hono';
import { createApiApp } from '../api-app.js';
import type { ApiRouteTable } from '../api-routes.js';
import { createSession } from '../auth/session-store.js';
import type { AnyRoute, ApiDeps, ApiEnv, ProjectRole } from '../http/api-types.js';
import { lazyPasswordHasher } from '../http/lazy-password-hasher.js';

export const TEST_SECRET = 'api-test-master-secret-0123456789-abcdefgh';
export const TEST_SESSION_SECRET = 'api-test-session-secret-0123456789-abcdefg';

/** A browser: the cookies it holds, sent back on every request (what the brain sets, it gets). */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  header(): string | undefined {
    return this.cookies.size === 0 ? undefined : [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  store(setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

export interface HarnessResponse {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON replies
  readonly body: any;
  readonly text: string;
  /** The raw reply body (binary downloads such as XLSX exports). */
  readonly bytes: Uint8Array;
  readonly headers: Headers;
  readonly setCookies: string[];
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  readonly jar?: CookieJar;
  /** Adds `X-CSRF-Token` from the jar's csrf cookie (what the dashboard does on every write). */
  readonly csrf?: boolean;
  readonly ip?: string;
}

export interface TestUser {
  readonly id: string;
  readonly email: string;
  readonly password: string;
}

export interface ApiHarness {
  readonly deps: ApiDeps;
  readonly db: Kysely<Database>;
  readonly app: Hono<ApiEnv>;
  readonly table: ApiRouteTable;
  readonly routes: readonly AnyRoute[];
  /** The injected clock; tests move it forward. */
  readonly clock: { now: Date; advance(ms: number): void };
  /** Every `deps.notify` call, oldest first (reset leaves it alone). */
  readonly published: readonly { readonly channel: string; readonly payload: string }[];
  request(method: string, path: string, options?: RequestOptions): Promise<HarnessResponse>;
  createUser(options?: {
    email?: string;
    password?: string;
    isAdmin?: boolean;
    memberships?: Record<string, ProjectRole>;
  }): Promise<TestUser>;
  createProject(slug: string): Promise<string>;
  /** A signed-in browser for `user` without going through /auth/login (session row + cookies). */
  sessionJar(user: TestUser, options?: { mfaVerifiedAt?: Date | null }): Promise<CookieJar>;
  createApiKey(user: TestUser, scopes: readonly string[], projectId?: string | null): Promise<string>;
  /** Empties users, sessions, keys, projects and setup tokens (suites share one database per kind). */
  reset(): Promise<void>;
  /**
   * Follows `next_cursor` from the first page of a cursor-paginated list to its last, and returns every
   * item in order with the number of pages. Each page must answer 200 with at most `limit` items; the walk
   * stops with an error after `maxPages` (a cursor that never ends is a bug, not a long list).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON replies
  walkPages(path: string, options: { jar?: CookieJar; limit: number; maxPages?: number }): Promise<{ items: any[]; pages: number }>;
}

/**
 * The API over a real test database (Postgres or PGlite), served through
 * `app.request()` with the runtime's error handler, a settable clock and
 * cheap argon2 costs. `env` overrides any `Z4J_*` setting.
 */
export function createApiHarness(db: Kysely<Database>, env: Record<string, string> = {}): ApiHarness {
  const config = resolveConfig(
    {
      env: {
        Z4J_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused',
        Z4J_SECRET: TEST_SECRET,
        Z4J_SESSION_SECRET: TEST_SESSION_SECRET,
        Z4J_ENVIRONMENT: 'dev',
        Z4J_PUBLIC_URL: 'http://localhost:7700',
        Z4J_ARGON2_MEMORY_COST: '8192',
        Z4J_ARGON2_TIME_COST: '1',
        Z4J_ARGON2_PARALLELISM: '1',
        Z4J_LOGIN_MIN_DURATION_MS: '0',
        Z4J_LOGIN_BACKOFF_BASE_SECONDS: '0',
        Z4J_PASSWORD_MIN_LENGTH: '12',
        ...env,
      },
    },
    { homeDir: '/nonexistent', cwd: '/nonexistent' },
  );
  const { settings } = config;
  const clock = {
    now: new Date(),
    advance(ms: number) {
      this.now = new Date(this.now.getTime() + ms);
    },
  };
  const published: { channel: string; payload: string }[] = [];
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const deps: ApiDeps = {
    db,
    settings,
    logger: createLogger({ level: process.env.Z4J_TEST_LOG_LEVEL ?? 'silent', json: true }),
    now: () => clock.now,
    passwords: lazyPasswordHasher(settings),
    notify: async (channel, payload) => {
      published.push({ channel, payload });
      // Delivered like a NOTIFY: asynchronously, to every subscriber of this process.
      setImmediate(() => bus.emit(channel, payload));
    },
    subscribe: async (channel, handler) => {
      bus.on(channel, handler);
      return async () => {
        bus.off(channel, handler);
      };
    },
    secureCookies: new URL(settings.publicUrl).protocol === 'https:',
    effectiveSettings: describeEffectiveSettings(config),
  };
  const built = createApiApp(deps, '0.0.0-test');
  const host = new HonoApp();
  // As the runtime's HTTP host does: every reply carries a request id, and errors become the envelope.
  host.use(async (c, next) => {
    c.set('requestId' as never, randomUUID());
    await next();
  });
  host.onError(createErrorHandler(deps.logger));
  host.route('/', built.app as never);

  let counter = 0;
  const harness: ApiHarness = {
    deps,
    db,
    app: built.app,
    table: built.table,
    routes: built.table.routes,
    clock,
    published,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { host: 'localhost', ...(options.headers ?? {}) };
      if (options.ip) headers['x-test-client-ip'] = options.ip;
      const cookie = options.jar?.header();
      if (cookie) headers.cookie = cookie;
      if (options.csrf && options.jar) {
        const csrf = options.jar.get(deps.secureCookies ? '__Host-z4j_csrf' : 'z4j_csrf');
        if (csrf) headers['x-csrf-token'] = csrf;
      }
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await host.request(path, { method, headers, body });
      const setCookies = response.headers.getSetCookie();
      options.jar?.store(setCookies);
      const bytes = new Uint8Array(await response.arrayBuffer());
      const text = new TextDecoder().decode(bytes);
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Not JSON (an HTML page): tests read `text`.
      }
      return { status: response.status, body: parsed, text, bytes, headers: response.headers, setCookies };
    },
    async createUser(options = {}) {
      counter += 1;
      const email = options.email ?? `user${counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
      const password = options.password ?? `correct horse battery ${counter} staple`;
      const user = await db
        .insertInto('users')
        .values({ email, password_hash: await deps.passwords.hash(password), is_admin: options.isAdmin ?? false })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const [slug, role] of Object.entries(options.memberships ?? {})) {
        const projectId = await harness.createProject(slug);
        await db.insertInto('memberships').values({ user_id: user.id, project_id: projectId, role }).execute();
      }
      return { id: user.id, email, password };
    },
    async createProject(slug) {
      await db
        .insertInto('projects')
        .values({ slug, name: slug })
        .onConflict((oc) => oc.column('slug').doNothing())
        .execute();
      return (await db.selectFrom('projects').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;
    },
    async sessionJar(user, options = {}) {
      const session = await createSession(db, {
        userId: user.id,
        rememberMe: false,
        ip: '127.0.0.1',
        userAgent: null,
        mfaVerifiedAt: options.mfaVerifiedAt ?? null,
        absoluteLifetimeSeconds: settings.sessionAbsoluteLifetimeSeconds,
        now: clock.now,
      });
      const jar = new CookieJar();
      const prefix = deps.secureCookies ? '__Host-' : '';
      jar.cookies.set(`${prefix}z4j_session`, signSessionCookie(session.id, settings.sessionSecret));
      jar.cookies.set(`${prefix}z4j_csrf`, session.csrfToken);
      return jar;
    },
    async createApiKey(user, scopes, projectId = null) {
      const minted = mintApiKey();
      await db
        .insertInto('api_keys')
        .values({
          user_id: user.id,
          name: `key-${counter}`,
          token_hash: hashApiKey(settings.secret, minted.token),
          prefix: minted.prefix,
          scopes: [...scopes],
          project_id: projectId,
        })
        .execute();
      return minted.token;
    },
    async walkPages(path, { jar, limit, maxPages = 1000 }) {
      const items: unknown[] = [];
      const separator = path.includes('?') ? '&' : '?';
      let cursor: string | null = null;
      for (let pages = 1; pages <= maxPages; pages += 1) {
        const page = await harness.request('GET', `${path}${separator}limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`, {
          jar,
        });
        if (page.status !== 200) throw new Error(`GET ${path} page ${pages}: ${page.status} ${page.text}`);
        const body = page.body as { items: unknown[]; next_cursor: string | null };
        if (body.items.length > limit) throw new Error(`GET ${path} page ${pages}: ${body.items.length} items for limit ${limit}`);
        items.push(...body.items);
        cursor = body.next_cursor;
        if (cursor === null) return { items, pages };
      }
      throw new Error(`GET ${path}: still paging after ${maxPages} pages`);
    },
    async reset() {
      // Children first; audit_log is append-only and has no foreign keys, so it stays.
      for (const table of [
        'commands',
        'schedules',
        'tasks',
        'events',
        'workers',
        'queues',
        'trusted_devices',
        'mfa_recovery_codes',
        'api_keys',
        'sessions',
        'invitations',
        'memberships',
        'agents',
        'users',
        'projects',
        'first_boot_tokens',
      ] as const) {
        await db.deleteFrom(table).execute();
      }
    },
  };
  return harness;
}
