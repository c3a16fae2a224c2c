/**
 * The `purge_queue` confirm token (reference §3): binds a purge to the queue
 * depth the caller was shown. The dashboard shows the depth, the operator
 * confirms, and the token travels with the command; the agent measures the
 * depth again and refuses when its own token differs, so a queue that grew
 * meanwhile is never purged on a stale confirmation. It is a checksum, not a
 * secret (the key is a constant): `force: true` is the explicit override.
 *
 * Web Crypto only, so browsers (the dashboard) and Node agents compute the
 * same value from this one module.
 */
const KEY = new TextEncoder().encode('z4j-purge-confirm-v1');

export async function purgeConfirmToken(queue: string, depth: number): Promise<string> {
  if (!Number.isSafeInteger(depth) || depth < 0) throw new RangeError(`queue depth must be a non-negative integer, not ${depth}`);
  const key = await globalThis.crypto.subtle.importKey('raw', KEY, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${queue}\n${depth}`)));
  let hex = '';
  for (const byte of mac.subarray(0, 16)) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
