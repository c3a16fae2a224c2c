import { JsonFloat, type JsonObject, type JsonValue } from './json-value.js';

/**
 * Thrown by {@link canonicalJson} for values Python's `json.dumps` could not
 * produce: NaN/±Infinity, `undefined`, lone surrogates, non-JSON objects,
 * cycles. `path` names where the bad value sits (`$.payload.events[0]`).
 *
 * @example
 * try { canonicalJson({ a: NaN }) } catch (err) {
 *   if (err instanceof CanonicalJsonError) console.log(err.path) // "$.a"
 * }
 */
export class CanonicalJsonError extends TypeError {
  override readonly name = 'CanonicalJsonError';
  /** JSONPath-like location of the offending value; `$` is the root. */
  path = '$';
  constructor(
    /** What is wrong, without the location. */
    readonly reason: string,
  ) {
    super(reason);
  }
}

// Path segments (innermost first) collected while an error unwinds; only the
// error path pays for them.
const pendingSegments = new WeakMap<CanonicalJsonError, (string | number)[]>();

function withSegment(err: unknown, key: string | number): unknown {
  if (err instanceof CanonicalJsonError) {
    const segments = pendingSegments.get(err);
    if (segments) segments.push(key);
    else pendingSegments.set(err, [key]);
  }
  return err;
}

function finish(err: unknown): unknown {
  if (err instanceof CanonicalJsonError) {
    const segments = pendingSegments.get(err) ?? [];
    pendingSegments.delete(err);
    let path = '$';
    for (let i = segments.length - 1; i >= 0; i--) {
      const k = segments[i]!;
      path += typeof k === 'number' ? `[${k}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
    }
    err.path = path;
    err.message = `${err.reason} at ${path}`;
  }
  return err;
}

/** Values nested deeper than this are assumed to be cyclic. */
const MAX_CANONICAL_DEPTH = 1000;

/**
 * Python's `repr(float)`: the shortest digits that round-trip, fixed notation
 * with a `.0` on integral values when the decimal exponent is in [-4, 16),
 * otherwise exponent notation with a sign and at least two exponent digits.
 * Throws a `RangeError` for NaN and ±Infinity (Python's canonical form uses
 * `allow_nan=False`).
 *
 * @example
 * pyFloatRepr(1)        // "1.0"
 * pyFloatRepr(0.00001)  // "1e-05"
 * pyFloatRepr(1.5e16)   // "1.5e+16"
 * pyFloatRepr(-0)       // "-0.0"
 */
export function pyFloatRepr(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`${x} is not representable in JSON`);
  const ax = x < 0 ? -x : x;
  if (ax >= 1e-4 && ax < 1e16) {
    // JS and Python agree on the shortest digits and both use fixed notation
    // here; only integral values need Python's trailing ".0".
    const s = String(x);
    return Number.isInteger(x) ? s + '.0' : s;
  }
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() without an argument gives the shortest round-trip digits.
  const e = ax.toExponential(); // "d[.ddd]e[+-]N"
  const ePos = e.indexOf('e');
  const mantissa = e.slice(0, ePos);
  const exp = Number(e.slice(ePos + 1));
  const sign = x < 0 ? '-' : '';
  if (exp >= -4 && exp < 16) {
    // Only reachable at the boundaries, but keep the general rule.
    const digits = mantissa.replace('.', '');
    return sign + fixedFromDigits(digits, exp + 1);
  }
  const absExp = exp < 0 ? -exp : exp;
  return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${absExp < 10 ? '0' : ''}${absExp}`;
}

/** Fixed notation for digits d1d2…dn × 10^(decpt − n), decpt in (−4, 16]. */
function fixedFromDigits(digits: string, decpt: number): string {
  if (decpt <= 0) return '0.' + '0'.repeat(-decpt) + digits;
  if (digits.length <= decpt) return digits + '0'.repeat(decpt - digits.length) + '.0';
  return digits.slice(0, decpt) + '.' + digits.slice(decpt);
}

/**
 * Canonical JSON exactly as Python writes it with
 * `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
 * allow_nan=False)`: keys sorted by code point at every level, no spaces,
 * non-ASCII raw, Python string escapes, integers as digits (`bigint` exact,
 * `-0` as `0`), non-integral numbers and every {@link JsonFloat} in
 * {@link pyFloatRepr} form. These are the bytes z4j protocol 2 signs.
 *
 * @throws {CanonicalJsonError} on NaN/Infinity, `undefined`, lone surrogates,
 *   non-plain objects or cycles.
 * @example
 * canonicalJson({ b: 1, a: [new JsonFloat(2), 0.5, 10n ** 20n], c: 'é' })
 * // '{"a":[2.0,0.5,100000000000000000000],"b":1,"c":"é"}'
 */
export function canonicalJson(value: JsonValue): string {
  try {
    return write(value, 0);
  } catch (err) {
    throw finish(err);
  }
}

/**
 * {@link canonicalJson} as UTF-8 bytes, ready to send or to HMAC.
 *
 * @example
 * canonicalBytes({ v: 2 }).toString() // '{"v":2}'
 */
export function canonicalBytes(value: JsonValue): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function write(value: JsonValue, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (Number.isInteger(value)) {
        if (value <= Number.MAX_SAFE_INTEGER && value >= -Number.MAX_SAFE_INTEGER) {
          return value === 0 ? '0' : String(value);
        }
        // An integral double beyond 2^53: Python would print int(x) exactly.
        return BigInt(value).toString();
      }
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${value} is not allowed in JSON`);
      return pyFloatRepr(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_CANONICAL_DEPTH) throw new CanonicalJsonError('value nested too deep (cyclic?)');
      if (Array.isArray(value)) return writeArray(value, depth);
      if (value instanceof JsonFloat) {
        if (!Number.isFinite(value.value)) throw new CanonicalJsonError(`${value.value} is not allowed in JSON`);
        return pyFloatRepr(value.value);
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('not a plain JSON object');
      return writeObject(value, depth);
    }
    default:
      throw new CanonicalJsonError(`${typeof value} is not a JSON value`);
  }
}

function writeArray(arr: JsonValue[], depth: number): string {
  const n = arr.length;
  if (n === 0) return '[]';
  let out = '[';
  let i = 0;
  try {
    for (; i < n; i++) {
      if (i > 0) out += ',';
      const item = arr[i];
      if (item === undefined) throw new CanonicalJsonError('undefined is not a JSON value');
      out += write(item, depth + 1);
    }
  } catch (err) {
    throw withSegment(err, i);
  }
  return out + ']';
}

function writeObject(obj: JsonObject, depth: number): string {
  const keys = Object.keys(obj);
  const n = keys.length;
  if (n === 0) return '{}';
  if (n > 1) {
    // Default sort compares UTF-16 units, which matches code-point order unless
    // a key holds a surrogate (astral char) compared against U+E000..U+FFFF.
    let astral = false;
    for (let i = 0; i < n && !astral; i++) astral = hasSurrogate(keys[i]!);
    if (astral) keys.sort(compareCodePoints);
    else if (n <= 24) insertionSort(keys);
    else keys.sort();
  }
  let out = '{';
  let k = '';
  try {
    for (let i = 0; i < n; i++) {
      k = keys[i]!;
      const v = obj[k];
      if (v === undefined) throw new CanonicalJsonError('undefined is not a JSON value');
      if (i > 0) out += ',';
      out += quote(k);
      out += ':';
      out += write(v, depth + 1);
    }
  } catch (err) {
    throw withSegment(err, k);
  }
  return out + '}';
}

// Objects are small; insertion sort beats Array#sort there and is linear on
// keys that are already sorted (frames from our own agents).
function insertionSort(keys: string[]): void {
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

function hasSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/**
 * Orders strings by Unicode code point (Python's `str` order) instead of by
 * UTF-16 code unit.
 *
 * @example
 * ['\uffff', '😀'].sort(compareCodePoints) // ['\uffff', '😀'] (default sort swaps them)
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Lift surrogates above U+E000..U+FFFF: then unit order == code point order.
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

// JSON.stringify escapes exactly what Python's ensure_ascii=False encoder
// escapes (", \\, \\b \\f \\n \\r \\t, other C0 as lowercase \\u00xx; DEL, U+2028/9
// and non-ASCII raw) except lone surrogates, which Python cannot encode to
// UTF-8 at all: we refuse those first. Most strings need neither, and a scan
// is cheaper than the two native calls.
function quote(s: string): string {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return quoteSlow(s);
  }
  return '"' + s + '"';
}

function quoteSlow(s: string): string {
  if (!(s as unknown as WellFormedString).isWellFormed()) throw new CanonicalJsonError('lone surrogate in string');
  return JSON.stringify(s);
}

interface WellFormedString {
  isWellFormed(): boolean;
}
