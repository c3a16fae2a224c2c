import { JsonFloat, type JsonValue } from '@z4j/protocol';

/**
 * JSON text for a {@link JsonValue} that Postgres `jsonb` accepts, without
 * losing what the agent sent:
 *
 * - `bigint` is written as its exact digits (JSON.stringify would throw), and
 *   a {@link JsonFloat} keeps its `.0`, so jsonb stores `12345678901234567890`
 *   and `1.0` exactly as Python sent them;
 * - strings and keys are made storable: jsonb refuses `\u0000` and unpaired
 *   surrogates, and one such string would otherwise fail the whole group
 *   commit, so both become U+FFFD;
 * - a non-finite number (only a buggy redactor could produce one) becomes `null`.
 *
 * `sortKeys` gives a canonical form (keys in code-unit order) used to hash
 * event content for dedupe; it only needs to be deterministic, not Python's
 * canonical signing form.
 */
export function jsonText(value: JsonValue, sortKeys = false): string {
  // Fast path (the usual event): nothing JSON.stringify would get wrong, then one scan of its output for
  // the escapes it writes for NUL and lone surrogates (a false positive only costs the slow path).
  if (!sortKeys && isPlain(value, 0)) {
    const text = JSON.stringify(value);
    if (!UNSTORABLE_ESCAPE.test(text)) return text;
  }
  return write(value, sortKeys);
}

const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f])/i;

/**
 * Whether JSON text (as received, already known to be valid JSON) can go into a jsonb column as it is: no
 * `\u0000` and no surrogate escapes (a paired one is fine for jsonb, but telling it apart costs more than the
 * slow path it avoids). Raw NUL or lone surrogates cannot occur in text decoded from UTF-8 JSON.
 */
export function isStorableJsonText(text: string): boolean {
  return !UNSTORABLE_ESCAPE.test(text);
}
/** Deeper than this goes the slow path rather than recursing twice. */
const PLAIN_MAX_DEPTH = 64;

/** No bigint, JsonFloat or non-finite number anywhere: JSON.stringify's output is exact. */
function isPlain(value: JsonValue, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth >= PLAIN_MAX_DEPTH || value instanceof JsonFloat) return false;
      if (Array.isArray(value)) {
        for (const item of value) if (!isPlain(item, depth + 1)) return false;
        return true;
      }
      for (const key in value) {
        const item = value[key];
        if (item === undefined || !isPlain(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function write(value: JsonValue, sortKeys: boolean): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(storableText(value));
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof JsonFloat) return floatText(value.value);
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += write(value[i] as JsonValue, sortKeys);
        }
        return `${out}]`;
      }
      const keys = Object.keys(value);
      if (sortKeys) keys.sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const item = value[key];
        if (item === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(storableText(key))}:${write(item, sortKeys)}`;
      }
      return `${out}}`;
    }
    default:
      return 'null';
  }
}

/** An integral float keeps a fraction so jsonb (numeric) keeps it a float: `1.0`, `-0.0`, `1e+21`. */
function floatText(value: number): string {
  if (!Number.isFinite(value)) return 'null';
  if (Object.is(value, -0)) return '-0.0';
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

// NUL, or a surrogate half: the slow path below checks whether it is paired.
// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
const SUSPECT = /[\u0000\ud800-\udfff]/;

/**
 * The string with NUL and unpaired surrogates replaced by U+FFFD: Postgres
 * text and jsonb cannot hold either (22021 / 22P05), and one bad string must
 * not fail a group commit that carries other agents' events.
 */
export function storableText(text: string): string {
  if (!SUSPECT.test(text)) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0) {
      out += '\ufffd';
    } else if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += text[i]! + text[i + 1]!;
        i += 1;
      } else {
        out += '\ufffd';
      }
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      out += '\ufffd';
    } else {
      out += text[i]!;
    }
  }
  return out;
}
