import { sql, type Kysely, type Selectable } from 'kysely';
import * as v from 'valibot';
import { isUniqueViolation, type Database } from '@z4j/db';
import { csrfTokensMatch } from '@z4j/identity';
import { createSlidingWindowLimiter } from '@z4j/runtime';
import { apiError } from '../http/api-errors.js';
import {
  PROJECT_ROLES,
  defineRoute,
  type AnyRoute,
  type ApiContext,
  type ApiDeps,
  type Principal,
  type ProjectRole,
} from '../http/api-types.js';
import { decodeTextCursor, pageOf, paginationQuery } from '../http/pagination.js';
import { enrolmentGraceOver } from '../http/route-runner.js';
import { EmailField, NameField, PasswordField, assertPasswordPolicy } from '../users/user-fields.js';
import { INVITATION_TTL_MS, invitationTokenHashCandidates, mintInvitationToken, hashInvitationToken } from './invitation-token.js';
import { isUuid } from '../http/uuid.js';

/** Per-IP budget of each public invitation route (preview, accept): tokens are 256-bit, this only bounds the load. */
const PUBLIC_ATTEMPTS_PER_WINDOW = 20;
const PUBLIC_WINDOW_MS = 60_000;

const RoleField = v.picklist(PROJECT_ROLES, `expected one of ${PROJECT_ROLES.join(', ')}`);
const TokenField = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(200));

const CreateInvitationBody = v.object({ email: EmailField, role: RoleField });
const PreviewQuery = v.object({ token: TokenField });
const AcceptBody = v.object({
  token: TokenField,
  /** Only for a new account: the password it gets (policy-checked). */
  password: v.optional(PasswordField),
  display_name: NameField,
});

type InvitationRow = Selectable<Database['invitations']>;

const INVITATION_COLUMNS = [
  'invitations.id',
  'invitations.project_id',
  'invitations.email',
  'invitations.role',
  'invitations.invited_by',
  'invitations.token_hash',
  'invitations.expires_at',
  'invitations.accepted_at',
  'invitations.accepted_by_user_id',
  'invitations.revoked_at',
  'invitations.created_at',
  'invitations.updated_at',
] as const;

/**
 * An invitation's state: pending until it is accepted, revoked or past expires_at. Accepted and revoked are final
 * and exclusive (a CHECK constraint); expired is only a matter of the clock.
 */
function invitationStatus(row: InvitationRow, now: Date): 'pending' | 'accepted' | 'revoked' | 'expired' {
  if (row.accepted_at !== null) return 'accepted';
  if (row.revoked_at !== null) return 'revoked';
  return row.expires_at <= now ? 'expired' : 'pending';
}

/** An invitation as admins see it: never the token or its hash. */
function invitationView(row: InvitationRow, now: Date) {
  return {
    id: row.id,
    project_id: row.project_id,
    email: row.email,
    role: row.role,
    status: invitationStatus(row, now),
    invited_by: row.invited_by,
    expires_at: row.expires_at,
    accepted_at: row.accepted_at,
    accepted_by_user_id: row.accepted_by_user_id,
    revoked_at: row.revoked_at,
    created_at: row.created_at,
  };
}

/**
 * Project invitations (§5.2): admins invite an email with a role and get a
 * one-time link; whoever holds the link previews and accepts it without an
 * account. The link's token is shown once and stored only as a keyed hash.
 *
 * Accepting: if the invited email already has an account, the caller must be
 * signed in as that account (a browser session past its MFA step, echoing
 * its CSRF token), so a leaked link cannot attach someone else's account;
 * otherwise the account is created with the given password. The user, the
 * membership (created, or upgraded, never downgraded), the invitation's
 * acceptance and the audit row commit together, and the acceptance is a
 * conditional update, so one link is used at most once under any race.
 * Unknown, expired, revoked and used links all get the same 404.
 */
export function createInvitationRoutes(deps: ApiDeps): AnyRoute[] {
  const clock = () => deps.now().getTime();
  const previewLimiter = createSlidingWindowLimiter({ limit: PUBLIC_ATTEMPTS_PER_WINDOW, windowMs: PUBLIC_WINDOW_MS, now: clock });
  const acceptLimiter = createSlidingWindowLimiter({ limit: PUBLIC_ATTEMPTS_PER_WINDOW, windowMs: PUBLIC_WINDOW_MS, now: clock });
  const ListQuery = paginationQuery(deps.settings);

  /** The pending invitation of a token with its (active) project, or the one 404 every bad link gets. */
  async function pendingInvitation(token: string) {
    const row = await deps.db
      .selectFrom('invitations')
      .innerJoin('projects', 'projects.id', 'invitations.project_id')
      .select([...INVITATION_COLUMNS, 'projects.slug as project_slug', 'projects.name as project_name'])
      .where('invitations.token_hash', 'in', invitationTokenHashCandidates(token, deps.settings.secret, deps.settings.previousSecrets))
      .where('invitations.accepted_at', 'is', null)
      .where('invitations.revoked_at', 'is', null)
      .where('invitations.expires_at', '>', deps.now())
      .where('projects.is_active', '=', true)
      .executeTakeFirst();
    if (!row) throw apiError.notFound('invitation');
    return row;
  }

  function throttle(c: ApiContext, limiter: ReturnType<typeof createSlidingWindowLimiter>): void {
    if (!limiter.hit(c.get('clientIp'))) throw apiError.rateLimited('too many invitation requests from this address; wait a minute');
  }

  /** The invited account itself must be the caller: a browser session, MFA done, CSRF echoed. */
  function assertSignedInAs(c: ApiContext, principal: Principal | undefined, userId: string): void {
    if (principal?.kind !== 'session') {
      throw apiError.unauthenticated('an account with this email exists: sign in as it, then accept the invitation');
    }
    if (principal.user.id !== userId) throw apiError.forbidden('this invitation was sent to another account');
    if (principal.user.mfaEnrolledAt !== null && principal.session.mfaVerifiedAt === null) throw apiError.mfaRequired();
    if (enrolmentGraceOver(principal, deps)) throw apiError.mfaEnrollmentRequired();
    if (!csrfTokensMatch(c.req.header('x-csrf-token'), principal.session.csrfToken)) throw apiError.csrf();
  }

  return [
    defineRoute({
      method: 'POST',
      path: '/projects/:slug/invitations',
      tag: 'invitations',
      summary: 'Invite an email to the project with a role; answers the one-time token and accept URL (replaces a pending invitation)',
      access: { kind: 'project', role: 'admin' },
      body: CreateInvitationBody,
      status: 201,
      handler: async ({ c, body, project, principal, audit }) => {
        if (!project.isActive) throw apiError.conflict('the project is archived');
        const member = await deps.db
          .selectFrom('memberships')
          .innerJoin('users', 'users.id', 'memberships.user_id')
          .select('memberships.id')
          .where('memberships.project_id', '=', project.id)
          .where('users.email', '=', body.email)
          .executeTakeFirst();
        if (member) throw apiError.conflict('this email already belongs to a member of the project');
        const token = mintInvitationToken();
        const now = deps.now();
        const invitation = await deps.db.transaction().execute(async (trx) => {
          // One live link per email and project: a new invitation replaces (revokes) a pending one.
          const replaced = await trx
            .updateTable('invitations')
            .set({ revoked_at: now, updated_at: now })
            .where('project_id', '=', project.id)
            .where('email', '=', body.email)
            .where('accepted_at', 'is', null)
            .where('revoked_at', 'is', null)
            .executeTakeFirst();
          const row = await trx
            .insertInto('invitations')
            .values({
              project_id: project.id,
              email: body.email,
              role: body.role,
              invited_by: principal.user.id,
              token_hash: hashInvitationToken(deps.settings.secret, token),
              expires_at: new Date(now.getTime() + INVITATION_TTL_MS),
              created_at: now,
              updated_at: now,
            })
            .returning(INVITATION_COLUMNS)
            .executeTakeFirstOrThrow();
          await audit(
            {
              action: 'invitation.created',
              target_type: 'invitation',
              target_id: row.id,
              result: 'success',
              metadata: { email: row.email, role: row.role, replaced: Number(replaced.numUpdatedRows) },
            },
            trx,
          );
          return row;
        });
        return c.json(
          {
            invitation: invitationView(invitation, now),
            token,
            accept_url: `${deps.settings.publicUrl}/invitations/accept?token=${encodeURIComponent(token)}`,
          },
          201,
        );
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/invitations',
      tag: 'invitations',
      summary: "The project's pending invitations (cursor paginated, ordered by email)",
      access: { kind: 'project', role: 'admin' },
      query: ListQuery,
      handler: async ({ c, query, project }) => {
        const after = decodeTextCursor(query.cursor);
        const now = deps.now();
        const rows = await deps.db
          .selectFrom('invitations')
          .select(INVITATION_COLUMNS)
          .where('invitations.project_id', '=', project.id)
          .where('invitations.accepted_at', 'is', null)
          .where('invitations.revoked_at', 'is', null)
          .where('invitations.expires_at', '>', now)
          .$if(after !== undefined, (q) =>
            q.where((eb) => {
              const [email, id] = after as [string, string];
              return eb.or([
                eb('invitations.email', '>', email),
                eb.and([eb('invitations.email', '=', email), eb('invitations.id', '>', id)]),
              ]);
            }),
          )
          .orderBy('invitations.email')
          .orderBy('invitations.id')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => [row.email, row.id]);
        return c.json({ items: page.items.map((row) => invitationView(row, now)), next_cursor: page.next_cursor });
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/projects/:slug/invitations/:invitationId',
      tag: 'invitations',
      summary: 'Revoke an invitation (its link stops working; 409 once accepted)',
      access: { kind: 'project', role: 'admin' },
      status: 204,
      handler: async ({ c, params, project, audit }) => {
        const invitationId = params.invitationId;
        if (!isUuid(invitationId)) throw apiError.notFound('invitation');
        await deps.db.transaction().execute(async (trx) => {
          const row = await trx
            .selectFrom('invitations')
            .select(INVITATION_COLUMNS)
            .where('invitations.id', '=', invitationId)
            .where('invitations.project_id', '=', project.id)
            .forUpdate()
            .executeTakeFirst();
          if (!row) throw apiError.notFound('invitation');
          if (row.accepted_at !== null) throw apiError.conflict('the invitation was already accepted; remove the membership instead');
          if (row.revoked_at !== null) return;
          const now = deps.now();
          await trx.updateTable('invitations').set({ revoked_at: now, updated_at: now }).where('id', '=', row.id).execute();
          await audit(
            {
              action: 'invitation.revoked',
              target_type: 'invitation',
              target_id: row.id,
              result: 'success',
              metadata: { email: row.email, role: row.role },
            },
            trx,
          );
        });
        return c.body(null, 204);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/invitations/preview',
      tag: 'invitations',
      summary: 'What an invitation link offers (public; 404 for unknown, expired, revoked or used links alike)',
      access: { kind: 'public' },
      query: PreviewQuery,
      handler: async ({ c, query }) => {
        throttle(c, previewLimiter);
        const invitation = await pendingInvitation(query.token);
        const account = await deps.db.selectFrom('users').select('id').where('email', '=', invitation.email).executeTakeFirst();
        return c.json({
          project: { slug: invitation.project_slug, name: invitation.project_name },
          email: invitation.email,
          role: invitation.role,
          expires_at: invitation.expires_at,
          // Tells the page whether to ask for a password or for a sign-in; only the link's holder learns it.
          account_exists: account !== undefined,
        });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/invitations/accept',
      tag: 'invitations',
      summary: 'Accept an invitation: as the signed-in invited account, or by creating the account with a password (public)',
      access: { kind: 'public' },
      body: AcceptBody,
      handler: async ({ c, body, principal, audit }) => {
        throttle(c, acceptLimiter);
        const invitation = await pendingInvitation(body.token);
        const existing = await deps.db.selectFrom('users').select(['id', 'email']).where('email', '=', invitation.email).executeTakeFirst();
        let passwordHash: string | undefined;
        if (existing) {
          assertSignedInAs(c, principal, existing.id);
        } else {
          if (body.password === undefined) {
            throw apiError.validation([{ field: 'body.password', message: 'required to create the account this invitation is for' }]);
          }
          assertPasswordPolicy(body.password, invitation.email, deps.settings.passwordMinLength);
          passwordHash = await deps.passwords.hash(body.password);
        }
        try {
          const accepted = await deps.db.transaction().execute(async (trx) => {
            const now = deps.now();
            const user =
              existing ??
              (await trx
                .insertInto('users')
                .values({
                  email: invitation.email,
                  password_hash: passwordHash!,
                  display_name: body.display_name ?? null,
                  created_at: now,
                  updated_at: now,
                })
                .returning(['id', 'email'])
                .executeTakeFirstOrThrow());
            await claimInvitation(trx, invitation.id, user.id, now);
            const previous = await trx
              .selectFrom('memberships')
              .select('role')
              .where('project_id', '=', invitation.project_id)
              .where('user_id', '=', user.id)
              .executeTakeFirst();
            // The enum orders viewer < operator < admin, so greatest() upgrades and never downgrades.
            const membership = await trx
              .insertInto('memberships')
              .values({ project_id: invitation.project_id, user_id: user.id, role: invitation.role, created_at: now, updated_at: now })
              .onConflict((oc) =>
                oc.columns(['user_id', 'project_id']).doUpdateSet({
                  role: sql<ProjectRole>`greatest(memberships.role, excluded.role)`,
                  updated_at: now,
                }),
              )
              .returning(['id', 'role'])
              .executeTakeFirstOrThrow();
            await audit(
              {
                action: 'invitation.accepted',
                target_type: 'invitation',
                target_id: invitation.id,
                result: 'success',
                user_id: user.id,
                api_key_id: null,
                project_id: invitation.project_id,
                metadata: {
                  email: user.email,
                  role: membership.role,
                  previous_role: previous?.role ?? null,
                  membership_id: membership.id,
                  account_created: existing === undefined,
                },
              },
              trx,
            );
            return { user, role: membership.role };
          });
          return c.json({
            user: { id: accepted.user.id, email: accepted.user.email, created: existing === undefined },
            project: { id: invitation.project_id, slug: invitation.project_slug, name: invitation.project_name },
            role: accepted.role,
          });
        } catch (error) {
          // Another request created this email's account between the lookup and the insert: it must sign in instead.
          if (isUniqueViolation(error)) throw apiError.conflict('an account with this email now exists: sign in as it, then accept');
          throw error;
        }
      },
    }),
  ];
}

/** Marks the invitation accepted only if it is still pending: the loser of a race gets the same 404 as a used link. */
async function claimInvitation(trx: Kysely<Database>, invitationId: string, userId: string, now: Date): Promise<void> {
  const claimed = await trx
    .updateTable('invitations')
    .set({ accepted_at: now, accepted_by_user_id: userId, updated_at: now })
    .where('id', '=', invitationId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (claimed.numUpdatedRows === 0n) throw apiError.notFound('invitation');
}
