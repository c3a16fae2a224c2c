import { createHmac, randomBytes } from 'node:crypto';

/** Domain-separation label of the setup-token hash, as in the original brain. */
const SETUP_TOKEN_LABEL = 'z4j-setup-token-v1';

/**
 * `hex(HMAC-SHA256(key = utf8(Z4J_SECRET) ‖ "z4j-setup-token-v1", token))`.
 * Only this hash is stored, so a database dump does not hand out the setup URL.
 */
export function hashSetupToken(secret: string, token: string): string {
  const key = Buffer.concat([Buffer.from(secret, 'utf8'), Buffer.from(SETUP_TOKEN_LABEL, 'ascii')]);
  return createHmac('sha256', key).update(token, 'utf8').digest('hex');
}

/** 256 random bits, URL-safe: the same shape as Python's `token_urlsafe(32)`. */
export function mintSetupToken(): string {
  return randomBytes(32).toString('base64url');
}
