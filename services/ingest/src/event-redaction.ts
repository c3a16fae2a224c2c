import type { JsonObject, JsonValue } from '@z4j/protocol';
import type { Redactor } from '@z4j/redaction';

/**
 * Fields that name infrastructure, not user data, and that the brain joins
 * on: Celery node names look like e-mail addresses (`celery@ip-10-0-1-23.ec2.internal`)
 * and would otherwise be redacted, breaking the workers view.
 */
const IDENTITY_FIELDS = ['worker', 'worker_name', 'hostname'] as const;
const NODE_NAME = /^[\w.-]{1,200}@[\w.-]{1,253}$/;

/** Redacts a whole raw event, keeping `data.worker`-style node names readable. */
export function createEventRedaction(redactor: Redactor): (event: JsonValue) => JsonValue {
  return (event) => {
    const data = isObject(event) && isObject(event.data) ? event.data : undefined;
    const kept = data ? IDENTITY_FIELDS.filter((field) => typeof data[field] === 'string' && NODE_NAME.test(data[field])) : [];
    const redacted = redactor.redact(event).value;
    if (kept.length === 0 || !data || !isObject(redacted) || !isObject(redacted.data)) return redacted;
    const restored: JsonObject = { ...redacted.data };
    for (const field of kept) restored[field] = data[field] as string;
    // Nothing but the node names was touched: hand back the event itself, so it is stored as it arrived.
    if (isObject(event) && sameEntries(restored, data) && sameEntries({ ...redacted, data }, event)) return event;
    return { ...redacted, data: restored };
  };
}

/** Same keys, in the same order, with the very same values. */
function sameEntries(a: JsonObject, b: JsonObject): boolean {
  const keys = Object.keys(a);
  const other = Object.keys(b);
  if (keys.length !== other.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key !== other[i] || !Object.is(a[key], b[key])) return false;
  }
  return true;
}

/** A JSON object (not an array, not a JsonFloat). */
function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
