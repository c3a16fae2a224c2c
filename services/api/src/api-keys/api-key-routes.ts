import type { Kysely } from 'kysely';
import * as v from 'valibot';
import type { Database } from '@z4j/db';
import { hashApiKey, mintApiKey } from '@z4j/identity';
import { decodeTimestampCursor, olderThan, timestampCursorKey, timestampText } from '../audit/timestamp-cursor.js';
import { timestampInput } from '../audit/timestamp-input.js';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';
import { pageOf, paginationQuery } from '../http/pagination.js';
import { ADMIN_SCOPE, API_KEY_SCOPE_NAMES, API_KEY_SCOPES } from './api-key-scopes.js';
import { isUuid } from '../http/uuid.js';

const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const DAY_MS = 86_400_000;
/** Why a key stopped working, in `api_keys.revoked_reason`. */
const REVOKED_BY_OWNER = 'revoked_by_owner';

/** A key as its owner sees it: everything but the hash (the token itself is never stored). */
export interface ApiKeyView {
  readonly id: string;
  readonly name: string;
  /** `z4k_` and the token's next 4 characters, to tell keys apart. */
  readonly prefix: string;
  readonly scopes: string[];
  readonly project_id: string | null;
  readonly project_slug: string | null;
  /** `revoked` wins over `expired`. */
  readonly state: 'active' | 'expired' | 'revoked';
  readonly created_at: Date;
  readonly last_used_at: Date | null;
  readonly last_used_ip: string | null;
  readonly expires_at: Date | null;
  readonly revoked_at: Date | null;
  readonly revoked_reason: string | null;
}

function selectKeys(db: Kysely<Database>) {
  return db
    .selectFrom('api_keys')
    .leftJoin('projects', 'projects.id', 'api_keys.project_id')
    .select([
      'api_keys.id',
      'api_keys.name',
      'api_keys.prefix',
      'api_keys.scopes',
      'api_keys.project_id',
      'projects.slug as project_slug',
      'api_keys.created_at',
      timestampText('api_keys.created_at').as('created_at_text'),
      'api_keys.last_used_at',
      'api_keys.last_used_ip',
      'api_keys.expires_at',
      'api_keys.revoked_at',
      'api_keys.revoked_reason',
    ]);
}

type KeyRow = Awaited<ReturnType<ReturnType<typeof selectKeys>['executeTakeFirstOrThrow']>>;

function keyView(row: KeyRow, now: Date): ApiKeyView {
  const state = row.revoked_at !== null ? 'revoked' : row.expires_at !== null && row.expires_at <= now ? 'expired' : 'active';
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    project_id: row.project_id,
    project_slug: row.project_slug,
    state,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    last_used_ip: row.last_used_ip,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    revoked_reason: row.revoked_reason,
  };
}

/**
 * Personal API keys (§5.1, §5.2). Only a browser session manages keys: the
 * `api-keys` tag is outside the scoped tags, so the runner refuses every
 * Bearer call here and a leaked key cannot mint itself successors. A new
 * key's token is returned once; only its keyed hash is stored. A key acts as
 * its owner, so its scopes narrow what the owner's roles allow, never widen it.
 */
export function createApiKeyRoutes(deps: ApiDeps): AnyRoute[] {
  const CreateApiKeyBody = v.pipe(
    v.object({
      name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(200)),
      scopes: v.pipe(
        v.array(v.picklist(API_KEY_SCOPE_NAMES, 'unknown scope (GET /api/v1/api-keys/scopes lists them)')),
        v.minLength(1, 'give the key at least one scope'),
        v.transform((scopes) => [...new Set(scopes)]),
      ),
      project_slug: v.optional(v.nullable(v.pipe(v.string(), v.regex(SLUG, 'not a project slug')))),
      expires_at: v.optional(
        v.nullable(
          v.pipe(
            timestampInput(),
            v.check((date) => date.getTime() > deps.now().getTime(), 'must be in the future'),
          ),
        ),
      ),
      expires_in_days: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3650)))),
    }),
    v.forward(
      v.check((input) => input.expires_at == null || input.expires_in_days == null, 'give expires_at or expires_in_days, not both'),
      ['expires_in_days'],
    ),
  );

  /** The project a key may be bound to: one the caller belongs to (any role), or any project for a global admin. */
  async function bindableProject(slug: string, user: { id: string; isAdmin: boolean }): Promise<string> {
    const row = await deps.db
      .selectFrom('projects')
      .leftJoin('memberships', (join) => join.onRef('memberships.project_id', '=', 'projects.id').on('memberships.user_id', '=', user.id))
      .select(['projects.id', 'memberships.role'])
      .where('projects.slug', '=', slug)
      .executeTakeFirst();
    if (!row || (!user.isAdmin && row.role === null)) throw apiError.notFound('project');
    return row.id;
  }

  return [
    defineRoute({
      method: 'GET',
      path: '/api-keys',
      tag: 'api-keys',
      summary: "The caller's API keys, newest first (never the token or its hash)",
      access: { kind: 'signed_in' },
      query: paginationQuery(deps.settings),
      handler: async ({ c, query, principal }) => {
        let select = selectKeys(deps.db).where('api_keys.user_id', '=', principal.user.id);
        if (query.cursor !== undefined)
          select = select.where(olderThan('api_keys.created_at', 'api_keys.id', decodeTimestampCursor(query.cursor)));
        const rows = await select
          .orderBy('api_keys.created_at', 'desc')
          .orderBy('api_keys.id', 'desc')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => timestampCursorKey(row.created_at_text, row.id));
        const now = deps.now();
        return c.json({ items: page.items.map((row) => keyView(row, now)), next_cursor: page.next_cursor });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api-keys/scopes',
      tag: 'api-keys',
      summary: 'The scope vocabulary of API keys',
      access: { kind: 'signed_in' },
      handler: ({ c }) => c.json({ items: API_KEY_SCOPES }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api-keys',
      tag: 'api-keys',
      summary: 'Create an API key; the token is in this reply only',
      access: { kind: 'signed_in' },
      // A long-lived credential that acts as the user: as sensitive as changing the password.
      freshMfa: true,
      body: CreateApiKeyBody,
      status: 201,
      handler: async ({ c, body, principal, audit }) => {
        if (body.scopes.includes(ADMIN_SCOPE) && !principal.user.isAdmin)
          throw apiError.forbidden(`only global admins can create ${ADMIN_SCOPE} keys`);
        const projectId = body.project_slug ? await bindableProject(body.project_slug, principal.user) : null;
        const now = deps.now();
        const expiresAt = body.expires_at ?? (body.expires_in_days ? new Date(now.getTime() + body.expires_in_days * DAY_MS) : null);
        const minted = mintApiKey();
        const keyId = await deps.db.transaction().execute(async (trx) => {
          const inserted = await trx
            .insertInto('api_keys')
            .values({
              user_id: principal.user.id,
              name: body.name,
              token_hash: hashApiKey(deps.settings.secret, minted.token),
              prefix: minted.prefix,
              scopes: body.scopes,
              project_id: projectId,
              expires_at: expiresAt,
              created_at: now,
              updated_at: now,
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          await audit(
            {
              action: 'api_key.created',
              target_type: 'api_key',
              target_id: inserted.id,
              result: 'success',
              project_id: projectId,
              metadata: { name: body.name, prefix: minted.prefix, scopes: body.scopes, expires_at: expiresAt?.toISOString() ?? null },
            },
            trx,
          );
          return inserted.id;
        });
        const row = await selectKeys(deps.db).where('api_keys.id', '=', keyId).executeTakeFirstOrThrow();
        return c.json({ api_key: keyView(row, now), token: minted.token }, 201);
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api-keys/:keyId',
      tag: 'api-keys',
      summary: 'Revoke one of your API keys (at once; revoking twice is fine)',
      access: { kind: 'signed_in' },
      status: 204,
      handler: async ({ c, params, principal, audit }) => {
        const keyId = params.keyId ?? '';
        // Someone else's key answers exactly like a missing one.
        if (!isUuid(keyId)) throw apiError.notFound('api key');
        const now = deps.now();
        await deps.db.transaction().execute(async (trx) => {
          const revoked = await trx
            .updateTable('api_keys')
            .set({ revoked_at: now, revoked_reason: REVOKED_BY_OWNER, updated_at: now })
            .where('id', '=', keyId)
            .where('user_id', '=', principal.user.id)
            .where('revoked_at', 'is', null)
            .returning(['id', 'name', 'prefix', 'project_id'])
            .executeTakeFirst();
          if (revoked) {
            await audit(
              {
                action: 'api_key.revoked',
                target_type: 'api_key',
                target_id: revoked.id,
                result: 'success',
                project_id: revoked.project_id,
                metadata: { name: revoked.name, prefix: revoked.prefix, reason: REVOKED_BY_OWNER },
              },
              trx,
            );
            return;
          }
          const owned = await trx
            .selectFrom('api_keys')
            .select('id')
            .where('id', '=', keyId)
            .where('user_id', '=', principal.user.id)
            .executeTakeFirst();
          if (!owned) throw apiError.notFound('api key');
        });
        return c.body(null, 204);
      },
    }),
  ];
}
