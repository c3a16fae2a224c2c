import { isoTimestamp, JsonFloat, type JsonObject, type JsonValue } from '@z4j/protocol';

/** What replaces a value that cannot be represented (a cycle, or nesting deeper than the redactor keeps anyway). */
const UNREPRESENTABLE = '[REDACTED]';
const MAX_DEPTH = 64;

/**
 * Turns what an adapter hands over (job data straight from the engine) into a JSON value that can be signed:
 * `undefined` properties disappear (array holes become null, as JSON.stringify does), Dates become ISO strings,
 * NaN/±Infinity become null, Maps/Sets become objects/arrays, functions and symbols vanish, other class instances
 * become their `toJSON()` or their own enumerable properties, Errors become `"Name: message"`, cycles and nesting beyond 64 levels become `[REDACTED]`.
 * Never throws.
 *
 * @example
 * toJsonValue({ a: undefined, at: new Date(0), n: NaN }) // { at: '1970-01-01T00:00:00Z', n: null }
 */
export function toJsonValue(input: unknown): JsonValue {
  return convert(input, 0, []) ?? null;
}

function convert(value: unknown, depth: number, ancestors: unknown[]): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
      return wellFormed(value);
    case 'boolean':
    case 'bigint':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null || value instanceof JsonFloat) return value;
  if (depth >= MAX_DEPTH || ancestors.includes(value)) return UNREPRESENTABLE;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : safeIso(value);
  ancestors.push(value);
  try {
    if (Array.isArray(value) || value instanceof Set) {
      return Array.from(value as Iterable<unknown>, (item) => convert(item, depth + 1, ancestors) ?? null);
    }
    if (value instanceof Map) return convertEntries(value.entries(), depth, ancestors);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return convert((toJSON as () => unknown).call(value), depth + 1, ancestors);
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    // Plain objects and class instances alike: own enumerable properties, as JSON.stringify does.
    return convertEntries(Object.entries(value as object), depth, ancestors);
  } catch {
    // A throwing getter or toJSON: the value is lost, the event is not.
    return UNREPRESENTABLE;
  } finally {
    ancestors.pop();
  }
}

function convertEntries(entries: Iterable<[unknown, unknown]>, depth: number, ancestors: unknown[]): JsonObject {
  const out: JsonObject = {};
  for (const [key, item] of entries) {
    const converted = convert(item, depth + 1, ancestors);
    if (converted === undefined) continue;
    const name = wellFormed(String(key));
    if (name === '__proto__') Object.defineProperty(out, name, { value: converted, enumerable: true, writable: true, configurable: true });
    else out[name] = converted;
  }
  return out;
}

/** Lone surrogates cannot be signed (canonical JSON refuses them); they become U+FFFD, as TextEncoder would. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

function wellFormed(s: string): string {
  return LONE_SURROGATE.test(s) ? s.replace(LONE_SURROGATES, '\uFFFD') : s;
}

function safeIso(date: Date): string {
  try {
    return isoTimestamp(date);
  } catch {
    return date.toISOString();
  }
}
