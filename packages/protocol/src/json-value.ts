/**
 * A JSON float whose value is integral (`1.0`, `2e3`, `-0.0`). Python keeps
 * such numbers as floats and re-serialises them as `1.0`, `2000.0`, `-0.0`;
 * a JS `number` would forget they were floats and print `1`, which changes
 * the signed canonical bytes. Non-integral floats (`0.5`) stay plain numbers.
 *
 * @example
 * parseJson('{"a":1.0}') // { a: new JsonFloat(1) }
 */
export class JsonFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

/**
 * A parsed JSON value without loss: integers beyond 2^53 are `bigint`,
 * integral floats are {@link JsonFloat}, everything else is plain JS.
 *
 * @example
 * const v: JsonValue = { n: 2n ** 64n, f: new JsonFloat(1), s: 'x', a: [null, true, 0.5] };
 */
export type JsonValue = null | boolean | number | bigint | string | JsonFloat | JsonValue[] | JsonObject;
/**
 * A JSON object whose values are {@link JsonValue}s.
 *
 * @example
 * const payload: JsonObject = { buffer_size: 0, last_flush_at: null };
 */
export interface JsonObject {
  [key: string]: JsonValue;
}
