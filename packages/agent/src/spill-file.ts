import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { canonicalJson, isJsonObject, parseJson, type JsonObject } from '@z4j/protocol';

/**
 * The spill file keeps unacked events across a host restart: the agent writes what the brain has not acked when it
 * stops, and the next agent with the same path sends it first. One JSON event per line (canonical JSON, so big
 * integers and floats survive), written to `<path>.tmp` and renamed, so a crash mid-write never leaves half a file.
 * Each process needs its own path; two live agents sharing one would each send the other's leftovers.
 */

/**
 * Writes `events` to `path` (replacing it). An empty list removes the file instead.
 *
 * @example
 * await writeSpillFile('/var/lib/app/z4j-spill.jsonl', buffer.heldEvents());
 */
export async function writeSpillFile(path: string, events: readonly JsonObject[]): Promise<void> {
  if (events.length === 0) {
    await rm(path, { force: true });
    return;
  }
  const tmp = `${path}.tmp`;
  await writeFile(tmp, events.map((event) => `${canonicalJson(event)}\n`).join(''), { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * Reads and removes the spill file: its events oldest first, plus how many lines could not be read. A missing file
 * is an empty result.
 *
 * @example
 * const { events, unreadable } = await takeSpillFile(path);
 */
export async function takeSpillFile(path: string): Promise<{ events: JsonObject[]; unreadable: number }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], unreadable: 0 };
    throw error;
  }
  await rm(path, { force: true });
  const events: JsonObject[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const value = parseJson(line);
      if (isJsonObject(value)) events.push(value);
      else unreadable += 1;
    } catch {
      unreadable += 1;
    }
  }
  return { events, unreadable };
}
