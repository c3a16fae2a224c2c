import { createHmac, randomBytes } from 'node:crypto';

/** Domain-separation label of the invitation-token hash. */
const INVITATION_TOKEN_LABEL = 'z4j-invitation-v1';

/** How long an invitation link stays valid. */
export const INVITATION_TTL_MS = 7 * 86_400_000;

/** 256 random bits, URL-safe (the shape of Python's `token_urlsafe(32)`); shown once, in the accept URL. */
export function mintInvitationToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * `hex(HMAC-SHA256(key = utf8(Z4J_SECRET) ‖ "z4j-invitation-v1", token))`. Only this is stored, so a
 * database dump does not hand out working invitation links.
 */
export function hashInvitationToken(secret: string, token: string): string {
  const key = Buffer.concat([Buffer.from(secret, 'utf8'), Buffer.from(INVITATION_TOKEN_LABEL, 'ascii')]);
  return createHmac('sha256', key).update(token, 'utf8').digest('hex');
}

/** Hashes to look a token up by: the current secret first, then each previous one (links survive a rotation). */
export function invitationTokenHashCandidates(token: string, secret: string, previousSecrets: readonly string[] = []): string[] {
  return [...new Set([secret, ...previousSecrets].map((key) => hashInvitationToken(key, token)))];
}
