import type { Kysely, Selectable } from 'kysely';
import type { Database } from '@z4j/db';
import { MAX_TRUSTED_DEVICES_PER_USER, mintTrustedDevice, trustedDeviceExpiresAt } from '@z4j/identity';

/** A remembered device as the API shows it (never its cookie id or hash). */
export interface TrustedDeviceJson {
  readonly id: string;
  readonly label: string | null;
  readonly created_at: string;
  readonly last_seen_at: string | null;
  readonly expires_at: string;
}

export function toTrustedDeviceJson(
  row: Pick<Selectable<Database['trusted_devices']>, 'id' | 'label' | 'created_at' | 'last_seen_at' | 'expires_at'>,
) {
  const json: TrustedDeviceJson = {
    id: row.id,
    label: row.label,
    created_at: row.created_at.toISOString(),
    last_seen_at: row.last_seen_at?.toISOString() ?? null,
    expires_at: row.expires_at.toISOString(),
  };
  return json;
}

export const TRUSTED_DEVICE_COLUMNS = ['id', 'label', 'created_at', 'last_seen_at', 'expires_at'] as const;

/** Live devices: not revoked and not expired. */
export function liveDevicesOf(db: Kysely<Database>, userId: string, now: Date) {
  return db.selectFrom('trusted_devices').where('user_id', '=', userId).where('revoked_at', 'is', null).where('expires_at', '>', now);
}

/**
 * Remembers the current browser for `userId` (inside `trx`): stores only the SHA-256 of a new random device
 * id and returns the id for the cookie. Beyond {@link MAX_TRUSTED_DEVICES_PER_USER} live devices the oldest are
 * revoked; the user row is locked first so two browsers remembered at once cannot both skip the eviction.
 */
export async function rememberTrustedDevice(
  trx: Kysely<Database>,
  options: { userId: string; label: string | null; now: Date; rememberDays: number },
): Promise<{ deviceId: string; trustedDeviceId: string; evicted: number }> {
  const { userId, now } = options;
  await trx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
  const minted = mintTrustedDevice();
  const inserted = await trx
    .insertInto('trusted_devices')
    .values({
      user_id: userId,
      cookie_id_hash: minted.deviceHash,
      label: options.label,
      created_at: now,
      updated_at: now,
      last_seen_at: now,
      expires_at: trustedDeviceExpiresAt(now, options.rememberDays),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // Keep the newest MAX - 1 others beside the new one (ties on created_at cannot evict the device just added).
  const surplus = await liveDevicesOf(trx, userId, now)
    .select('id')
    .where('id', '<>', inserted.id)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .offset(MAX_TRUSTED_DEVICES_PER_USER - 1)
    .limit(1000)
    .execute();
  if (surplus.length > 0) {
    await trx
      .updateTable('trusted_devices')
      .set({ revoked_at: now, updated_at: now })
      .where(
        'id',
        'in',
        surplus.map((row) => row.id),
      )
      .execute();
  }
  return { deviceId: minted.deviceId, trustedDeviceId: inserted.id, evicted: surplus.length };
}

/** The initial label of a remembered device: its User-Agent, shortened (the user can rename it). */
export function deviceLabelFrom(userAgent: string | undefined): string | null {
  const trimmed = userAgent?.trim();
  return trimmed ? trimmed.slice(0, 200) : null;
}
