import * as v from 'valibot';
import { expandPath, type PathContext } from './expand-path.js';

/**
 * A field kind turns one raw string (never empty: blank means "unset" and is
 * handled before a kind sees it) into a typed value. Every failing step uses
 * the same `expected` phrase as its message, so the error reads as one
 * sentence whichever step failed. Kinds get the path context because a few
 * (paths) need it; the rest ignore it.
 */
export type FieldKind<T> = (context: PathContext) => v.GenericSchema<string, T>;

/** Largest value for integer settings: fits a Postgres `int4` and Node's timer limit for millisecond values. */
export const INT32_MAX = 2_147_483_647;

function fixed<T>(schema: v.GenericSchema<string, T>): FieldKind<T> {
  return () => schema;
}

function rangeText(min: number, max: number | undefined, noun: string): string {
  return max === undefined ? `${noun} of at least ${min}` : `${noun} from ${min} to ${max}`;
}

/** Whole numbers only: `1.5`, `1e3`, `0x10` and `abc` are refused rather than truncated. */
export function integer(min: number, max: number = INT32_MAX): FieldKind<number> {
  const expected = rangeText(min, max === INT32_MAX ? undefined : max, 'an integer');
  return fixed(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^[+-]?\d+$/, expected),
      v.transform(Number),
      v.minValue(min, expected),
      v.maxValue(max, expected),
    ),
  );
}

/** A TCP port; 0 asks the OS for an ephemeral one (tests bind that way), so 0 is allowed. */
export function port(): FieldKind<number> {
  return integer(0, 65_535);
}

export interface FloatRange {
  /** Inclusive lower bound, or exclusive when `exclusiveMin` (timeouts must be > 0). */
  readonly min: number;
  readonly max?: number;
  readonly exclusiveMin?: boolean;
}

/** Decimal numbers as operators write them (`10`, `2.5`, `.5`); no `NaN`, `Infinity` or hex. */
export function float(range: FloatRange): FieldKind<number> {
  const lower = range.exclusiveMin ? `greater than ${range.min}` : `at least ${range.min}`;
  const expected =
    range.max === undefined
      ? `a number ${lower}`
      : range.exclusiveMin
        ? `a number greater than ${range.min} and at most ${range.max}`
        : `a number from ${range.min} to ${range.max}`;
  return fixed(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i, expected),
      v.transform(Number),
      range.exclusiveMin ? v.gtValue(range.min, expected) : v.minValue(range.min, expected),
      v.maxValue(range.max ?? Number.MAX_VALUE, expected),
    ),
  );
}

/** A duration or rate that must be strictly positive (a zero timeout would fire immediately). */
export function positiveFloat(max?: number): FieldKind<number> {
  return float(max === undefined ? { min: 0, exclusiveMin: true } : { min: 0, max, exclusiveMin: true });
}

const BOOLEAN_EXPECTED = 'a boolean (true/false, 1/0, yes/no, on/off)';

/** Case-insensitive; these are the spellings operators use in env files and Helm values. */
export function boolean(): FieldKind<boolean> {
  return fixed<boolean>(
    v.pipe(
      v.string(),
      v.trim(),
      v.parseBoolean({ truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off'] }, BOOLEAN_EXPECTED),
    ),
  );
}

/** One of a fixed set, case-insensitive, normalised to lower case. */
export function oneOf<const T extends string>(options: readonly T[]): FieldKind<T> {
  const expected = `one of ${options.join(', ')}`;
  return fixed(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(options, expected)));
}

/**
 * The original accepted Python's level names; pino has different ones. Both
 * spellings are accepted and normalised to pino's (`WARNING` → `warn`,
 * `CRITICAL` → `fatal`); `silent` is pino's "no output" for tests.
 */
const LOG_LEVELS = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
  silent: 'silent',
} as const;

export type LogLevel = (typeof LOG_LEVELS)[keyof typeof LOG_LEVELS];

export function logLevel(): FieldKind<LogLevel> {
  const expected = 'one of DEBUG, INFO, WARNING, ERROR, CRITICAL, trace, fatal (any case)';
  const names = Object.keys(LOG_LEVELS) as (keyof typeof LOG_LEVELS)[];
  return fixed(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.picklist(names, expected),
      v.transform((name) => LOG_LEVELS[name]),
    ),
  );
}

/** Free text on one line (labels, bind hosts); control characters would corrupt log lines and headers. */
export function text(options: { readonly maxLength?: number; readonly noSpaces?: boolean } = {}): FieldKind<string> {
  const maxLength = options.maxLength ?? 256;
  const expected = options.noSpaces
    ? `a value without spaces, at most ${maxLength} characters`
    : `one line of text, at most ${maxLength} characters`;
  return fixed(
    v.pipe(
      v.string(),
      v.trim(),
      v.maxLength(maxLength, expected),
      v.regex(options.noSpaces ? /^[^\s\p{Cc}]+$/u : /^[^\p{Cc}]+$/u, expected),
    ),
  );
}

/** Deliberately loose (one `@`, a dot in the domain): the real check is the admin signing in. */
export function email(): FieldKind<string> {
  const expected = 'an email address';
  return fixed(v.pipe(v.string(), v.trim(), v.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, expected), v.maxLength(254, expected)));
}

/**
 * A secret used as raw UTF-8 bytes (HMAC keys), never trimmed: its exact
 * bytes must match what other brains and agents derive from. The minimum is
 * in bytes, as the original measured it.
 */
export function secret(minBytes: number): FieldKind<string> {
  return fixed(v.pipe(v.string(), v.minBytes(minBytes, `a secret of at least ${minBytes} bytes`)));
}

/** A password, used exactly as given (spaces are legal in passwords); the password policy is applied when the admin is created. */
export function password(): FieldKind<string> {
  return fixed(v.string());
}

/** A bearer token: sent in an `Authorization` header, so whitespace would split it. */
export function bearerToken(): FieldKind<string> {
  return fixed(v.pipe(v.string(), v.regex(/^\S+$/, 'a token without whitespace')));
}

/** A filesystem path; `~` is expanded and relative paths are anchored to the cwd at config time. */
export function path(): FieldKind<string> {
  return (context) =>
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^[^\p{Cc}]+$/u, 'a filesystem path'),
      v.transform((raw) => expandPath(raw, context)),
    );
}
