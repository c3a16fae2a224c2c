import { readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { ConfigError, createIssue } from './config-error.js';

/** One logical entry of a dotenv file: an assignment (possibly spanning lines) or a blank/comment line. */
interface DotenvEntry {
  readonly key: string | undefined;
  /** Line indexes `[start, end)` in the file. */
  readonly start: number;
  readonly end: number;
}

type ScanResult = { readonly ok: true; readonly entries: readonly DotenvEntry[] } | { readonly ok: false; readonly reason: string };

/** dotenv's own line grammar: optional `export`, a key of `[\w.-]`, then `=` or `: `. */
const ASSIGNMENT = /^\s*(?:export\s+)?([\w.-]+)\s*(?:=|:(?=\s))\s*(.*)$/;

/** Index of the first unescaped `quote` in `text` at or after `from`, or -1. */
function closingQuote(text: string, quote: string, from: number): number {
  for (let i = from; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === quote) return i;
  }
  return -1;
}

/**
 * dotenv's `parse` never fails: it silently skips lines it cannot read, so a
 * typo like `Z4J_SECRET abc` would just vanish and the brain would start
 * with a minted secret instead. This scan finds such lines (and unterminated
 * quotes) so they can be reported; it also gives each key's line range, which
 * `upsertDotenv` uses to replace values in place. Line contents are never put
 * into `reason`, since the line may hold a secret.
 */
export function scanDotenv(text: string): ScanResult {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const entries: DotenvEntry[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      entries.push({ key: undefined, start: i, end: i + 1 });
      continue;
    }
    const match = ASSIGNMENT.exec(line);
    if (!match) return { ok: false, reason: `line ${i + 1} is not KEY=value` };
    const key = match[1] as string;
    const value = match[2] ?? '';
    const quote = value[0];
    let end = i + 1;
    if (quote === '"' || quote === "'" || quote === '`') {
      if (closingQuote(value, quote, 1) === -1) {
        // dotenv allows a quoted value to span lines; find the line that closes it.
        let j = i + 1;
        while (j < lines.length && closingQuote(lines[j] ?? '', quote, 0) === -1) j += 1;
        if (j >= lines.length) return { ok: false, reason: `the quoted value starting on line ${i + 1} is never closed` };
        end = j + 1;
      }
    }
    entries.push({ key, start: i, end });
    i = end - 1;
  }
  return { ok: true, entries };
}

/** Parses dotenv text, refusing text that dotenv would partly ignore. `file` names the file in the error. */
export function parseDotenvStrict(text: string, file: string): Record<string, string> {
  const scanned = scanDotenv(text);
  if (!scanned.ok) throw new ConfigError([createIssue(file, 'a dotenv file of KEY=value lines', scanned.reason)]);
  return parse(text);
}

/**
 * Reads and parses a dotenv file; `undefined` when it does not exist, which
 * is normal (every layer is optional). Anything else that stops us reading
 * it is an error naming the file, never a silent skip.
 */
export function readDotenvFile(file: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new ConfigError([createIssue(file, 'a readable dotenv file', `${reason} reading it`)]);
  }
  return parseDotenvStrict(text, file);
}

/**
 * Sets `updates` in dotenv `text`, keeping every other line (comments,
 * unrelated keys, formatting) as it was. A key's first assignment is
 * replaced in place and any later duplicates are dropped, because dotenv
 * lets the last one win and a stale duplicate would override the new value.
 * Keys not present are appended. Values must be single-line and unquoted-safe
 * (callers pass minted base64url tokens).
 */
export function upsertDotenv(text: string, updates: Readonly<Record<string, string>>, file: string): string {
  const scanned = scanDotenv(text);
  if (!scanned.ok) throw new ConfigError([createIssue(file, 'a dotenv file of KEY=value lines', scanned.reason)]);
  const lines = text.split('\n');
  const written = new Set<string>();
  const out: string[] = [];
  for (const entry of scanned.entries) {
    const key = entry.key;
    if (key === undefined || !Object.hasOwn(updates, key)) {
      out.push(...lines.slice(entry.start, entry.end));
    } else if (!written.has(key)) {
      out.push(`${key}=${updates[key]}`);
      written.add(key);
    }
  }
  // Text ending in a newline splits into a final '' line; drop it so appended keys follow the last real line.
  if (out.at(-1) === '') out.pop();
  for (const [key, value] of Object.entries(updates)) if (!written.has(key)) out.push(`${key}=${value}`);
  return `${out.join('\n')}\n`;
}
