import { checked, fail, ok } from './checked-kind.js';
import type { FieldKind } from './field-kinds.js';
import { isIpOrCidr } from './network.js';

/** Splits `a, b,,c` into `['a','b','c']`: operators leave stray commas and spaces. */
function splitCsv(raw: string): string[] {
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

function parseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Checks one list entry; returns the normalised entry or undefined when invalid. */
type EntryCheck = (entry: string) => string | undefined;

export interface StringListOptions {
  /** Plural noun for the entries, e.g. `CIDR ranges`, used in the message. */
  readonly entries: string;
  /** Accept `a,b,c` as well as `["a","b","c"]` (operators write host lists both ways). */
  readonly allowCsv: boolean;
  readonly check?: EntryCheck;
}

/**
 * A list of strings given as a JSON array, or (when `allowCsv`) as a
 * comma-separated list; a value starting with `[` is always read as JSON so
 * a broken array is reported rather than split on its commas.
 */
export function stringList(options: StringListOptions): FieldKind<readonly string[]> {
  const shape = options.allowCsv ? `a JSON array or comma-separated list of ${options.entries}` : `a JSON array of ${options.entries}`;
  return checked((raw) => {
    const trimmed = raw.trim();
    let items: unknown[];
    if (trimmed.startsWith('[') || !options.allowCsv) {
      const parsed = parseJson(trimmed);
      if (!parsed.ok || !Array.isArray(parsed.value)) return fail(shape);
      items = parsed.value;
    } else {
      items = splitCsv(trimmed);
    }
    const out: string[] = [];
    for (const [index, item] of items.entries()) {
      if (typeof item !== 'string') return fail(`${shape} (entry ${index + 1} is not a string)`);
      const normalised = options.check ? options.check(item.trim()) : item;
      if (normalised === undefined) return fail(`${shape} (entry ${index + 1}, ${JSON.stringify(item)}, is not valid)`);
      out.push(normalised);
    }
    return ok(out);
  });
}

/** Host-header values: a name or address, optional port or leading-dot wildcard; never a URL. */
export function hostList(): FieldKind<readonly string[]> {
  return stringList({
    entries: 'host names',
    allowCsv: true,
    check: (entry) => (/^[^\s/\\@?#]+$/.test(entry) && !entry.includes('://') ? entry.toLowerCase() : undefined),
  });
}

/**
 * CORS origins exactly as browsers send them in `Origin`: scheme, host and
 * optional port, no path. Normalised through `URL#origin` (lower-case host,
 * default port dropped) so the middleware can compare strings.
 */
export function originList(): FieldKind<readonly string[]> {
  return stringList({
    entries: 'origins like https://app.example.com[:port] (no path)',
    allowCsv: true,
    check: (entry) => {
      if (/\s/.test(entry)) return undefined;
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        return undefined;
      }
      const isWeb = url.protocol === 'https:' || url.protocol === 'http:';
      const bare = url.username === '' && url.password === '' && url.pathname === '/' && !/[?#]/.test(entry);
      return isWeb && bare ? url.origin : undefined;
    },
  });
}

/** Reverse-proxy addresses whose X-Forwarded-For is trusted: bare IPs or CIDR ranges, v4 or v6. */
export function cidrList(): FieldKind<readonly string[]> {
  return stringList({
    entries: 'IP addresses or CIDR ranges',
    allowCsv: true,
    check: (entry) => (isIpOrCidr(entry) ? entry : undefined),
  });
}

/** Certificate common names: any non-empty string. */
export function nameList(): FieldKind<readonly string[]> {
  return stringList({ entries: 'non-empty names', allowCsv: false, check: (entry) => (entry === '' ? undefined : entry) });
}

/** http(s) URLs, e.g. scheduler `/info` endpoints the dashboard polls. */
export function urlList(): FieldKind<readonly string[]> {
  return stringList({
    entries: 'http(s) URLs',
    allowCsv: false,
    check: (entry) => {
      try {
        const url = new URL(entry);
        return (url.protocol === 'http:' || url.protocol === 'https:') && !/\s/.test(entry) ? entry : undefined;
      } catch {
        return undefined;
      }
    },
  });
}

/** Process arguments: any strings, including empty ones, in order. */
export function argvList(): FieldKind<readonly string[]> {
  return stringList({ entries: 'strings', allowCsv: false });
}

/** `{ "scheduler-cn": ["project-slug", ...] }`: which projects each scheduler certificate may act on. */
export function cnProjectBindings(): FieldKind<Readonly<Record<string, readonly string[]>>> {
  const expected = 'a JSON object mapping certificate CN to a list of project slugs, e.g. {"scheduler-1": ["acme"]}';
  return checked((raw) => {
    const parsed = parseJson(raw.trim());
    if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) return fail(expected);
    const out: Record<string, readonly string[]> = {};
    for (const [cn, slugs] of Object.entries(parsed.value)) {
      if (cn === '') return fail(`${expected} (a CN is empty)`);
      if (!Array.isArray(slugs) || !slugs.every((slug): slug is string => typeof slug === 'string' && slug !== '')) {
        return fail(`${expected} (the value for ${JSON.stringify(cn)} is not a list of non-empty slugs)`);
      }
      out[cn] = slugs;
    }
    return ok(out);
  });
}

/**
 * Previous secrets still accepted during a rotation, comma-separated. Each
 * entry must meet the same floor as the current secret, or a short "previous"
 * value would quietly weaken verification. Entries are never echoed, only
 * their position and length.
 */
export function secretList(minBytes: number): FieldKind<readonly string[]> {
  const expected = `comma-separated secrets of at least ${minBytes} bytes each`;
  return checked((raw) => {
    const entries = [...new Set(splitCsv(raw))];
    for (const [index, entry] of entries.entries()) {
      const bytes = Buffer.byteLength(entry, 'utf8');
      if (bytes < minBytes) return fail(`${expected} (entry ${index + 1} is ${bytes} bytes)`);
    }
    return ok(entries);
  });
}

/**
 * Extra redaction patterns, comma-separated. They are compiled here so a bad
 * pattern stops start-up instead of disabling redaction at the first event;
 * the redaction engine compiles them again case-insensitively, as the
 * original did, so they are checked with the `i` flag.
 */
export function regexList(): FieldKind<readonly string[]> {
  const expected = 'comma-separated regular expressions';
  return checked((raw) => {
    const patterns = splitCsv(raw);
    for (const [index, pattern] of patterns.entries()) {
      try {
        new RegExp(pattern, 'i');
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return fail(`${expected} (entry ${index + 1}, ${JSON.stringify(pattern)}, is invalid: ${reason})`);
      }
    }
    return ok(patterns);
  });
}
