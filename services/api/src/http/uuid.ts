/**
 * A uuid in the hyphenated form Postgres prints (either case). Ids from paths, queries, cookies and
 * NOTIFY payloads are checked against it before they reach a uuid column: a malformed one would be a
 * 22P02 error there, where the API answers 404 (or 422) instead.
 */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string | undefined): value is string {
  return value !== undefined && UUID_PATTERN.test(value);
}
