import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { truncateUtf8, truncationSuffix } from './truncate-utf8.js';

const utf8Bytes = (value: string): number => new TextEncoder().encode(value).length;

describe('truncateUtf8', () => {
  it('returns undefined when the string fits, including exactly at the limit', () => {
    expect(truncateUtf8('short', 8192)).toBeUndefined();
    expect(truncateUtf8('é'.repeat(5), 10)).toBeUndefined();
    expect(truncateUtf8('a'.repeat(10), 10)).toBeUndefined();
  });

  it('cuts ASCII at the byte limit and appends the exact suffix text', () => {
    expect(truncateUtf8('a'.repeat(10), 4)).toBe('aaaa[...6 more bytes truncated]');
    expect(truncationSuffix(3808)).toBe('[...3808 more bytes truncated]');
  });

  it('never splits a multi-byte character; N counts every byte dropped', () => {
    // é = 2 bytes: 5 bytes allowed keeps 2 characters (4 bytes), drops 6.
    expect(truncateUtf8('é'.repeat(5), 5)).toBe('éé[...6 more bytes truncated]');
    // 日 = 3 bytes.
    expect(truncateUtf8('日本語', 4)).toBe('日[...6 more bytes truncated]');
    expect(truncateUtf8('日本語', 2)).toBe('[...9 more bytes truncated]');
    // 😀 = 4 bytes, 2 UTF-16 units: the pair is kept or dropped whole.
    expect(truncateUtf8('😀😀', 5)).toBe('😀[...4 more bytes truncated]');
    expect(truncateUtf8('😀😀', 3)).toBe('[...8 more bytes truncated]');
    expect(truncateUtf8('a😀b', 4)).toBe('a[...5 more bytes truncated]');
  });

  it('counts a lone surrogate as the 3 bytes of U+FFFD', () => {
    expect(truncateUtf8('\ud800abc', 3)).toBe('\ud800[...3 more bytes truncated]');
    expect(truncateUtf8('ab\udc00', 2)).toBe('ab[...3 more bytes truncated]');
  });

  it('leaves an earlier truncation alone and adds its count when cutting further', () => {
    const once = truncateUtf8('x'.repeat(100), 10)!;
    expect(once).toBe('xxxxxxxxxx[...90 more bytes truncated]');
    expect(truncateUtf8(once, 10)).toBeUndefined();
    expect(truncateUtf8(once, 4)).toBe('xxxx[...96 more bytes truncated]');
  });

  it('keeps the longest character-aligned prefix that fits (property, against TextEncoder)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.integer({ min: 1, max: 40 }), (value, maxBytes) => {
        const cut = truncateUtf8(value, maxBytes);
        const total = utf8Bytes(value);
        if (cut === undefined) {
          expect(total).toBeLessThanOrEqual(maxBytes);
          return;
        }
        const match = /\[\.\.\.(\d+) more bytes truncated\]$/.exec(cut)!;
        const kept = cut.slice(0, match.index);
        expect(value.startsWith(kept)).toBe(true);
        expect(utf8Bytes(kept)).toBeLessThanOrEqual(maxBytes);
        expect(Number(match[1])).toBe(total - utf8Bytes(kept));
        // Maximal: the next whole character would not have fitted.
        const nextChar = String.fromCodePoint(value.codePointAt(kept.length)!);
        expect(utf8Bytes(kept + nextChar)).toBeGreaterThan(maxBytes);
      }),
    );
  });
});
