import * as v from 'valibot';
import type { FieldKind } from './field-kinds.js';

/** Either a parsed value or the reason it is wrong, phrased to follow "expected ...". */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly expected: string };

export const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
export const fail = (expected: string): Checked<never> => ({ ok: false, expected });

/**
 * Wraps a plain checker as a field kind, for values that need more than a
 * chain of valibot actions (JSON shapes, URLs, per-entry checks). The single
 * issue's message is the checker's `expected`, which may say which entry is
 * wrong.
 */
export function checked<T>(check: (raw: string) => Checked<T>): FieldKind<T> {
  const schema = v.pipe(
    v.string(),
    v.rawTransform<string, T>(({ dataset, addIssue, NEVER }) => {
      const result = check(dataset.value);
      if (result.ok) return result.value;
      addIssue({ message: result.expected, expected: result.expected });
      return NEVER;
    }),
  );
  return () => schema;
}
