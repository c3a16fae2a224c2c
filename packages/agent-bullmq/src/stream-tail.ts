import type { RedisClient } from 'bullmq';

const COMMAND = 'z4jStreamTail';
/** The id of a stream's newest entry, `0-0` for an empty (or missing) stream. Read-only. */
const LUA = `local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 then return '0-0' end
return last[1][1]`;

/**
 * The id of the newest entry of a Redis stream, so a reader can start right after it. BullMQ's client interface
 * (which may wrap ioredis, node-redis, …) declares no XREVRANGE, but runs Lua scripts it was given, so this goes
 * through a one-line script.
 *
 * @example
 * const lastEventId = await streamTail(await queue.client, queue.keys.events); // '1700000000000-3'
 */
export async function streamTail(client: RedisClient, key: string): Promise<string> {
  client.defineCommand(COMMAND, { numberOfKeys: 1, lua: LUA, readOnly: true });
  const id: unknown = await client.runCommand(COMMAND, [key]);
  return typeof id === 'string' && id !== '' ? id : '0-0';
}
