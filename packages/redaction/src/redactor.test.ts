import { JsonFloat, type JsonObject, type JsonValue } from '@z4j/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KEY_NAMES } from './default-patterns.js';
import { RedactionConfigError } from './redaction-config-error.js';
import { createRedactor } from './redactor.js';

const MARKER = '[REDACTED]';
const redactor = createRedactor();

function deepFreeze<T extends JsonValue>(value: T): T {
  if (typeof value === 'object' && value !== null && !(value instanceof JsonFloat)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** A deep copy that keeps JsonFloat instances (structuredClone would turn them into plain objects). */
function deepCopy(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(deepCopy);
  if (typeof value === 'object' && value !== null && !(value instanceof JsonFloat)) {
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value))
      Object.defineProperty(out, key, { value: deepCopy(child), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

function typicalEvent(kwargs: JsonObject): JsonObject {
  return {
    id: '550e8400-e29b-41d4-a716-446655440000',
    kind: 'task.succeeded',
    engine: 'celery',
    task_id: 'a2c4e6f8-0000-4000-8000-000000000001',
    occurred_at: '2024-01-15T10:30:00.123456+00:00',
    data: {
      task_name: 'app.tasks.send_welcome_email',
      queue: 'default',
      worker: 'celery@worker-1',
      args: [1, 'x'],
      kwargs,
      result: { status: 'ok', sent: true, count: 3, ratio: new JsonFloat(1), big: 12345678901234567890n },
    },
  };
}

describe('createRedactor().redact', () => {
  it('redacts a typical event and keeps every untouched subtree by reference', () => {
    const input = typicalEvent({ user_id: 5, email: 'a@b.co', password: 'hunter2' });
    const { value, redactedCount, truncatedCount } = redactor.redact(input);
    expect(value).toEqual(typicalEvent({ user_id: 5, email: MARKER, password: MARKER }));
    expect([redactedCount, truncatedCount]).toEqual([2, 0]);
    const data = (value as JsonObject).data as JsonObject;
    const inputData = input.data as JsonObject;
    expect(data.result).toBe(inputData.result);
    expect(data.args).toBe(inputData.args);
    expect(value).not.toBe(input);
  });

  it('returns the very same reference when nothing needs redacting', () => {
    const input = typicalEvent({ user_id: 5, plan: 'pro' });
    const result = redactor.redact(input);
    expect(result.value).toBe(input);
    expect([result.redactedCount, result.truncatedCount]).toEqual([0, 0]);
    for (const scalar of [null, true, 0, 1.5, 10n, 'plain', new JsonFloat(2)] as JsonValue[]) {
      expect(redactor.redact(scalar).value).toBe(scalar);
    }
  });

  it('never mutates its input', () => {
    const input = deepFreeze(typicalEvent({ password: 'x', nested: [{ token: 't' }, 'a@b.co', 'y'.repeat(9000)], 'c@d.co': 1 }));
    const before = deepCopy(input);
    expect(() => redactor.redact(input)).not.toThrow();
    expect(input).toStrictEqual(before);
  });

  it('replaces any value under a sensitive key: numbers, bools, null, objects, arrays, bigints, floats', () => {
    const input: JsonObject = {
      password: 12345,
      token: true,
      secret: { a: 1, b: ['x'] },
      credentials: [1, 2],
      auth: null,
      cvv: 123n,
      pwd: new JsonFloat(1),
      cookie: '',
    };
    const { value, redactedCount } = redactor.redact(input);
    expect(value).toEqual(Object.fromEntries(Object.keys(input).map((k) => [k, MARKER])));
    expect(redactedCount).toBe(8);
  });

  it('does not count or copy a value that is already the marker (redacting twice is free)', () => {
    const input = { password: MARKER, note: MARKER };
    const result = redactor.redact(input);
    expect(result.value).toBe(input);
    expect(result.redactedCount).toBe(0);
  });

  it('passes bigints and JsonFloats through by identity, also next to changes', () => {
    const float = new JsonFloat(3);
    const { value } = redactor.redact({ f: float, b: 2n ** 70n, email: 'a@b.co', list: [float, -0] });
    const out = value as { f: JsonFloat; b: bigint; list: JsonValue[] };
    expect(out.f).toBe(float);
    expect(out.f).toBeInstanceOf(JsonFloat);
    expect(out.b).toBe(2n ** 70n);
    expect(out.list[0]).toBe(float);
    expect(Object.is(out.list[1], -0)).toBe(true);
  });

  describe('keys matched by value patterns', () => {
    it('renames them to the marker and keeps collisions apart in order', () => {
      const { value, redactedCount } = redactor.redact({ 'a@b.co': 1, keep: 2, 'c@d.co': { token: 'x' }, 'e@f.co': 3 });
      expect(Object.entries(value as JsonObject)).toEqual([
        [MARKER, 1],
        ['keep', 2],
        [`${MARKER}#2`, { token: MARKER }],
        [`${MARKER}#3`, 3],
      ]);
      expect(redactedCount).toBe(4);
    });

    it('never takes a name the object already has', () => {
      const { value } = redactor.redact({ 'a@b.co': 1, [MARKER]: 'real', [`${MARKER}#2`]: 'also real' });
      expect(value).toEqual({ [`${MARKER}#3`]: 1, [MARKER]: 'real', [`${MARKER}#2`]: 'also real' });
    });

    it('uses a custom marker for keys too', () => {
      const { value } = createRedactor({ marker: '***' }).redact({ 'a@b.co': 1, 'c@d.co': 2, password: 'x' });
      expect(value).toEqual({ '***': 1, '***#2': 2, password: '***' });
    });

    it('also truncates over-long keys (and counts them as truncated), keeping cut keys that collide apart', () => {
      const short = createRedactor({ maxStringBytes: 8 });
      const { value, truncatedCount } = short.redact({ abcdefghijkl: 1 });
      expect(value).toEqual({ 'abcdefgh[...4 more bytes truncated]': 1 });
      expect(truncatedCount).toBe(1);
      const collided = short.redact({ abcdefgh12: 1, abcdefgh34: 2 });
      expect(Object.keys(collided.value as JsonObject)).toEqual([
        'abcdefgh[...2 more bytes truncated]',
        'abcdefgh[...2 more bytes truncated]#2',
      ]);
      const again = short.redact(collided.value);
      expect(again.value).toBe(collided.value);
    });
  });

  it('keeps a "__proto__" key as data and never touches the prototype', () => {
    const input = JSON.parse('{"__proto__": {"password": "x"}, "a": "a@b.co"}') as JsonObject;
    const value = redactor.redact(input).value as JsonObject;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ password: MARKER });
  });

  describe('truncation', () => {
    it('cuts strings over 8192 UTF-8 bytes on a character boundary with the exact suffix', () => {
      const { value, truncatedCount } = redactor.redact({ s: 'é'.repeat(5000) }); // 10000 bytes
      expect(value).toEqual({ s: `${'é'.repeat(4096)}[...1808 more bytes truncated]` });
      expect(truncatedCount).toBe(1);
      expect(redactor.redact({ s: 'x'.repeat(8192) }).truncatedCount).toBe(0);
      expect(redactor.redact({ s: '日'.repeat(2731) }).value).toEqual({ s: `${'日'.repeat(2730)}[...3 more bytes truncated]` });
    });

    it('honours maxStringBytes and redacts a secret that the cut would have split', () => {
      const small = createRedactor({ maxStringBytes: 20 });
      expect(small.redact('😀'.repeat(6)).value).toBe('😀😀😀😀😀[...4 more bytes truncated]');
      const { value, redactedCount, truncatedCount } = small.redact('connect to postgres://app:s3cret-password@db/app');
      expect([value, redactedCount, truncatedCount]).toEqual([MARKER, 1, 0]);
    });

    it('redacts a cut string that the cut made look sensitive, so a second pass finds nothing', () => {
      // The whole string is no SSN (`67890` runs on), but cut at 11 bytes it ends in one.
      expect(createRedactor({ maxStringBytes: 11 }).redact('123-45-67890').value).toBe(MARKER);
    });

    it('leaves a string an agent already truncated alone', () => {
      const once = redactor.redact('q'.repeat(10_000)).value as string;
      expect(once).toBe(`${'q'.repeat(8192)}[...1808 more bytes truncated]`);
      expect(redactor.redact(once)).toEqual({ value: once, redactedCount: 0, truncatedCount: 0 });
    });
  });

  describe('depth cap', () => {
    function nest(levels: number, leaf: JsonValue): JsonValue {
      let value = leaf;
      for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { k: value };
      return value;
    }

    it('keeps 64 levels of containers by default and replaces what lies deeper', () => {
      expect(redactor.redact(nest(63, 'leaf')).value).toEqual(nest(63, 'leaf'));
      const { value, redactedCount } = redactor.redact(nest(64, 'leaf'));
      expect(value).toEqual(nest(64, MARKER));
      expect(redactedCount).toBe(1);
      expect(redactor.redact(nest(200, 1)).value).toEqual(nest(64, MARKER));
    });

    it('honours maxDepth', () => {
      const shallow = createRedactor({ maxDepth: 3 });
      expect(shallow.redact({ a: { b: { c: { d: 1 } } } }).value).toEqual({ a: { b: { c: MARKER } } });
      expect(shallow.redact([[['x']]]).value).toEqual([[[MARKER]]]);
      expect(shallow.redact([['x']]).value).toEqual([['x']]);
    });
  });

  it('survives cycles and self-referencing graphs (impossible in parsed JSON, possible from an agent)', () => {
    const node: Record<string, unknown> = { name: 'n' };
    node.self = node;
    const fan: unknown[] = [];
    for (let i = 0; i < 100; i++) fan.push(fan); // caught at the first repeat, not after 100^k copies
    for (const graph of [node, fan]) {
      const { value, redactedCount } = redactor.redact(graph as JsonValue);
      expect(() => JSON.stringify(value)).not.toThrow();
      expect(redactedCount).toBeGreaterThan(0);
    }
    // Shared but acyclic references are not cycles.
    const shared = { a: 1 };
    expect(redactor.redact([shared, shared, { x: [shared] }]).redactedCount).toBe(0);
  });

  describe('options', () => {
    it('adds key patterns: whole key, case-insensitive', () => {
      const custom = createRedactor({ extraKeyPatterns: ['internal_.*', 'tenant'] });
      const { value } = custom.redact({ INTERNAL_note: { a: 1 }, my_internal_note: 'keep', Tenant: 't1', tenants: 'keep', password: 'x' });
      expect(value).toEqual({ INTERNAL_note: MARKER, my_internal_note: 'keep', Tenant: MARKER, tenants: 'keep', password: MARKER });
    });

    it('adds value patterns: searched, case-insensitive, also applied to keys', () => {
      const custom = createRedactor({ extraValuePatterns: ['acct_[0-9]{8}', 'internal\\.corp'] });
      const { value } = custom.redact({ a: 'id ACCT_12345678 here', b: 'acct_1234', c: 'db.INTERNAL.corp', acct_87654321: 1, d: 'a@b.co' });
      expect(value).toEqual({ a: MARKER, b: 'acct_1234', c: MARKER, [MARKER]: 1, d: MARKER });
    });

    it('keeps extra patterns with their own groups and backreferences working', () => {
      const custom = createRedactor({ extraValuePatterns: ['(x)\\1', '(?<q>[\'"]).*\\k<q>', '(y)\\1'] });
      expect(custom.isSensitiveValue('axxb')).toBe(true);
      expect(custom.isSensitiveValue('ayyb')).toBe(true);
      expect(custom.isSensitiveValue('say "hi"')).toBe(true);
      expect(custom.isSensitiveValue('xyxy')).toBe(false);
    });

    it('disableDefaults turns off the built-in key and value patterns only', () => {
      const bare = createRedactor({ disableDefaults: true });
      const input = { password: 'hunter2', email: 'a@b.co', 'a@b.co': 1, long: 'z'.repeat(9000) };
      const { value, redactedCount, truncatedCount } = bare.redact(input);
      expect(value).toEqual({ ...input, long: `${'z'.repeat(8192)}[...808 more bytes truncated]` });
      expect([redactedCount, truncatedCount]).toEqual([0, 1]);
      const withExtras = createRedactor({ disableDefaults: true, extraKeyPatterns: ['password'], extraValuePatterns: ['@'] });
      expect(withExtras.redact(input).value).toEqual({
        password: MARKER,
        email: MARKER,
        [MARKER]: 1,
        long: input.long.slice(0, 8192) + '[...808 more bytes truncated]',
      });
    });

    it.each([
      ['extraValuePatterns', { extraValuePatterns: ['ok', '(unclosed'] }, '(unclosed'],
      ['extraKeyPatterns', { extraKeyPatterns: ['[a-'] }, '[a-'],
      ['extraKeyPatterns', { extraKeyPatterns: ['a)|(b'] }, 'a)|(b'],
      ['extraValuePatterns', { extraValuePatterns: ['(?P<name>x)'] }, '(?P<name>x)'],
    ] as const)('refuses an invalid %s pattern and names it', (option, options, pattern) => {
      let thrown: unknown;
      try {
        createRedactor(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(RedactionConfigError);
      const error = thrown as RedactionConfigError;
      expect(error.code).toBe('REDACTION_CONFIG_INVALID');
      expect(error.option).toBe(option);
      expect(error.pattern).toBe(pattern);
      expect(error.message).toContain(JSON.stringify(pattern));
      expect(error.message).toContain(option);
    });

    it('refuses value patterns that match the empty string (they would redact everything)', () => {
      for (const pattern of ['', 'a*', '(?:)', 'x?']) {
        expect(() => createRedactor({ extraValuePatterns: [pattern] })).toThrow(/matches the empty string/);
      }
    });

    it('refuses out-of-range limits', () => {
      for (const options of [
        { maxDepth: 0 },
        { maxDepth: 1.5 },
        { maxDepth: 5000 },
        { maxStringBytes: 0 },
        { maxStringBytes: Number.NaN },
      ]) {
        expect(() => createRedactor(options)).toThrow(RedactionConfigError);
      }
    });
  });

  describe('properties', () => {
    const chars = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:/,;!?()+=éß日本😀'];
    const clean = createRedactor();
    const safeString = fc.string({ unit: fc.constantFrom(...chars), maxLength: 40 }).filter((s) => !clean.isSensitiveValue(s));
    const safeKey = safeString.filter((k) => !DEFAULT_KEY_NAMES.includes(k.toLowerCase()));
    const scalar = (text: fc.Arbitrary<string>) =>
      fc.oneof(
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double(),
        fc.bigInt(),
        fc.integer().map((n) => new JsonFloat(n)),
        text,
      ) as fc.Arbitrary<JsonValue>;
    const json = (text: fc.Arbitrary<string>, key: fc.Arbitrary<string>) =>
      fc.letrec<{ value: JsonValue }>((tie) => ({
        value: fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          scalar(text),
          fc.array(tie('value'), { maxLength: 5 }),
          fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
        ),
      })).value;

    it('returns clean JSON unchanged, by reference, with zero counts', () => {
      fc.assert(
        fc.property(json(safeString, safeKey), (input) => {
          const copy = deepCopy(input);
          const result = clean.redact(input);
          expect(result.value).toBe(input);
          expect(result.value).toStrictEqual(copy);
          expect([result.redactedCount, result.truncatedCount]).toEqual([0, 0]);
        }),
      );
    });

    it('leaves nothing sensitive behind, and redacting twice changes nothing', () => {
      const secrets = fc.constantFrom(
        'a@b.co',
        'Bearer abcdefghijklmnop1234',
        'redis://:pw@h',
        '123-45-6789',
        'AKIAIOSFODNN7EXAMPLE',
        'x'.repeat(30),
      );
      const text = fc.oneof(
        safeString,
        secrets,
        fc.string({ maxLength: 40 }),
        fc.tuple(safeString, secrets, safeString).map((parts) => parts.join('')),
      );
      const key = fc.oneof(
        safeKey,
        fc.constantFrom('password', 'Token', 'apiKey', 'a@b.co', 'c@d.co', MARKER, '__proto__'),
        fc.string({ maxLength: 30 }),
      );
      const small = createRedactor({ maxStringBytes: 16 });
      fc.assert(
        fc.property(json(text, key), (input) => {
          const once = small.redact(input);
          const twice = small.redact(once.value);
          expect(twice.value).toBe(once.value);
          expect([twice.redactedCount, twice.truncatedCount]).toEqual([0, 0]);
          const visit = (value: JsonValue): void => {
            if (typeof value === 'string') expect(small.isSensitiveValue(value)).toBe(false);
            else if (Array.isArray(value)) value.forEach(visit);
            else if (typeof value === 'object' && value !== null && !(value instanceof JsonFloat)) {
              for (const [k, child] of Object.entries(value)) {
                expect(small.isSensitiveValue(k)).toBe(false);
                if (small.isSensitiveKey(k)) expect(child).toBe(MARKER);
                else visit(child);
              }
            }
          };
          visit(once.value);
        }),
      );
    });
  });

  it('finishes on adversarial 100k-character strings (no catastrophic backtracking)', () => {
    const adversarial = [
      'a@a.a.'.repeat(20_000),
      'a@'.repeat(50_000),
      'a@a.'.repeat(25_000),
      '@' + 'a.'.repeat(50_000),
      'eyJ'.repeat(35_000),
      'eyJa'.repeat(25_000) + '.',
      'postgres://'.repeat(10_000),
      'redis://:'.repeat(12_000),
      'mongodb+srv://u:'.repeat(6_000),
      'Bearer '.repeat(15_000),
      ' '.repeat(100_000),
      '-----BEGIN '.repeat(10_000),
      'hooks.slack.com/services/T'.repeat(4_000),
      '123-'.repeat(25_000),
      '1'.repeat(100_000),
      'a'.repeat(100_000),
      'sk_live_'.repeat(12_000),
      'xoxb-'.repeat(20_000),
    ];
    const result = redactor.redact(adversarial);
    expect(result.value).toHaveLength(adversarial.length);
    for (const s of adversarial) expect(typeof redactor.isSensitiveValue(s)).toBe('boolean');
  });
});
