import { deleteCookie, getCookie } from 'hono/cookie';
import * as v from 'valibot';
import { cookieNames, hashTrustedDeviceId } from '@z4j/identity';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiContext, type ApiDeps } from '../http/api-types.js';
import { TRUSTED_DEVICE_COLUMNS, liveDevicesOf, toTrustedDeviceJson } from './trusted-device-store.js';
import { isUuid } from '../http/uuid.js';

const LabelBody = v.object({
  label: v.nullable(
    v.pipe(v.string(), v.trim(), v.minLength(1, 'expected 1-200 characters'), v.maxLength(200, 'expected 1-200 characters')),
  ),
});

/** A device id from the path; anything that is not a UUID cannot name a device (404, like someone else's). */
function deviceIdOf(params: Readonly<Record<string, string>>): string {
  const id = params.deviceId;
  if (id === undefined || !isUuid(id)) throw apiError.notFound('trusted device');
  return id.toLowerCase();
}

/**
 * "Remember this device" management (§7): list, rename and revoke the caller's own remembered browsers.
 * Another user's device answers 404 exactly like one that does not exist.
 */
export function createTrustedDeviceRoutes(deps: ApiDeps): AnyRoute[] {
  const mfaTrustCookie = cookieNames(deps.secureCookies).mfaTrust;

  /** Whether this request's own trust cookie is the device being revoked (its cookie is then useless: drop it). */
  async function isCurrentDevice(c: ApiContext, deviceId: string): Promise<boolean> {
    const cookie = getCookie(c, mfaTrustCookie);
    if (cookie === undefined) return false;
    const row = await deps.db
      .selectFrom('trusted_devices')
      .select('id')
      .where('cookie_id_hash', '=', hashTrustedDeviceId(cookie))
      .executeTakeFirst();
    return row?.id === deviceId;
  }

  return [
    defineRoute({
      method: 'GET',
      path: '/auth/mfa/trusted-devices',
      tag: 'mfa',
      summary: "List the caller's live remembered devices, newest first",
      access: { kind: 'signed_in' },
      handler: async ({ c, principal }) => {
        const now = deps.now();
        const rows = await liveDevicesOf(deps.db, principal.user.id, now)
          .select(TRUSTED_DEVICE_COLUMNS)
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .execute();
        return c.json(rows.map(toTrustedDeviceJson));
      },
    }),
    defineRoute({
      method: 'PATCH',
      path: '/auth/mfa/trusted-devices/:deviceId',
      tag: 'mfa',
      summary: 'Rename a remembered device (null clears the label)',
      access: { kind: 'signed_in' },
      body: LabelBody,
      handler: async ({ c, body, params, principal }) => {
        const now = deps.now();
        const row = await deps.db
          .updateTable('trusted_devices')
          .set({ label: body.label, updated_at: now })
          .where('id', '=', deviceIdOf(params))
          .where('user_id', '=', principal.user.id)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', now)
          .returning(TRUSTED_DEVICE_COLUMNS)
          .executeTakeFirst();
        if (!row) throw apiError.notFound('trusted device');
        return c.json(toTrustedDeviceJson(row));
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/auth/mfa/trusted-devices/:deviceId/revoke',
      tag: 'mfa',
      summary: 'Forget a remembered device: its next sign-in asks for the MFA code again',
      access: { kind: 'signed_in' },
      status: 204,
      handler: async ({ c, params, principal, audit }) => {
        const deviceId = deviceIdOf(params);
        const now = deps.now();
        // Idempotent: revoking one's own device again is 204; only a device that is not the caller's is 404.
        const own = await deps.db
          .selectFrom('trusted_devices')
          .select(['id', 'revoked_at'])
          .where('id', '=', deviceId)
          .where('user_id', '=', principal.user.id)
          .executeTakeFirst();
        if (!own) throw apiError.notFound('trusted device');
        if (own.revoked_at === null) {
          await deps.db.transaction().execute(async (trx) => {
            const revoked = await trx
              .updateTable('trusted_devices')
              .set({ revoked_at: now, updated_at: now })
              .where('id', '=', deviceId)
              .where('revoked_at', 'is', null)
              .executeTakeFirst();
            if (revoked.numUpdatedRows === 0n) return;
            await audit(
              { action: 'user.mfa_trusted_device_revoked', target_type: 'trusted_device', target_id: deviceId, result: 'success' },
              trx,
            );
          });
        }
        if (await isCurrentDevice(c, deviceId)) deleteCookie(c, mfaTrustCookie, { path: '/', secure: deps.secureCookies });
        return c.body(null, 204);
      },
    }),
  ];
}
