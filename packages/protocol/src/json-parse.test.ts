import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonValue } from './arbitraries.test-util.js';
import { canonicalJson } from './canonical-json.js';
import { JsonParseError, parseJson, parseJsonWithTexts } from './json-parse.js';
import { JsonFloat, type JsonObject } from './json-value.js';

function parseError(input: string | Uint8Array): JsonParseError {
  try {
    parseJson(input);
  } catch (err) {
    if (err instanceof JsonParseError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(String(input))} to be rejected`);
}

describe('parseJson: values', () => {
  it('parses the basic types', () => {
    expect(parseJson('null')).toBe(null);
    expect(parseJson('true')).toBe(true);
    expect(parseJson('false')).toBe(false);
    expect(parseJson('"a"')).toBe('a');
    expect(parseJson(' [1, "x", {"k": [] }] \n')).toEqual([1, 'x', { k: [] }]);
    expect(parseJson('{}')).toEqual({});
    expect(parseJson('[]')).toEqual([]);
  });

  it('keeps integers exact: number within ±(2^53-1), bigint beyond', () => {
    expect(parseJson('9007199254740991')).toBe(9007199254740991);
    expect(parseJson('-9007199254740991')).toBe(-9007199254740991);
    expect(parseJson('9007199254740992')).toBe(9007199254740992n);
    expect(parseJson('-9007199254740992')).toBe(-9007199254740992n);
    expect(parseJson('12345678901234567890')).toBe(12345678901234567890n);
    expect(parseJson('123456789012345')).toBe(123456789012345);
    expect(parseJson('1234567890123456')).toBe(1234567890123456);
  });

  it('reads the integer -0 as 0', () => {
    expect(Object.is(parseJson('-0'), 0)).toBe(true);
  });

  it('keeps integral floats as JsonFloat and other floats as numbers', () => {
    expect(parseJson('1.0')).toEqual(new JsonFloat(1));
    expect(parseJson('1e16')).toEqual(new JsonFloat(1e16));
    expect(parseJson('2E3')).toEqual(new JsonFloat(2000));
    expect(parseJson('1.5e1')).toEqual(new JsonFloat(15));
    const negZero = parseJson('-0.0');
    expect(negZero).toBeInstanceOf(JsonFloat);
    expect(Object.is((negZero as JsonFloat).value, -0)).toBe(true);
    expect(parseJson('0.5')).toBe(0.5);
    expect(parseJson('0.003903')).toBe(0.003903);
    expect(parseJson('2.5e-7')).toBe(2.5e-7);
    expect(parseJson('1e-400')).toEqual(new JsonFloat(0)); // underflows like Python's float()
  });

  it('decodes escapes, including surrogate pairs', () => {
    expect(parseJson('"\\" \\\\ \\/ \\b \\f \\n \\r \\t"')).toBe('" \\ / \b \f \n \r \t');
    expect(parseJson('"\\u00e9\\u00E9\\u2028"')).toBe('éé\u2028');
    expect(parseJson('"\\ud83d\\ude00"')).toBe('😀');
    expect(parseJson('"x😀y\u007f"')).toBe('x😀y\u007f');
  });

  it('lets the last duplicate key win, like Python', () => {
    expect(parseJson('{"a":1,"b":2,"a":3}')).toEqual({ a: 3, b: 2 });
  });

  it('stores a "__proto__" key as data, not as the prototype', () => {
    const obj = parseJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
    expect(Object.keys(obj)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts UTF-8 bytes', () => {
    expect(parseJson(Buffer.from('{"é":"😀"}'))).toEqual({ é: '😀' });
    expect(parseJson(new Uint8Array(Buffer.from('[1]')))).toEqual([1]);
  });
});

describe('parseJson: strict RFC 8259', () => {
  const rejects: [string, string][] = [
    ['empty input', ''],
    ['whitespace only', '  '],
    ['trailing comma in array', '[1,]'],
    ['trailing comma in object', '{"a":1,}'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['-Infinity', '-Infinity'],
    ['leading zero', '01'],
    ['negative leading zero', '-01'],
    ['bare minus', '-'],
    ['leading dot', '.5'],
    ['trailing dot', '1.'],
    ['empty exponent', '1e'],
    ['plus sign', '+1'],
    ['hex', '0x10'],
    ['single quotes', "'a'"],
    ['unquoted key', '{a:1}'],
    ['missing colon', '{"a" 1}'],
    ['missing comma', '[1 2]'],
    ['raw newline in string', '"a\nb"'],
    ['raw tab in string', '"a\tb"'],
    ['raw NUL in string', '"\u0000"'],
    ['bad escape', '"\\x41"'],
    ['short unicode escape', '"\\u12"'],
    ['lone high surrogate escape', '"\\ud800"'],
    ['lone low surrogate escape', '"\\udc00"'],
    ['high escape + non-low escape', '"\\ud800\\u0041"'],
    ['raw lone high surrogate', '"\ud800"'],
    ['raw lone low surrogate', '"\udc00x"'],
    ['escaped high + raw low', '"\\ud83d\ude00"'],
    ['unterminated string', '"abc'],
    ['unterminated array', '[1'],
    ['unterminated object', '{"a":1'],
    ['two values', '1 2'],
    ['trailing garbage', '{}x'],
    ['BOM', '\ufeff{}'],
    ['number out of double range', '1e400'],
    ['vertical tab whitespace', '\u000b1'],
    ['literal prefix', 'tru'],
    ['comment', '[1]//'],
  ];
  it.each(rejects)('rejects %s', (_name, input) => {
    expect(() => parseJson(input)).toThrow(JsonParseError);
  });

  it('reports the position of the problem', () => {
    expect(parseError('[1,]').position).toBe(3);
    expect(parseError('{"a":01}').position).toBe(6);
    expect(parseError('"ab\u0001"').position).toBe(3);
    expect(parseError('  x').message).toMatch(/at position 2$/);
  });

  it('rejects invalid UTF-8 with the byte offset', () => {
    expect(parseError(Buffer.from([0x22, 0x61, 0xff, 0x22])).position).toBe(2);
    expect(parseError(Buffer.from([0x22, 0xc3, 0x22])).position).toBe(1); // truncated sequence
    expect(parseError(Buffer.from([0x22, 0xc0, 0xaf, 0x22])).position).toBe(1); // overlong
    expect(parseError(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])).position).toBe(1); // encoded surrogate
  });

  it('rejects integers with more digits than Python accepts', () => {
    expect(parseJson('9'.repeat(4300))).toBe(BigInt('9'.repeat(4300)));
    expect(() => parseJson('9'.repeat(4301))).toThrow(/digits/);
  });

  it('caps nesting depth without blowing the stack', () => {
    expect(parseJson('['.repeat(256) + ']'.repeat(256))).toBeInstanceOf(Array);
    expect(() => parseJson('['.repeat(257) + ']'.repeat(257))).toThrow(/nesting deeper than 256/);
    expect(() => parseJson('{"a":'.repeat(300) + '1' + '}'.repeat(300))).toThrow(JsonParseError);
    expect(() => parseJson('['.repeat(1_000_000))).toThrow(JsonParseError);
    expect(parseJson('[[[1]]]', { maxDepth: 3 })).toEqual([[[1]]]);
    expect(() => parseJson('[[[1]]]', { maxDepth: 2 })).toThrow(JsonParseError);
  });

  it('agrees with JSON.parse on ordinary documents', () => {
    const doc = '{"a":[1,2,{"b":null,"c":"d\\u00e9\\n"}],"e":-12.5,"f":true,"g":"","h":1e-7}';
    expect(parseJson(doc)).toEqual(JSON.parse(doc));
  });
});

describe('parseJsonWithTexts', () => {
  it('keeps the exact source text of each element of the array under the path', () => {
    const text = '{"payload": {"other": [9], "events": [ {"a": 1.0, "b":[2]} ,"x" , 12345678901234567890]}, "events": [0]}';
    const { value, texts } = parseJsonWithTexts(text, ['payload', 'events']);
    expect(value).toEqual(parseJson(text));
    expect(texts).toEqual(['{"a": 1.0, "b":[2]}', '"x"', '12345678901234567890']);
    expect(parseJsonWithTexts('[1, {"k":[3]}]', []).texts).toEqual(['1', '{"k":[3]}']);
    expect(parseJsonWithTexts('[]', []).texts).toEqual([]);
  });

  it('gives no texts when the path does not lead to an array, and the last array when a key repeats', () => {
    expect(parseJsonWithTexts('{"payload":{"events":{"a":[1]}}}', ['payload', 'events']).texts).toBeUndefined();
    expect(parseJsonWithTexts('{"payload":{}}', ['payload', 'events']).texts).toBeUndefined();
    expect(parseJsonWithTexts('{"a":[1,2]}', []).texts).toBeUndefined();
    expect(parseJsonWithTexts('{"p":{"e":[1]},"p":{"e":[2,3]}}', ['p', 'e']).texts).toEqual(['2', '3']);
    // Nested arrays of the elements do not replace the texts.
    expect(parseJsonWithTexts('{"e":[[1,[2]],3]}', ['e']).texts).toEqual(['[1,[2]]', '3']);
  });

  it('each text parses back to its element, and parseJson is unaffected afterwards', () => {
    fc.assert(
      fc.property(fc.array(jsonValue, { maxLength: 6 }), (items) => {
        const text = `{"payload":{"events":${canonicalJson(items)}}}`;
        const { value, texts } = parseJsonWithTexts(text, ['payload', 'events']);
        expect(texts!.map((item) => parseJson(item))).toEqual(((value as JsonObject).payload as JsonObject).events);
        expect(parseJson(text)).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });
});
