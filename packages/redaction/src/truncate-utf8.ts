/**
 * The text appended to a cut string: `[...N more bytes truncated]`, N = UTF-8 bytes dropped.
 *
 * @example
 * truncationSuffix(3808) // '[...3808 more bytes truncated]'
 */
export function truncationSuffix(droppedBytes: number): string {
  return `[...${droppedBytes} more bytes truncated]`;
}

// An earlier suffix, possibly followed by `#n`: the redactor's tie-breaker when two cut keys come out the same.
const EARLIER_SUFFIX = /\[\.\.\.(\d{1,15}) more bytes truncated\](?:#\d{1,9})?$/;

/**
 * Cuts `value` to at most `maxBytes` UTF-8 bytes on a character boundary (a surrogate pair is never split; a lone
 * surrogate counts as the 3 bytes of U+FFFD it encodes to) and appends {@link truncationSuffix}. Returns `undefined`
 * when the string fits.
 *
 * A string that already ends in a truncation suffix (or a suffix plus `#n`, see `Redactor.redact` on key collisions)
 * and whose text before the suffix fits is left alone, and a second cut adds the earlier count to N, so an agent and the brain truncating the same payload agree, and running
 * the redactor twice changes nothing.
 *
 * @example
 * truncateUtf8('héllo', 2) // 'h[...5 more bytes truncated]'  ('é' is 2 bytes and would not fit)
 */
export function truncateUtf8(value: string, maxBytes: number): string | undefined {
  // A UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair is 2 units for 4 bytes).
  if (value.length * 3 <= maxBytes) return undefined;
  let body = value;
  let earlierDropped = 0;
  if (value.includes(' truncated]', value.length - 24)) {
    const earlier = EARLIER_SUFFIX.exec(value);
    if (earlier) {
      body = value.slice(0, earlier.index);
      earlierDropped = Number(earlier[1]);
    }
  }
  let bytes = 0;
  let cutIndex = -1;
  let keptBytes = 0;
  const length = body.length;
  for (let i = 0; i < length; i++) {
    const unit = body.charCodeAt(i);
    let width: number;
    let units = 1;
    if (unit < 0x80) width = 1;
    else if (unit < 0x800) width = 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length && (body.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      width = 4;
      units = 2;
    } else width = 3;
    if (cutIndex < 0 && bytes + width > maxBytes) {
      cutIndex = i;
      keptBytes = bytes;
    }
    bytes += width;
    i += units - 1;
  }
  if (cutIndex < 0) return undefined;
  return body.slice(0, cutIndex) + truncationSuffix(bytes - keptBytes + earlierDropped);
}
