import { timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import * as v from 'valibot';
import { isAppError } from '@z4j/errors';
import { createSlidingWindowLimiter } from '@z4j/runtime';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiContext, type ApiDeps, type ApiEnv } from '../http/api-types.js';
import { pageSecurityHeaders } from '../http/hardening.js';
import { hashSetupToken } from '../setup-token.js';
import { createFirstAdmin } from './first-admin.js';
import { renderSetupPage } from './setup-page.js';

/** The original's window for first-boot attempts per IP (Z4J_FIRST_BOOT_ATTEMPTS_PER_IP of them). */
const ATTEMPT_WINDOW_MS = 15 * 60_000;
/** Whole-brain cap on setup attempts per window, whatever the addresses (a botnet cannot grind the token). */
const GLOBAL_ATTEMPTS = 100;

const SetupCompleteBody = v.object({
  token: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  email: v.pipe(v.string(), v.minLength(3), v.maxLength(320)),
  display_name: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(200)))),
  password: v.pipe(v.string(), v.minLength(1), v.maxLength(1024)),
});
type SetupCompleteInput = v.InferOutput<typeof SetupCompleteBody>;

/** Whether the brain is still in first-boot mode (no user yet). */
async function isFirstBoot(deps: ApiDeps): Promise<boolean> {
  return (await deps.db.selectFrom('users').select('id').limit(1).executeTakeFirst()) === undefined;
}

/**
 * First-boot setup (§7): the one-time token from the boot banner turns into
 * the global admin. The token is compared as its keyed hash in constant time;
 * attempts are limited per IP and globally; success burns every token.
 */
export function createSetupRoutes(deps: ApiDeps): { routes: AnyRoute[]; mountPages(app: Hono<ApiEnv>): void } {
  const perIp = createSlidingWindowLimiter({ limit: deps.settings.firstBootAttemptsPerIp, windowMs: ATTEMPT_WINDOW_MS });
  const global = createSlidingWindowLimiter({ limit: GLOBAL_ATTEMPTS, windowMs: ATTEMPT_WINDOW_MS });

  async function tokenIsValid(token: string): Promise<boolean> {
    const presented = Buffer.from(hashSetupToken(deps.settings.secret, token), 'utf8');
    const live = await deps.db.selectFrom('first_boot_tokens').select('token_hash').where('expires_at', '>', deps.now()).execute();
    let valid = false;
    for (const row of live) {
      const stored = Buffer.from(row.token_hash, 'utf8');
      if (stored.length === presented.length && timingSafeEqual(stored, presented)) valid = true;
    }
    return valid;
  }

  async function complete(c: ApiContext, input: SetupCompleteInput) {
    const ip = c.get('clientIp');
    if (!perIp.hit(ip) || !global.hit('*')) throw apiError.rateLimited('too many setup attempts; wait 15 minutes');
    if (!(await isFirstBoot(deps))) throw apiError.conflict('setup is already complete');
    if (!(await tokenIsValid(input.token))) {
      deps.logger.warn({ ip }, 'setup:token:rejected');
      throw apiError.unauthenticated('the setup token is invalid or has expired; restart the brain for a new one');
    }
    const created = await createFirstAdmin(
      deps.db,
      { email: input.email, password: input.password, displayName: input.display_name ?? null },
      {
        passwords: deps.passwords,
        passwordMinLength: deps.settings.passwordMinLength,
        secret: deps.settings.secret,
        now: deps.now,
        via: 'setup_form',
        sourceIp: ip,
        userAgent: c.req.header('user-agent') ?? null,
      },
    );
    deps.logger.info({ user: created.userId }, 'setup:completed');
    return created;
  }

  const routes: AnyRoute[] = [
    defineRoute({
      method: 'GET',
      path: '/setup/status',
      tag: 'setup',
      summary: 'Whether the brain is in first-boot mode',
      access: { kind: 'public' },
      handler: async ({ c }) => c.json({ first_boot: await isFirstBoot(deps) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/setup/complete',
      tag: 'setup',
      summary: 'Create the first global admin and the default project with the one-time setup token',
      access: { kind: 'public' },
      body: SetupCompleteBody,
      status: 201,
      handler: async ({ c, body }) => {
        const created = await complete(c, body);
        return c.json(
          { user: { id: created.userId, email: created.email, is_admin: true }, project: { id: created.projectId, slug: 'default' } },
          201,
        );
      },
    }),
  ];

  function mountPages(app: Hono<ApiEnv>): void {
    app.use('/setup', pageSecurityHeaders());
    app.get('/setup', async (c) => {
      const token = c.req.query('token') ?? '';
      const state = (await isFirstBoot(deps)) ? 'form' : 'initialised';
      return c.html(renderSetupPage({ token, state, passwordMinLength: deps.settings.passwordMinLength }));
    });
    // The form posts here (no script on the page); the JSON API above is the same operation.
    app.post('/setup', async (c) => {
      const form = await c.req.parseBody();
      const parsed = v.safeParse(SetupCompleteBody, {
        token: form.token,
        email: form.email,
        display_name: typeof form.display_name === 'string' && form.display_name !== '' ? form.display_name : null,
        password: form.password,
      });
      const token = typeof form.token === 'string' ? form.token : '';
      const email = typeof form.email === 'string' ? form.email : '';
      const page = (error: string, status: 400 | 401 | 409 | 422 | 429) =>
        c.html(renderSetupPage({ token, state: 'form', error, email, passwordMinLength: deps.settings.passwordMinLength }), status);
      if (!parsed.success) return page('Fill in the email and the password.', 422);
      try {
        await complete(c, parsed.output);
      } catch (error) {
        if (isAppError(error) && error.status < 500) {
          if (error.status === 409)
            return c.html(renderSetupPage({ token: '', state: 'initialised', passwordMinLength: deps.settings.passwordMinLength }), 409);
          return page(error.message, error.status === 401 || error.status === 422 || error.status === 429 ? error.status : 400);
        }
        throw error;
      }
      return c.html(renderSetupPage({ token: '', state: 'done', passwordMinLength: deps.settings.passwordMinLength }), 201);
    });
  }

  return { routes, mountPages };
}
