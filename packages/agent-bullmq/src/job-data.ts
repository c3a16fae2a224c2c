import { CommandError } from '@z4j/agent';
import { isJsonObject, type JsonValue } from '@z4j/protocol';

/**
 * A BullMQ job carries one `data` value, reported to the brain as `args: [data]`. Going back, a command's
 * `args`/`kwargs` must describe one value: `args: [data]` (what the brain stored), or `kwargs` alone (an object),
 * or neither (`{}`).
 *
 * @throws {CommandError} `invalid_parameters` for several args, or args together with kwargs.
 * @example
 * jobData([{ to: 'a@b.c' }], {}); // { to: 'a@b.c' }
 * jobData([], { to: 'a@b.c' }); // { to: 'a@b.c' }
 */
export function jobData(args: JsonValue | undefined, kwargs: JsonValue | undefined): JsonValue {
  const list = Array.isArray(args) ? args : [];
  const named = isJsonObject(kwargs) && Object.keys(kwargs).length > 0 ? kwargs : undefined;
  if (list.length === 0) return named ?? {};
  if (list.length === 1 && named === undefined) return list[0] ?? null;
  throw new CommandError('invalid_parameters', 'a BullMQ job has one data value: send it as args: [data], or as kwargs alone');
}

/**
 * Milliseconds to delay a job from an `eta`: seconds from now (number) or an ISO timestamp; 0 for none or the past.
 *
 * @throws {CommandError} `invalid_parameters` for anything else.
 * @example
 * delayFromEta(30, Date.now()); // 30000
 */
export function delayFromEta(eta: JsonValue | undefined, nowMs: number): number {
  if (eta === undefined || eta === null) return 0;
  if (typeof eta === 'number' && Number.isFinite(eta)) return Math.max(0, Math.round(eta * 1000));
  if (typeof eta === 'string') {
    const at = Date.parse(eta);
    if (!Number.isNaN(at)) return Math.max(0, at - nowMs);
  }
  throw new CommandError('invalid_parameters', `eta must be seconds from now or an ISO timestamp, not ${JSON.stringify(eta)}`);
}
