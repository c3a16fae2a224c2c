import { useCallback, useState } from 'react';

/** A named task filter the user keeps (per project, in this browser). */
export interface SavedView {
  readonly name: string;
  readonly state?: string;
  readonly q?: string;
}

const key = (slug: string) => `z4j.views.${slug}`;
const MAX_VIEWS = 20;

function read(slug: string): SavedView[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(key(slug)) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (item): item is SavedView =>
        typeof item === 'object' &&
        item !== null &&
        typeof (item as SavedView).name === 'string' &&
        ((item as SavedView).state === undefined || typeof (item as SavedView).state === 'string') &&
        ((item as SavedView).q === undefined || typeof (item as SavedView).q === 'string'),
    );
  } catch {
    // A corrupt entry (edited by hand, another version) is dropped, never a crash.
    return [];
  }
}

/** Saved task views of a project: the filters live in the URL, a saved view is a name for one such URL. */
export function useSavedViews(slug: string) {
  const [views, setViews] = useState<SavedView[]>(() => read(slug));
  const persist = useCallback(
    (next: SavedView[]) => {
      localStorage.setItem(key(slug), JSON.stringify(next));
      setViews(next);
    },
    [slug],
  );
  const save = (view: SavedView) => persist([...views.filter((item) => item.name !== view.name), view].slice(-MAX_VIEWS));
  const remove = (name: string) => persist(views.filter((item) => item.name !== name));
  return { views, save, remove };
}
