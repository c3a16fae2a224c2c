/** IANA zone names only (`Europe/Paris`, `UTC`, `Etc/GMT+5`), not offsets like `+01:00` that newer engines also accept. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;
const MAX_ZONE_LENGTH = 64;

let knownSpellings: ReadonlyMap<string, string> | undefined;

/** The runtime's zone list by lower-cased name, to restore the usual capitalisation. */
function spellingOf(zone: string): string | undefined {
  knownSpellings ??= new Map(Intl.supportedValuesOf('timeZone').map((name) => [name.toLowerCase(), name]));
  return knownSpellings.get(zone.toLowerCase());
}

/**
 * The IANA time zone `input` names, capitalised as usual (`europe/paris`
 * becomes `Europe/Paris`), or undefined when it is not one. Validity is the
 * runtime's own time-zone data (`Intl.DateTimeFormat`), which also knows
 * `UTC` and the link names `Intl.supportedValuesOf('timeZone')` leaves out.
 * A valid name is never swapped for another one: the engine's "canonical"
 * names are CLDR's (`America/Buenos_Aires` for
 * `America/Argentina/Buenos_Aires`), not what the user chose.
 */
export function canonicalTimeZone(input: string): string | undefined {
  if (input.length > MAX_ZONE_LENGTH || !ZONE_NAME.test(input)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: input }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  if (resolved.toLowerCase() === input.toLowerCase()) return resolved;
  return spellingOf(input) ?? input;
}
