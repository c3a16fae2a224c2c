import { createHash, randomBytes } from 'node:crypto';

/**
 * "Remember this device" after a successful MFA check: the browser gets a
 * random 32-byte id in the mfa_trust cookie, the database keeps only its
 * SHA-256 (a plain hash suffices for 256 random bits: nothing to brute-force,
 * and a leaked table still cannot be replayed as cookies). The row carries the
 * user, label, expiry (`Z4J_MFA_REMEMBER_DEVICE_DAYS`) and revocation.
 */

const DEVICE_ID_BYTES = 32;
/** At most this many remembered devices per user; the API layer evicts the oldest beyond it. */
export const MAX_TRUSTED_DEVICES_PER_USER = 20;

export interface MintedTrustedDevice {
  /** Goes into the cookie, never stored. */
  readonly deviceId: string;
  /** `trusted_devices` stores this (64 hex characters). */
  readonly deviceHash: string;
}

/** SHA-256 hex of a cookie's device id, for the lookup. */
export function hashTrustedDeviceId(deviceId: string): string {
  return createHash('sha256').update(deviceId, 'utf8').digest('hex');
}

/**
 * A new device id and its stored hash.
 *
 * @example
 * const { deviceId, deviceHash } = mintTrustedDevice() // deviceId: 43 base64url chars
 */
export function mintTrustedDevice(): MintedTrustedDevice {
  const deviceId = randomBytes(DEVICE_ID_BYTES).toString('base64url');
  return { deviceId, deviceHash: hashTrustedDeviceId(deviceId) };
}

/** When a device remembered at `now` stops being trusted (`Z4J_MFA_REMEMBER_DEVICE_DAYS`, default 30). */
export function trustedDeviceExpiresAt(now: Date, mfaRememberDeviceDays: number): Date {
  return new Date(now.getTime() + mfaRememberDeviceDays * 86_400_000);
}
