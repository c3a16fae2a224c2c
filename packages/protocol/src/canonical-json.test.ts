import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonValue } from './arbitraries.test-util.js';
import { CanonicalJsonError, canonicalBytes, canonicalJson, compareCodePoints, pyFloatRepr } from './canonical-json.js';
import { parseJson } from './json-parse.js';
import { JsonFloat, type JsonValue } from './json-value.js';

// repr(float) as printed by CPython 3.11 for each input.
const PY_FLOAT_REPR: [number, string][] = [
  [0.1, '0.1'],
  [1.0, '1.0'],
  [1e-5, '1e-05'],
  [0.0001, '0.0001'],
  [1e16, '1e+16'],
  [1.5e16, '1.5e+16'],
  [1.2345678901234568e17 /* 123456789012345680.0 */, '1.2345678901234568e+17'],
  [5e-324, '5e-324'],
  [1.7976931348623157e308, '1.7976931348623157e+308'],
  [-0.0, '-0.0'],
  [0.0, '0.0'],
  [0.003903, '0.003903'],
  [100.0, '100.0'],
  [1e22, '1e+22'],
  [1e21, '1e+21'],
  [1234567890123456.0, '1234567890123456.0'],
  [9999999999999998.0, '9999999999999998.0'],
  [9007199254740992.0, '9007199254740992.0'],
  [1e15, '1000000000000000.0'],
  [1.2345678901234568e16 /* 12345678901234567.0 */, '1.2345678901234568e+16'],
  [0.00012345, '0.00012345'],
  [1.2345e-5, '1.2345e-05'],
  [0.000099999, '9.9999e-05'],
  [2.5e-7, '2.5e-07'],
  [1e-7, '1e-07'],
  [123456789.125, '123456789.125'],
  [-1.5, '-1.5'],
  [0.5, '0.5'],
  [1 / 3, '0.3333333333333333'],
  [2 / 3, '0.6666666666666666'],
  [-1e-300, '-1e-300'],
  [4.35, '4.35'],
  [0.1 + 0.2, '0.30000000000000004'],
  [1e100, '1e+100'],
  [123e-20, '1.23e-18'],
  [2.2250738585072014e-308, '2.2250738585072014e-308'],
  [-1234567890000000.0, '-1234567890000000.0'],
];

describe('pyFloatRepr', () => {
  it.each(PY_FLOAT_REPR)('repr(%s) == %s', (x, expected) => {
    expect(pyFloatRepr(x)).toBe(expected);
  });

  it.each([
    ['123456789012345680.0', '1.2345678901234568e+17'],
    ['12345678901234567.0', '1.2345678901234568e+16'],
    ['1e16', '1e+16'],
    ['1.5e+16', '1.5e+16'],
    ['0.00001', '1e-05'],
    ['1E-5', '1e-05'],
    ['-0.0', '-0.0'],
    ['100.0', '100.0'],
    ['1e22', '1e+22'],
    ['0.0001', '0.0001'],
    ['1234567890123456.0', '1234567890123456.0'],
    ['4.35000', '4.35'],
  ])('float token %s is written back as %s', (token, expected) => {
    expect(canonicalJson(parseJson(token))).toBe(expected);
  });

  it('refuses NaN and infinities', () => {
    expect(() => pyFloatRepr(NaN)).toThrow(RangeError);
    expect(() => pyFloatRepr(Infinity)).toThrow(RangeError);
    expect(() => pyFloatRepr(-Infinity)).toThrow(RangeError);
  });

  it('round-trips every double and has Python shape', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = pyFloatRepr(x);
        expect(Object.is(Number(s), x)).toBe(true);
        // Fixed notation always has a '.', exponent notation has a signed 2+ digit exponent.
        expect(s).toMatch(/^-?(\d+\.\d+|\d(\.\d+)?e[+-]\d{2,3})$/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level with compact separators', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('sorts keys by code point, not UTF-16 unit', () => {
    // U+FFFF < U+1F600 by code point, but '\uffff' > '\ud83d' as a UTF-16 unit.
    expect(canonicalJson({ '😀': 1, '\uffff': 2, '\ue000': 3, a: 4 })).toBe('{"a":4,"\ue000":3,"\uffff":2,"😀":1}');
    expect(['😀', '\uffff', '\ue000', 'a', '𝄞'].sort(compareCodePoints)).toEqual(['a', '\ue000', '\uffff', '𝄞', '😀']);
  });

  it('escapes strings as Python json.dumps(ensure_ascii=False)', () => {
    expect(canonicalJson('"\\/\b\f\n\r\t')).toBe('"\\"\\\\/\\b\\f\\n\\r\\t"');
    expect(canonicalJson('\u0000\u0001\u001f')).toBe('"\\u0000\\u0001\\u001f"');
    // DEL, U+2028/2029, non-ASCII and astral characters stay raw.
    expect(canonicalJson('\u007f\u2028\u2029é😀')).toBe('"\u007f\u2028\u2029é😀"');
  });

  it('writes numbers as Python does', () => {
    expect(canonicalJson([0, -0, 1, -1, 9007199254740991])).toBe('[0,0,1,-1,9007199254740991]');
    expect(canonicalJson([12345678901234567890n, -(2n ** 64n)])).toBe('[12345678901234567890,-18446744073709551616]');
    expect(canonicalJson([new JsonFloat(1), new JsonFloat(-0), new JsonFloat(1e16), new JsonFloat(0.5)])).toBe('[1.0,-0.0,1e+16,0.5]');
    expect(canonicalJson([0.5, 1e-5, 0.003903])).toBe('[0.5,1e-05,0.003903]');
    // An integral number beyond 2^53 is an int in Python: exact digits.
    expect(canonicalJson(2 ** 64)).toBe('18446744073709551616');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson(null)).toBe('null');
  });

  it('keeps a "__proto__" key', () => {
    expect(canonicalJson(parseJson('{"b":1,"__proto__":2}'))).toBe('{"__proto__":2,"b":1}');
  });

  it('returns UTF-8 bytes from canonicalBytes', () => {
    expect(canonicalBytes({ é: '😀' }).equals(Buffer.from('{"é":"😀"}', 'utf8'))).toBe(true);
  });

  const bad: [string, unknown, string][] = [
    ['NaN', { a: [1, NaN] }, '$.a[1]'],
    ['Infinity', { a: Infinity }, '$.a'],
    ['JsonFloat(NaN)', [new JsonFloat(NaN)], '$[0]'],
    ['undefined value', { a: { b: undefined } }, '$.a.b'],
    ['array hole', [1, , 2], '$[1]'], // eslint-disable-line no-sparse-arrays
    ['lone surrogate in value', { 'x-y': '\ud800' }, '$["x-y"]'],
    ['lone surrogate in key', { '\udc00': 1 }, '$["\\udc00"]'],
    ['Date', { d: new Date() }, '$.d'],
    ['Map', new Map(), '$'],
    ['function', { f: () => 1 }, '$.f'],
    ['symbol', [Symbol('s')], '$[0]'],
  ];
  it.each(bad)('refuses %s and names the path', (_name, value, path) => {
    let error: unknown;
    try {
      canonicalJson(value as JsonValue);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CanonicalJsonError);
    expect((error as CanonicalJsonError).path).toBe(path);
    expect((error as CanonicalJsonError).message).toContain(` at ${path}`);
  });

  it('refuses cycles cleanly', () => {
    const a: JsonValue[] = [];
    a.push(a);
    expect(() => canonicalJson(a)).toThrow(/too deep/);
  });

  it('round-trips: parseJson(canonicalJson(v)) deep-equals v', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const text = canonicalJson(value);
        const back = parseJson(text);
        expect(back).toEqual(value);
        expect(canonicalJson(back)).toBe(text);
        expect(parseJson(Buffer.from(text, 'utf8'))).toEqual(value);
      }),
      { numRuns: 1000 },
    );
  });
});

// Cross-check against the real thing where a Python is installed: every
// generated document must be re-canonicalised by Python to the same bytes,
// which is exactly what a Python peer does before checking an HMAC.
const python = spawnSync('python3', ['-c', 'import sys; print(sys.version_info[0])'], { encoding: 'utf8' });
const hasPython = python.status === 0 && python.stdout.trim() === '3';

describe.skipIf(!hasPython)('canonicalJson vs CPython json.dumps', () => {
  const script = [
    'import sys, json',
    'for line in sys.stdin.buffer.read().decode("utf-8").split("\\n"):',
    '    if line:',
    '        out = json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)',
    '        sys.stdout.buffer.write((out + "\\n").encode("utf-8"))',
  ].join('\n');

  function viaPython(lines: string[]): string[] {
    const res = spawnSync('python3', ['-c', script], { input: lines.join('\n') + '\n', maxBuffer: 64 * 1024 * 1024 });
    if (res.status !== 0) throw new Error(res.stderr.toString());
    return res.stdout.toString('utf8').split('\n').slice(0, -1);
  }

  it('matches Python byte for byte on random documents', () => {
    const docs = fc.sample(jsonValue, { numRuns: 2000, seed: 42 }).map((v) => canonicalJson(v));
    // U+2028/2029 are line breaks for str.splitlines but not for split("\n").
    expect(viaPython(docs)).toEqual(docs);
  });

  it('matches Python repr on random doubles', () => {
    const xs = fc.sample(fc.double({ noNaN: true, noDefaultInfinity: true }), { numRuns: 5000, seed: 7 });
    const lines = xs.map((x) => canonicalJson(new JsonFloat(x)));
    expect(viaPython(lines)).toEqual(lines);
  });
});
