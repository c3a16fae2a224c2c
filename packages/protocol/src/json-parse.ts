import { JsonFloat, type JsonObject, type JsonValue } from './json-value.js';

/**
 * Thrown by {@link parseJson} for input that is not strict RFC 8259 JSON, or
 * that Python could not round-trip (lone surrogates, numbers out of range).
 *
 * `position` is the offset of the offending character in the decoded text
 * (UTF-16 code units); for invalid UTF-8 it is the byte offset in the input.
 *
 * @example
 * try { parseJson('[1,]') } catch (err) {
 *   if (err instanceof JsonParseError) console.log(err.position) // 3
 * }
 */
export class JsonParseError extends Error {
  override readonly name = 'JsonParseError';
  constructor(
    message: string,
    /** Offset of the offending character (see class doc). */
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
  }
}

/**
 * Options for {@link parseJson}.
 *
 * @example
 * parseJson(text, { maxDepth: 64 })
 */
export interface ParseJsonOptions {
  /**
   * Deepest array/object nesting accepted; deeper input throws instead of
   * recursing. Default 256.
   */
  maxDepth?: number;
}

/**
 * Default {@link ParseJsonOptions.maxDepth}: 256.
 *
 * @example
 * parseJson(text, { maxDepth: DEFAULT_MAX_JSON_DEPTH / 4 })
 */
export const DEFAULT_MAX_JSON_DEPTH = 256;

/**
 * Python 3.11+ refuses to convert integer literals with more digits than this
 * (`sys.int_info.str_digits_check_threshold` default), so a Python peer fails
 * on them anyway; refusing them here also keeps BigInt parsing linear.
 */
const MAX_INT_DIGITS = 4300;

const NO_PATH: readonly string[] = [];
/** `at` of a value that is not on the text path (see parseValue). */
const OFF_PATH = -1;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Parser state lives in module variables: the parser is synchronous and
// non-reentrant, and this avoids a closure or object allocation per call.
let src = '';
let pos = 0;
let len = 0;
let maxDepth = DEFAULT_MAX_JSON_DEPTH;
/** parseJsonWithTexts: the object keys that lead to the array whose elements' texts are kept, and those texts. */
let textPath: readonly string[] = NO_PATH;
let texts: string[] | undefined;

/**
 * Parses JSON without losing anything Python would keep: integers beyond
 * ±(2^53−1) become `bigint`, integral floats (`1.0`, `1e16`, `-0.0`) become
 * {@link JsonFloat}, other numbers are plain `number`s. Strict RFC 8259 (no
 * trailing commas, NaN/Infinity, leading zeros, raw control characters);
 * lone surrogates and invalid UTF-8 are rejected; duplicate keys keep the last
 * value, like Python. Nesting deeper than `maxDepth` (default 256) throws.
 *
 * @throws {JsonParseError}
 * @example
 * parseJson('{"n":12345678901234567890,"f":1.0,"x":0.5}')
 * // { n: 12345678901234567890n, f: JsonFloat { value: 1 }, x: 0.5 }
 */
export function parseJson(input: string | Uint8Array, options?: ParseJsonOptions): JsonValue {
  return parseDecoded(decode(input), options, OFF_PATH);
}

/**
 * What {@link parseJsonWithTexts} returns.
 *
 * @example
 * const { value, texts } = parseJsonWithTexts(bytes, ['payload', 'events']);
 */
export interface ParsedWithTexts {
  readonly value: JsonValue;
  /**
   * The source text of each element of the array at the path, in order (the last such array when a key
   * repeats), or `undefined` when the path does not lead to an array.
   */
  readonly texts: string[] | undefined;
}

/**
 * {@link parseJson}, also returning the exact source text of every element of the array found under the
 * object keys `path` (`[]`: the root array). Each text is valid JSON for its element as parsed (the very
 * characters it was parsed from), so a caller can store an element it did not change without serialising
 * it again.
 *
 * @throws {JsonParseError}
 * @example
 * parseJsonWithTexts('{"payload":{"events":[{"a":1}, 2]}}', ['payload', 'events']).texts // ['{"a":1}', '2']
 */
export function parseJsonWithTexts(input: string | Uint8Array, path: readonly string[], options?: ParseJsonOptions): ParsedWithTexts {
  textPath = path;
  texts = undefined;
  try {
    const value = parseDecoded(decode(input), options, 0);
    return { value, texts };
  } finally {
    textPath = NO_PATH;
    texts = undefined;
  }
}

function decode(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  try {
    return utf8Decoder.decode(input);
  } catch {
    throw new JsonParseError('invalid UTF-8', firstInvalidUtf8Offset(input));
  }
}

function parseDecoded(text: string, options: ParseJsonOptions | undefined, at: number): JsonValue {
  src = text;
  pos = 0;
  len = text.length;
  maxDepth = options?.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  try {
    skipWs();
    const value = parseValue(0, at);
    skipWs();
    if (pos < len) fail('unexpected data after the JSON value');
    return value;
  } finally {
    src = '';
  }
}

function fail(message: string, at: number = pos): never {
  throw new JsonParseError(message, at);
}

function skipWs(): void {
  while (pos < len) {
    const c = src.charCodeAt(pos);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
    else return;
  }
}

/**
 * `at`: how many keys of `textPath` lead here (OFF_PATH when this value is not on it). An array reached
 * with the whole path matched keeps its elements' texts.
 */
function parseValue(depth: number, at: number): JsonValue {
  if (pos >= len) fail('unexpected end of input');
  const c = src.charCodeAt(pos);
  switch (c) {
    case 0x7b /* { */:
      return parseObject(depth + 1, at === OFF_PATH || at === textPath.length ? OFF_PATH : at);
    case 0x5b /* [ */:
      return at === textPath.length ? parseArrayKeepingTexts(depth + 1) : parseArray(depth + 1);
    case 0x22 /* " */:
      return parseString();
    case 0x74 /* t */:
      expectWord('true');
      return true;
    case 0x66 /* f */:
      expectWord('false');
      return false;
    case 0x6e /* n */:
      expectWord('null');
      return null;
    default:
      if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return parseNumber();
      return fail(describeUnexpected(c));
  }
}

function describeUnexpected(c: number): string {
  if (c === 0x4e || c === 0x49) return 'NaN and Infinity are not JSON';
  return `unexpected character ${JSON.stringify(String.fromCharCode(c))}`;
}

function expectWord(word: string): void {
  if (src.startsWith(word, pos)) pos += word.length;
  else fail('invalid literal');
}

function parseObject(depth: number, at: number): JsonObject {
  if (depth > maxDepth) fail(`nesting deeper than ${maxDepth}`);
  pos++; // {
  const obj: JsonObject = {};
  skipWs();
  if (src.charCodeAt(pos) === 0x7d) {
    pos++;
    return obj;
  }
  for (;;) {
    if (src.charCodeAt(pos) !== 0x22) fail(pos >= len ? 'unexpected end of input' : 'expected a string key');
    const key = parseString();
    skipWs();
    if (src.charCodeAt(pos) !== 0x3a) fail("expected ':'");
    pos++;
    skipWs();
    const value = parseValue(depth, at !== OFF_PATH && key === textPath[at] ? at + 1 : OFF_PATH);
    if (key === '__proto__') {
      // A plain assignment would set the prototype instead of a key.
      Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      obj[key] = value; // duplicate keys: the last one wins, as in Python
    }
    skipWs();
    const c = src.charCodeAt(pos);
    if (c === 0x2c) {
      pos++;
      skipWs();
    } else if (c === 0x7d) {
      pos++;
      return obj;
    } else {
      fail(pos >= len ? 'unexpected end of input' : "expected ',' or '}'");
    }
  }
}

function parseArray(depth: number): JsonValue[] {
  if (depth > maxDepth) fail(`nesting deeper than ${maxDepth}`);
  pos++; // [
  const arr: JsonValue[] = [];
  skipWs();
  if (src.charCodeAt(pos) === 0x5d) {
    pos++;
    return arr;
  }
  for (;;) {
    arr.push(parseValue(depth, OFF_PATH));
    skipWs();
    const c = src.charCodeAt(pos);
    if (c === 0x2c) {
      pos++;
      skipWs();
    } else if (c === 0x5d) {
      pos++;
      return arr;
    } else {
      fail(pos >= len ? 'unexpected end of input' : "expected ',' or ']'");
    }
  }
}

/** parseArray, recording each element's source text in `texts` (replacing an earlier array's). */
function parseArrayKeepingTexts(depth: number): JsonValue[] {
  if (depth > maxDepth) fail(`nesting deeper than ${maxDepth}`);
  pos++; // [
  const arr: JsonValue[] = [];
  const kept: string[] = [];
  texts = kept;
  skipWs();
  if (src.charCodeAt(pos) === 0x5d) {
    pos++;
    return arr;
  }
  for (;;) {
    const start = pos;
    arr.push(parseValue(depth, OFF_PATH));
    kept.push(src.slice(start, pos));
    skipWs();
    const c = src.charCodeAt(pos);
    if (c === 0x2c) {
      pos++;
      skipWs();
    } else if (c === 0x5d) {
      pos++;
      return arr;
    } else {
      fail(pos >= len ? 'unexpected end of input' : "expected ',' or ']'");
    }
  }
}

function parseString(): string {
  const start = ++pos; // after the opening quote
  // Fast path: no escapes, no surrogates -> one slice.
  while (pos < len) {
    const c = src.charCodeAt(pos);
    if (c === 0x22) {
      return src.slice(start, pos++);
    }
    if (c === 0x5c || c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) break;
    pos++;
  }
  return parseStringSlow(start);
}

function parseStringSlow(start: number): string {
  let out = '';
  let chunkStart = start;
  while (pos < len) {
    const c = src.charCodeAt(pos);
    if (c === 0x22) {
      out += src.slice(chunkStart, pos++);
      return out;
    }
    if (c < 0x20) fail('control character in string');
    if (c >= 0xd800 && c <= 0xdfff) {
      // Raw surrogates: only a high surrogate followed by a low one is valid.
      const next = src.charCodeAt(pos + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        pos += 2;
        continue;
      }
      fail('lone surrogate in string');
    }
    if (c !== 0x5c) {
      pos++;
      continue;
    }
    out += src.slice(chunkStart, pos);
    pos++; // backslash
    const e = src.charCodeAt(pos);
    switch (e) {
      case 0x22:
        out += '"';
        break;
      case 0x5c:
        out += '\\';
        break;
      case 0x2f:
        out += '/';
        break;
      case 0x62:
        out += '\b';
        break;
      case 0x66:
        out += '\f';
        break;
      case 0x6e:
        out += '\n';
        break;
      case 0x72:
        out += '\r';
        break;
      case 0x74:
        out += '\t';
        break;
      case 0x75: {
        const unit = readHex4(pos + 1);
        pos += 4;
        if (unit >= 0xd800 && unit <= 0xdbff) {
          // Must be followed by an escaped low surrogate (Python pairs only escapes).
          if (src.charCodeAt(pos + 1) !== 0x5c || src.charCodeAt(pos + 2) !== 0x75) {
            fail('lone surrogate escape in string', pos - 5);
          }
          const low = readHex4(pos + 3);
          if (low < 0xdc00 || low > 0xdfff) fail('lone surrogate escape in string', pos - 5);
          out += String.fromCharCode(unit, low);
          pos += 6;
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          fail('lone surrogate escape in string', pos - 5);
        } else {
          out += String.fromCharCode(unit);
        }
        break;
      }
      default:
        fail(pos >= len ? 'unexpected end of input' : 'invalid escape in string');
    }
    pos++;
    chunkStart = pos;
  }
  return fail('unterminated string', start - 1);
}

function readHex4(at: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = src.charCodeAt(at + i);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return fail('invalid \\u escape', at + i);
    v = (v << 4) | d;
  }
  return v;
}

function parseNumber(): number | bigint | JsonFloat {
  const start = pos;
  let negative = false;
  if (src.charCodeAt(pos) === 0x2d) {
    negative = true;
    pos++;
  }
  let c = src.charCodeAt(pos);
  const intStart = pos;
  let small = 0; // value of the integer digits while it stays exact
  if (c === 0x30) {
    pos++;
    c = src.charCodeAt(pos);
    if (c >= 0x30 && c <= 0x39) fail('leading zeros are not allowed');
  } else if (c >= 0x31 && c <= 0x39) {
    do {
      small = small * 10 + (c - 0x30);
      c = src.charCodeAt(++pos);
    } while (c >= 0x30 && c <= 0x39);
  } else {
    fail('expected a digit');
  }
  const intDigits = pos - intStart;
  let isFloat = false;
  if (c === 0x2e) {
    isFloat = true;
    c = src.charCodeAt(++pos);
    if (!(c >= 0x30 && c <= 0x39)) fail('expected a digit after the decimal point');
    do c = src.charCodeAt(++pos);
    while (c >= 0x30 && c <= 0x39);
  }
  if (c === 0x65 || c === 0x45) {
    isFloat = true;
    c = src.charCodeAt(++pos);
    if (c === 0x2b || c === 0x2d) c = src.charCodeAt(++pos);
    if (!(c >= 0x30 && c <= 0x39)) fail('expected a digit in the exponent');
    do c = src.charCodeAt(++pos);
    while (c >= 0x30 && c <= 0x39);
  }
  if (!isFloat) {
    if (intDigits <= 15) return negative ? (small === 0 ? 0 : -small) : small;
    if (intDigits > MAX_INT_DIGITS) fail(`integer with more than ${MAX_INT_DIGITS} digits`, start);
    const token = src.slice(start, pos);
    const n = Number(token);
    // Any integer above 2^53-1 rounds to >= 2^53 as a double, so this is exact.
    return Math.abs(n) <= Number.MAX_SAFE_INTEGER ? n : BigInt(token);
  }
  const x = Number(src.slice(start, pos));
  if (!Number.isFinite(x)) fail('number out of range', start);
  // Integral floats (and -0.0) must stay floats so they re-serialise as `1.0`.
  return Number.isInteger(x) ? new JsonFloat(x) : x;
}

/** Byte offset of the first invalid UTF-8 sequence (error path only). */
function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
      cp = b & 0x07;
    } else {
      return i;
    }
    for (let k = 1; k <= need; k++) {
      const cb = bytes[i + k];
      if (cb === undefined || (cb & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cb & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return n;
}
