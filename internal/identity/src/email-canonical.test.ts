import { describe, expect, it } from 'vitest';
import { canonicalizeEmail } from './email-canonical.js';

function canonical(input: string): string | undefined {
  const result = canonicalizeEmail(input);
  return result.ok ? result.email : undefined;
}

describe('canonicalizeEmail', () => {
  it.each([
    ['ann@example.com', 'ann@example.com'],
    ['  Ann.Lee@Example.COM \n', 'ann.lee@example.com'],
    ['ＡＮＮ＠ｅｘａｍｐｌｅ．ｃｏｍ', 'ann@example.com'],
    ['ann+z4j@sub.example.co.uk', 'ann+z4j@sub.example.co.uk'],
    ['ann@bücher.example', 'ann@xn--bcher-kva.example'],
    ['ann@BÜCHER.example', 'ann@xn--bcher-kva.example'],
    ['ann@xn--bcher-kva.example', 'ann@xn--bcher-kva.example'],
    ["o'neil_{x}@example.org", "o'neil_{x}@example.org"],
  ])('%j -> %j', (input, expected) => {
    expect(canonical(input)).toBe(expected);
  });

  it.each([
    '',
    'ann',
    'ann@',
    '@example.com',
    'ann@@example.com',
    'ann@example',
    'ann@localhost',
    'ann@1.2.3.4',
    'ann lee@example.com',
    '.ann@example.com',
    'ann.@example.com',
    'ann..lee@example.com',
    'ann@-example.com',
    'ann@exa mple.com',
    'ann@example..com',
    'josé@example.com',
    `${'a'.repeat(65)}@example.com`,
    `ann@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`,
  ])('refuses %j', (input) => {
    const result = canonicalizeEmail(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).not.toBe('');
  });

  it('is idempotent', () => {
    const once = canonical(' ＡＮＮ@Bücher.Example ')!;
    expect(canonical(once)).toBe(once);
  });
});
