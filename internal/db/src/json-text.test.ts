import { describe, expect, it } from 'vitest';
import { JsonFloat } from '@z4j/protocol';
import { jsonText, storableText } from './json-text.js';

describe('jsonText', () => {
  it('keeps bigints exact and integral floats as floats', () => {
    expect(
      jsonText({ big: 12345678901234567890n, f: new JsonFloat(1), neg: new JsonFloat(-0), half: 0.5, huge: new JsonFloat(1e21) }),
    ).toBe('{"big":12345678901234567890,"f":1.0,"neg":-0.0,"half":0.5,"huge":1e+21}');
  });

  it('sorts keys only when asked, at every depth', () => {
    const value = { b: 1, a: [{ d: 1, c: 2 }] };
    expect(jsonText(value)).toBe('{"b":1,"a":[{"d":1,"c":2}]}');
    expect(jsonText(value, true)).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });

  it('replaces NUL and unpaired surrogates, which jsonb refuses, and keeps valid pairs', () => {
    expect(jsonText({ 'k\u0000': 'a\u0000b\ud800c\udc00d😀' })).toBe(JSON.stringify({ 'k\ufffd': 'a\ufffdb\ufffdc\ufffdd😀' }));
    expect(storableText('plain')).toBe('plain');
  });
});
