import { JsonFloat, type JsonObject, type JsonValue } from '@z4j/protocol';
import { DEFAULT_KEY_NAMES, DEFAULT_VALUE_MIN_LENGTH, DEFAULT_VALUE_PATTERNS } from './default-patterns.js';
import { RedactionConfigError } from './redaction-config-error.js';
import { truncateUtf8 } from './truncate-utf8.js';

/**
 * Options of {@link createRedactor}. Every field is optional; `createRedactor()` gives the reference behaviour.
 *
 * @example
 * const options: RedactorOptions = { extraKeyPatterns: ['tenant_.*'], maxStringBytes: 4096 };
 */
export interface RedactorOptions {
  /**
   * Extra key patterns (JavaScript regex source), matched against the whole key, case-insensitively:
   * `'internal_.*'` redacts the value of `internal_note` and `INTERNAL_ID`. Default: none.
   */
  readonly extraKeyPatterns?: readonly string[];
  /**
   * Extra value patterns (JavaScript regex source), searched anywhere in every string and every key,
   * case-insensitively; one hit replaces the whole string. Default: none. Keep them free of nested quantifiers:
   * they run on every string the brain ingests.
   */
  readonly extraValuePatterns?: readonly string[];
  /** Switch off the built-in key and value patterns (only the extra ones apply). Default: `false`. */
  readonly disableDefaults?: boolean;
  /** Strings (and keys) longer than this many UTF-8 bytes are cut and marked. Default: `8192`. */
  readonly maxStringBytes?: number;
  /** What replaces a redacted value or key. Default: `'[REDACTED]'`. */
  readonly marker?: string;
  /**
   * Values nested deeper than this are replaced by the marker: the root is at depth 0, so `maxDepth` levels of
   * containers are kept. Default: `64`; at most 1000.
   */
  readonly maxDepth?: number;
}

/**
 * What {@link Redactor.redact} returns.
 *
 * @example
 * const { value, redactedCount, truncatedCount } = redactor.redact(event);
 */
export interface RedactionResult {
  /** The redacted value; the very input reference when nothing had to change. */
  readonly value: JsonValue;
  /** Values and keys replaced by the marker (key match, value match, depth cap, cycle). */
  readonly redactedCount: number;
  /** Strings and keys cut to `maxStringBytes`. */
  readonly truncatedCount: number;
}

/** A compiled set of redaction rules. Immutable and safe to share; build one at startup and reuse it. */
export interface Redactor {
  /**
   * Returns a redacted copy of `value` without touching the input. Containers that need no change are returned as
   * the same references (the whole input when nothing matched), so redacting clean data allocates nothing but the
   * result object.
   *
   * @example
   * createRedactor().redact({ user_id: 5, password: 'hunter2' })
   * // { value: { user_id: 5, password: '[REDACTED]' }, redactedCount: 1, truncatedCount: 0 }
   */
  redact(value: JsonValue): RedactionResult;
  /**
   * Whether the value under `key` would be redacted (key patterns, whole key, case-insensitive).
   *
   * @example
   * createRedactor().isSensitiveKey('accessToken') // true
   */
  isSensitiveKey(key: string): boolean;
  /**
   * Whether `value` contains something a value pattern matches (it would become the marker).
   *
   * @example
   * createRedactor().isSensitiveValue('mail a@b.co') // true
   */
  isSensitiveValue(value: string): boolean;
}

const DEFAULT_MARKER = '[REDACTED]';
const DEFAULT_MAX_STRING_BYTES = 8192;
const DEFAULT_MAX_DEPTH = 64;
const MAX_MAX_DEPTH = 1000;

/** Keys repeat across events (`id`, `kind`, `data`, ...), so their verdicts are cached; bounded against key churn. */
const KEY_CACHE_LIMIT = 4096;
const KEY_CACHE_MAX_KEY_LENGTH = 256;

/** How a key is treated; cached per distinct key. */
interface KeyVerdict {
  /** The value under this key becomes the marker. */
  readonly redactValue: boolean;
  /** Output name when the key itself changes (a value pattern matched it, or it was cut), else undefined. */
  readonly rename: string | undefined;
  /** Whether `rename` comes from truncation (counted as truncated) rather than redaction. */
  readonly renameTruncated: boolean;
}

interface WalkState {
  redacted: number;
  truncated: number;
  /**
   * The containers on the path from the root, indexed by depth. Cycles cannot come out of JSON.parse, but an agent
   * may hand over an object graph; a container that is its own ancestor becomes the marker the first time it
   * repeats. Events are a few levels deep, so the linear scan costs a handful of comparisons.
   */
  readonly ancestors: unknown[];
}

function compilePattern(source: string, option: string, fullMatch: boolean): RegExp {
  if (typeof source !== 'string') throw new RedactionConfigError(`${option}: every pattern must be a string`, option);
  let regex: RegExp;
  try {
    // Compiled alone first, so `a)|(b` cannot escape the `^(?:…)$` wrapper of a key pattern.
    regex = new RegExp(source, 'i');
    if (fullMatch) regex = new RegExp(`^(?:${source})$`, 'i');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RedactionConfigError(`${option}: invalid pattern ${JSON.stringify(source)}: ${reason}`, option, source, { cause: error });
  }
  if (!fullMatch && regex.test('')) {
    throw new RedactionConfigError(
      `${option}: pattern ${JSON.stringify(source)} matches the empty string, so it would redact every string`,
      option,
      source,
    );
  }
  return regex;
}

function positiveInteger(value: number | undefined, fallback: number, option: string, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RedactionConfigError(`${option} must be an integer from 1 to ${max}, got ${String(value)}`, option);
  }
  return value;
}

function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  // `target['__proto__'] = v` would call the prototype setter instead of creating the key JSON.parse created.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * Builds a {@link Redactor}. Patterns are compiled once here; an invalid one throws {@link RedactionConfigError}
 * naming it, so a misconfigured brain refuses to start instead of ingesting unredacted data.
 *
 * Defaults: the built-in key and value patterns ({@link DEFAULT_KEY_NAMES}, {@link DEFAULT_VALUE_PATTERNS}),
 * marker `[REDACTED]`, strings cut at 8192 UTF-8 bytes, depth cap 64.
 *
 * Rules, in order, for each value of the walk:
 * - under a key matching a key pattern: the whole value (string, number, bool, null, object, array) becomes the marker;
 * - deeper than `maxDepth`, or a cycle: the marker;
 * - a string matching a value pattern (searched in the full string, and again after truncation): the marker;
 * - a string over `maxStringBytes`: cut on a character boundary + `[...N more bytes truncated]`;
 * - object keys get the same string treatment; keys that collapse to the same name are kept apart as
 *   `[REDACTED]`, `[REDACTED]#2`, ... (never reusing a name the object already has);
 * - numbers, bigints, {@link JsonFloat}s, booleans and null pass through.
 *
 * @example
 * const redactor = createRedactor({ extraKeyPatterns: ['internal_.*'], extraValuePatterns: ['acct_[0-9]{8}'] });
 * const { value, redactedCount } = redactor.redact(event);
 */
export function createRedactor(options: RedactorOptions = {}): Redactor {
  const marker = options.marker ?? DEFAULT_MARKER;
  if (typeof marker !== 'string') throw new RedactionConfigError('marker must be a string', 'marker');
  const maxStringBytes = positiveInteger(options.maxStringBytes, DEFAULT_MAX_STRING_BYTES, 'maxStringBytes', Number.MAX_SAFE_INTEGER);
  const maxDepth = positiveInteger(options.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth', MAX_MAX_DEPTH);
  const useDefaults = options.disableDefaults !== true;

  const defaultKeys = new Set(useDefaults ? DEFAULT_KEY_NAMES : []);
  const extraKeys = (options.extraKeyPatterns ?? []).map((source) => compilePattern(source, 'extraKeyPatterns', true));
  // User patterns stay separate regexes: joining them would renumber their backreferences and could clash group names.
  const extraValues = (options.extraValuePatterns ?? []).map((source) => compilePattern(source, 'extraValuePatterns', false));
  // The built-in value patterns are one alternation with no flags (case-insensitivity is spelled out per pattern),
  // so each string costs one search.
  const defaultValues = useDefaults ? new RegExp(DEFAULT_VALUE_PATTERNS.map((p) => `(?:${p.source})`).join('|')) : undefined;

  const keyCache = new Map<string, KeyVerdict>();

  function isSensitiveKey(key: string): boolean {
    if (defaultKeys.has(key.toLowerCase())) return true;
    for (const regex of extraKeys) if (regex.test(key)) return true;
    return false;
  }

  function isSensitiveValue(value: string): boolean {
    if (defaultValues !== undefined && value.length >= DEFAULT_VALUE_MIN_LENGTH && defaultValues.test(value)) return true;
    for (const regex of extraValues) if (regex.test(value)) return true;
    return false;
  }

  /** A string after value patterns and truncation; `state` counts what changed. */
  function scrubString(value: string, state: WalkState): string {
    if (value === marker) return value;
    if (isSensitiveValue(value)) {
      state.redacted++;
      return marker;
    }
    const cut = truncateUtf8(value, maxStringBytes);
    if (cut === undefined) return value;
    // The cut end can create a match the whole string did not have (`\b` before the suffix), and the output must
    // never hold a match: otherwise redacting twice would differ from redacting once.
    if (isSensitiveValue(cut)) {
      state.redacted++;
      return marker;
    }
    state.truncated++;
    return cut;
  }

  function keyVerdict(key: string): KeyVerdict {
    const cached = keyCache.get(key);
    if (cached !== undefined) return cached;
    const probe: WalkState = { redacted: 0, truncated: 0, ancestors: [] };
    const scrubbed = scrubString(key, probe);
    const verdict: KeyVerdict = {
      redactValue: isSensitiveKey(key),
      rename: scrubbed === key ? undefined : scrubbed,
      renameTruncated: probe.truncated > 0,
    };
    if (key.length <= KEY_CACHE_MAX_KEY_LENGTH) {
      if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
      keyCache.set(key, verdict);
    }
    return verdict;
  }

  function redactWhole(value: JsonValue, state: WalkState): JsonValue {
    if (value === marker) return value;
    state.redacted++;
    return marker;
  }

  function walkArray(array: JsonValue[], depth: number, state: WalkState): JsonValue[] {
    let out: JsonValue[] | undefined;
    const length = array.length;
    for (let i = 0; i < length; i++) {
      const item = array[i] as JsonValue;
      const next = walk(item, depth + 1, state);
      if (!Object.is(next, item)) {
        out ??= array.slice();
        out[i] = next;
      }
    }
    return out ?? array;
  }

  function walkObject(object: JsonObject, depth: number, state: WalkState): JsonObject {
    const keys = Object.keys(object);
    let out: JsonObject | undefined;
    let renamed: Set<string> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const value = object[key] as JsonValue;
      const verdict = keyVerdict(key);
      const next = verdict.redactValue ? redactWhole(value, state) : walk(value, depth + 1, state);
      let name = key;
      if (verdict.rename !== undefined) {
        if (verdict.renameTruncated) state.truncated++;
        else state.redacted++;
        // Names the object already has stay reserved even if their own key is renamed too: deterministic, and a
        // renamed key can never overwrite a real one.
        renamed ??= new Set();
        name = verdict.rename;
        for (let n = 2; Object.hasOwn(object, name) || renamed.has(name); n++) name = `${verdict.rename}#${n}`;
        renamed.add(name);
      }
      if (out === undefined) {
        if (Object.is(next, value) && name === key) continue; // Object.is: NaN is unchanged too
        out = {};
        for (let j = 0; j < i; j++) {
          const previous = keys[j] as string;
          setOwn(out, previous, object[previous] as JsonValue);
        }
      }
      setOwn(out, name, next);
    }
    return out ?? object;
  }

  function walk(value: JsonValue, depth: number, state: WalkState): JsonValue {
    if (typeof value === 'string') return depth >= maxDepth ? redactWhole(value, state) : scrubString(value, state);
    if (typeof value !== 'object' || value === null || value instanceof JsonFloat) {
      return depth >= maxDepth ? redactWhole(value, state) : value;
    }
    if (depth >= maxDepth) return redactWhole(value, state);
    const ancestors = state.ancestors;
    for (let d = 0; d < depth; d++) if (ancestors[d] === value) return redactWhole(value, state);
    ancestors[depth] = value;
    return Array.isArray(value) ? walkArray(value, depth, state) : walkObject(value, depth, state);
  }

  return {
    redact(value: JsonValue): RedactionResult {
      const state: WalkState = { redacted: 0, truncated: 0, ancestors: [] };
      const out = walk(value, 0, state);
      return { value: out, redactedCount: state.redacted, truncatedCount: state.truncated };
    },
    isSensitiveKey,
    isSensitiveValue,
  };
}
