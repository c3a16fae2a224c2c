// Shared fast-check arbitraries for the protocol tests. Not exported from the package.
import fc from 'fast-check';
import { JsonFloat, type JsonObject, type JsonValue } from './json-value.js';

const specialKeys = fc.constantFrom('__proto__', 'constructor', 'hmac', '\uffff', '\ue000', '😀', '𝄞', '', 'a\u0000b');

/** Object keys: ASCII, any Unicode (astral included), and awkward ones. */
export const jsonKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  { weight: 1, arbitrary: specialKeys },
);

/** Strings: ASCII, full Unicode, and escape-heavy control characters. */
export const jsonString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.string({
    unit: fc.constantFrom('"', '\\', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u001f', '\u007f', '\u2028', '\u2029', 'é', '😀', 'a', '/'),
    maxLength: 12,
  }),
);

const integralDouble = fc
  .double({ noNaN: true, noDefaultInfinity: true })
  .filter((x) => Number.isInteger(x))
  .map((x) => new JsonFloat(x));

/**
 * Numbers exactly as parseJson represents them: safe integers as `number`,
 * integers beyond 2^53 as `bigint`, non-integral floats as `number`, integral
 * floats (incl. -0.0 and huge ones) as JsonFloat.
 */
export const jsonNumber: fc.Arbitrary<number | bigint | JsonFloat> = fc.oneof(
  fc.maxSafeInteger(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.oneof(fc.bigInt({ min: 2n ** 53n, max: 2n ** 200n }), fc.bigInt({ min: -(2n ** 200n), max: -(2n ** 53n) })),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
  fc.constantFrom(0.1, 1e-5, 1e-4, 0.003903, 5e-324, 2.5e-7, 123456789.125, 0.1 + 0.2),
  integralDouble,
  fc.integer({ min: -1e6, max: 1e6 }).map((x) => new JsonFloat(x)),
  fc.constantFrom(
    new JsonFloat(-0),
    new JsonFloat(0),
    new JsonFloat(1e16),
    new JsonFloat(1e22),
    new JsonFloat(123456789012345680),
    new JsonFloat(1.7976931348623157e308),
  ),
);

/** Any JsonValue as parseJson would return it. */
export const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue; object: JsonObject; array: JsonValue[] }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    jsonString,
    jsonNumber,
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(jsonKey, tie('value'), { maxKeys: 6, noNullPrototype: true }).map(fixProto),
})).value;

/** Any JSON object (a frame payload). */
export const jsonObject: fc.Arbitrary<JsonObject> = fc.dictionary(jsonKey, jsonValue, { maxKeys: 6, noNullPrototype: true }).map(fixProto);

// fast-check defines "__proto__" as an own property already; make sure of it.
function fixProto(obj: Record<string, JsonValue>): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(obj)) {
    Object.defineProperty(out, key, { value: obj[key], writable: true, enumerable: true, configurable: true });
  }
  return out;
}

/**
 * Serialises like canonicalJson but keeps each object's own key order (to
 * build non-canonical wire text). Leaves reuse the canonical writer.
 */
export function serializeInOrder(value: JsonValue, leaf: (v: JsonValue) => string): string {
  if (Array.isArray(value)) return `[${value.map((v) => serializeInOrder(v, leaf)).join(',')}]`;
  if (value !== null && typeof value === 'object' && !(value instanceof JsonFloat)) {
    return `{${Object.keys(value)
      .map((k) => `${leaf(k)}:${serializeInOrder(value[k]!, leaf)}`)
      .join(',')}}`;
  }
  return leaf(value);
}

/** Rebuilds objects with their keys in a (seeded) random order, at every level. */
export function shuffleKeys(value: JsonValue, random: () => number): JsonValue {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, random));
  if (value !== null && typeof value === 'object' && !(value instanceof JsonFloat)) {
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [keys[i], keys[j]] = [keys[j]!, keys[i]!];
    }
    const out: JsonObject = {};
    for (const k of keys) {
      Object.defineProperty(out, k, {
        value: shuffleKeys(value[k]!, random),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}
