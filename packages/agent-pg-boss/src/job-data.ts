import { CommandError } from '@z4j/agent';
import { isJsonObject, type JsonValue } from '@z4j/protocol';

/**
 * A pg-boss job carries one `data` value, reported to the brain as `args: [data]`. Going back, a command's
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
  throw new CommandError('invalid_parameters', 'a pg-boss job has one data value: send it as args: [data], or as kwargs alone');
}

/**
 * pg-boss `startAfter` from an `eta`: seconds from now (a number; 0 or less = now) or an ISO timestamp; undefined
 * for none.
 *
 * @throws {CommandError} `invalid_parameters` for anything else.
 * @example
 * startAfterOf(30); // 30 (pg-boss reads a number as seconds from now)
 * startAfterOf('2030-01-01T00:00:00Z'); // Date
 */
export function startAfterOf(eta: JsonValue | undefined): number | Date | undefined {
  if (eta === undefined || eta === null) return undefined;
  if (typeof eta === 'number' && Number.isFinite(eta)) return eta > 0 ? Math.ceil(eta) : undefined;
  if (typeof eta === 'string') {
    const at = Date.parse(eta);
    if (!Number.isNaN(at)) return new Date(at);
  }
  throw new CommandError('invalid_parameters', `eta must be seconds from now or an ISO timestamp, not ${JSON.stringify(eta)}`);
}
