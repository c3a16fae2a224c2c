import { randomBytes } from 'node:crypto';
import { generateSync, ScureBase32Plugin, verifySync } from 'otplib';

/**
 * TOTP (RFC 6238) as every authenticator app expects it: HMAC-SHA-1,
 * 6 digits, 30 s steps from the Unix epoch, a 20-byte (160-bit) secret, and
 * a tolerance of one step either side for clock drift and typing time.
 *
 * The secret is handled as raw bytes; base32 is only its display form (the
 * enrolment response and the `otpauth://` URL). At rest it is sealed by
 * `secret-box.ts`.
 *
 * Replay: a code stays valid for up to three steps (90 s), so a code seen
 * over someone's shoulder could be reused. {@link verifyTotp} returns the
 * step that matched; the caller stores it and passes it back as
 * `lastUsedTimeStep`, and any code from that step or an earlier one is refused.
 */

export const TOTP_SECRET_BYTES = 20;
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted on either side of the current one. */
export const TOTP_WINDOW_STEPS = 1;

const base32 = new ScureBase32Plugin();

export type TotpVerifyResult =
  | {
      readonly valid: true;
      /** RFC 6238 T = floor(unix seconds / 30) of the step that matched: store it to refuse replays. */
      readonly timeStep: number;
      /** Matched step minus current step: -1, 0 or +1. */
      readonly delta: number;
    }
  | { readonly valid: false; readonly reason: 'malformed' | 'mismatch' | 'replayed' };

export interface VerifyTotpOptions {
  /** The step of the last accepted code for this user; codes from it or earlier steps are refused. */
  readonly lastUsedTimeStep?: number;
}

export interface TotpProvisioningOptions {
  readonly secret: Uint8Array;
  /** Shown in the authenticator app under the issuer; the user's email. */
  readonly accountName: string;
  /** `Z4J_PUBLIC_URL`: its host name goes into the issuer `z4j (<host>)`. */
  readonly publicUrl: string;
}

function unixSeconds(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

/** A new random 20-byte TOTP secret. */
export function generateTotpSecret(): Buffer {
  return randomBytes(TOTP_SECRET_BYTES);
}

/** Base32 (RFC 4648, upper case, no padding) as authenticator apps take it: 32 characters for 20 bytes. */
export function encodeTotpSecret(secret: Uint8Array): string {
  return base32.encode(secret, { padding: false });
}

/** The bytes of a secret in its display form ({@link encodeTotpSecret}): what an authenticator app does with it. */
export function decodeTotpSecret(text: string): Uint8Array {
  return base32.decode(text);
}

/** RFC 6238 time step of `now`. */
export function totpTimeStep(now: Date): number {
  return Math.floor(unixSeconds(now) / TOTP_PERIOD_SECONDS);
}

/** The code an authenticator shows at `now` (tests, and the CLI's self-check). */
export function generateTotp(secret: Uint8Array, now: Date): string {
  return generateSync({ secret, epoch: unixSeconds(now), digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, algorithm: 'sha1' });
}

/**
 * The issuer shown in authenticator apps: `z4j (<host>)`. The port is left
 * out because the Key URI format forbids a colon in the issuer (it separates
 * issuer from account in the label); IPv6 literals lose their brackets and
 * colons for the same reason.
 */
export function totpIssuer(publicUrl: string): string {
  const host = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '').replaceAll(':', '.');
  return `z4j (${host})`;
}

/**
 * The `otpauth://totp/…` URL an authenticator app scans (as a QR code).
 * Built here rather than by otplib's `generateURI`, which does not escape a
 * colon inside the issuer or account.
 *
 * @example
 * totpProvisioningUrl({ secret, accountName: 'ann@example.com', publicUrl: 'https://z4j.example.com' })
 * // otpauth://totp/z4j%20(z4j.example.com):ann%40example.com?secret=…&issuer=z4j%20(z4j.example.com)&algorithm=SHA1&digits=6&period=30
 */
export function totpProvisioningUrl(options: TotpProvisioningOptions): string {
  const issuer = encodeURIComponent(totpIssuer(options.publicUrl));
  const account = encodeURIComponent(options.accountName);
  const query = `secret=${encodeTotpSecret(options.secret)}&issuer=${issuer}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_SECONDS}`;
  return `otpauth://totp/${issuer}:${account}?${query}`;
}

/**
 * Checks a code typed by the user at `now`, accepting the previous, current
 * and next step. Spaces in the code are ignored ("123 456"). The comparison
 * inside otplib is constant-time.
 */
export function verifyTotp(secret: Uint8Array, code: string, now: Date, options: VerifyTotpOptions = {}): TotpVerifyResult {
  const token = code.replace(/\s+/g, '');
  if (!/^\d+$/.test(token) || token.length !== TOTP_DIGITS) return { valid: false, reason: 'malformed' };
  const result = verifySync({
    secret,
    token,
    epoch: unixSeconds(now),
    // A tolerance of exactly one period covers floor((t-30)/30)..floor((t+30)/30): one step either side.
    epochTolerance: TOTP_WINDOW_STEPS * TOTP_PERIOD_SECONDS,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    algorithm: 'sha1',
  });
  if (!result.valid) return { valid: false, reason: 'mismatch' };
  if (!('timeStep' in result)) return { valid: false, reason: 'mismatch' };
  if (options.lastUsedTimeStep !== undefined && result.timeStep <= options.lastUsedTimeStep) return { valid: false, reason: 'replayed' };
  return { valid: true, timeStep: result.timeStep, delta: result.delta };
}
