import { createHmac, randomBytes, randomFillSync } from 'node:crypto';

/** Domain-separation label of the per-project secret derivation (protocol 2). */
const PROJECT_SECRET_LABEL = Buffer.from('z4j-project-secret-v1:', 'ascii');
/** Suffix appended to the master secret to key agent-token hashes. */
const AGENT_TOKEN_KEY_SUFFIX = Buffer.from('z4j-agent-token-v1', 'ascii');

/**
 * Shortest accepted signing secret / master secret: 32 bytes (as in Python z4j).
 *
 * @example
 * if (Buffer.byteLength(process.env.Z4J_SECRET ?? '') < MIN_SECRET_BYTES) throw new Error('Z4J_SECRET is too short');
 */
export const MIN_SECRET_BYTES = 32;

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * The 16 bytes of a UUID in Python's `uuid.bytes_le` (Microsoft GUID) layout:
 * the first three fields byte-swapped, the last eight bytes as written.
 * Accepts the hyphenated form or 32 hex digits, any case.
 *
 * @throws {TypeError} if `uuid` is not a UUID.
 * @example
 * uuidToBytesLE('01234567-89ab-4def-8123-456789abcdef').toString('hex')
 * // '67452301ab89ef4d8123456789abcdef'
 */
export function uuidToBytesLE(uuid: string): Buffer {
  if (!UUID_RE.test(uuid)) throw new TypeError(`not a UUID: ${JSON.stringify(uuid)}`);
  const b = Buffer.from(uuid.replace(/-/g, ''), 'hex');
  // Swap time_low (4 bytes), time_mid (2) and time_hi_version (2).
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

/**
 * The 32-byte per-project signing secret of z4j protocol 2:
 * `HMAC-SHA256(key = UTF-8(masterSecret), msg = "z4j-project-secret-v1:" ‖ uuid.bytes_le)`.
 * The master is `Z4J_SECRET` used as its literal UTF-8 bytes (not base64
 * decoded) and must be at least 32 bytes, as the Python brain requires.
 *
 * @throws {RangeError} if the master secret is shorter than 32 bytes.
 * @example
 * const secret = deriveProjectSecret(process.env.Z4J_SECRET!, project.id);
 * encodeHmacSecret(secret) // what the agent gets as Z4J_HMAC_SECRET
 */
export function deriveProjectSecret(masterSecret: string, projectId: string): Buffer {
  const key = Buffer.from(masterSecret, 'utf8');
  if (key.length < MIN_SECRET_BYTES) {
    throw new RangeError(`master secret must be at least ${MIN_SECRET_BYTES} bytes (got ${key.length})`);
  }
  return createHmac('sha256', key).update(PROJECT_SECRET_LABEL).update(uuidToBytesLE(projectId)).digest();
}

/**
 * Encodes a signing secret the way the brain hands it to agents
 * (`hmac_secret`, `Z4J_HMAC_SECRET`): URL-safe base64 **with** `=` padding.
 *
 * @example
 * encodeHmacSecret(Buffer.alloc(32)) // 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
 */
export function encodeHmacSecret(secret: Buffer): string {
  return secret.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Decodes an agent's `hmac_secret` as the Python agent does: trims
 * whitespace, restores missing `=` padding, requires the URL-safe base64
 * alphabet, and requires at least 32 decoded bytes.
 *
 * @throws {TypeError} with a message saying what is wrong with the value.
 * @example
 * decodeHmacSecret('9e92AolAJO2o-euiQjsaYw2-qdxjsBLl_xfj8rUa3p4').length // 32
 */
export function decodeHmacSecret(s: string): Buffer {
  const trimmed = s.trim();
  if (trimmed === '') throw new TypeError('hmac secret is empty');
  const unpadded = trimmed.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(unpadded) || trimmed.length - unpadded.length > 2) {
    throw new TypeError('hmac secret must be URL-safe base64 (the hmac_secret the brain returned when the agent was created)');
  }
  if (unpadded.length % 4 === 1) {
    throw new TypeError('hmac secret is not valid base64 (its length is impossible)');
  }
  const bytes = Buffer.from(unpadded, 'base64url');
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new TypeError(`hmac secret decodes to ${bytes.length} bytes; at least ${MIN_SECRET_BYTES} are required (is it truncated?)`);
  }
  return bytes;
}

/**
 * The `agents.token_hash` of a bearer token: lowercase hex
 * `HMAC-SHA256(key = UTF-8(masterSecret) ‖ "z4j-agent-token-v1", msg = UTF-8(token))`.
 *
 * @example
 * hashAgentToken(process.env.Z4J_SECRET!, bearerToken) // 64 hex chars
 */
export function hashAgentToken(masterSecret: string, token: string): string {
  const key = Buffer.concat([Buffer.from(masterSecret, 'utf8'), AGENT_TOKEN_KEY_SUFFIX]);
  return createHmac('sha256', key).update(token, 'utf8').digest('hex');
}

/**
 * A new agent bearer token, like Python's `secrets.token_urlsafe(32)`:
 * 32 random bytes as unpadded URL-safe base64 (43 characters).
 *
 * @example
 * mintAgentToken().length // 43
 */
export function mintAgentToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * A frame nonce, like Python's `secrets.token_urlsafe(16)` (22 characters).
 *
 * @example
 * makeNonce().length // 22
 */
export function makeNonce(): string {
  // One CSPRNG call per 256 nonces instead of one per frame (as crypto.randomUUID pools its entropy).
  if (noncePoolOffset >= NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePoolOffset = 0;
  }
  const nonce = NONCE_POOL.toString('base64url', noncePoolOffset, noncePoolOffset + NONCE_BYTES);
  noncePoolOffset += NONCE_BYTES;
  return nonce;
}

const NONCE_BYTES = 16;
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 256);
let noncePoolOffset = NONCE_POOL.length;
