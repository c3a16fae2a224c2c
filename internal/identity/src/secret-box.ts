import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encryption at rest of each user's TOTP secret, so a database dump alone
 * cannot mint MFA codes.
 *
 * - Key: HKDF-SHA256(ikm = UTF-8 of `Z4J_SECRET`, salt `z4j-mfa-totp-salt-v1`,
 *   info `z4j-mfa-totp-secret`, 32 bytes) for AES-256-GCM. Deriving (rather
 *   than using Z4J_SECRET directly) keeps this key apart from every other use
 *   of the master secret.
 * - AAD: the user id (UTF-8), so a sealed secret copied onto another user's
 *   row fails to open instead of letting that user log in with it.
 * - Stored bytes: `nonce(12) ‖ ciphertext ‖ tag(16)`, a fresh random nonce
 *   per seal (a few seals per user lifetime: random 96-bit nonces are safe).
 * - Rotation: opening tries `Z4J_SECRET`, then each `Z4J_PREVIOUS_SECRETS`
 *   entry; `keyIndex > 0` tells the caller to re-seal under the current one.
 */

const HKDF_SALT = 'z4j-mfa-totp-salt-v1';
const HKDF_INFO = 'z4j-mfa-totp-secret';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretBoxKeys {
  /** `Z4J_SECRET`. */
  readonly secret: string;
  /** `Z4J_PREVIOUS_SECRETS`, newest first. */
  readonly previousSecrets?: readonly string[];
}

export type OpenSecretResult =
  | {
      readonly ok: true;
      readonly plaintext: Buffer;
      /** 0 = opened with the current secret; n > 0 = with `previousSecrets[n - 1]`: re-seal it. */
      readonly keyIndex: number;
    }
  | { readonly ok: false };

/** The AES-256-GCM key for TOTP secrets, derived from one master secret. */
export function deriveTotpKey(masterSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(masterSecret, 'utf8'), HKDF_SALT, HKDF_INFO, KEY_BYTES));
}

function aad(userId: string): Buffer {
  return Buffer.from(userId, 'utf8');
}

/**
 * Encrypts `plaintext` (the raw TOTP secret) for `userId` under the current
 * master secret.
 *
 * @example
 * const sealed = sealTotpSecret(generateTotpSecret(), user.id, settings.secret) // 12 + 20 + 16 = 48 bytes
 */
export function sealTotpSecret(plaintext: Uint8Array, userId: string, masterSecret: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', deriveTotpKey(masterSecret), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(userId));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]);
}

function openWithKey(sealed: Buffer, userId: string, key: Buffer): Buffer | undefined {
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const ciphertext = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(userId));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    // final() throws when the tag does not verify: wrong key, wrong user id or tampered bytes.
    return undefined;
  }
}

/**
 * Decrypts a sealed TOTP secret of `userId`, trying the current master
 * secret and then each previous one. `{ ok: false }` covers a wrong user id,
 * tampering, truncation and a key no longer configured alike: there is
 * nothing different a caller could do about each.
 */
export function openTotpSecret(sealed: Uint8Array, userId: string, keys: SecretBoxKeys): OpenSecretResult {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (bytes.length < NONCE_BYTES + TAG_BYTES) return { ok: false };
  const candidates = [keys.secret, ...(keys.previousSecrets ?? [])];
  for (const [keyIndex, masterSecret] of candidates.entries()) {
    const plaintext = openWithKey(bytes, userId, deriveTotpKey(masterSecret));
    if (plaintext !== undefined) return { ok: true, plaintext, keyIndex };
  }
  return { ok: false };
}
