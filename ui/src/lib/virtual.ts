// Window math for the virtualized inbox: which rows are on screen, which pages to fetch.

export type Range = { first: number; last: number };

/** Rows intersecting the viewport plus `overscan` on each side, clamped to [0, total). */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, total: number, overscan = 8): Range {
  if (total <= 0 || rowHeight <= 0) return { first: 0, last: -1 };
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(total - 1, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { first, last: Math.max(first - 1, last) };
}

/** Page numbers covering rows first..last. */
export function pagesFor(range: Range, pageSize: number): number[] {
  if (range.last < range.first) return [];
  const pages: number[] = [];
  for (let p = Math.floor(range.first / pageSize); p <= Math.floor(range.last / pageSize); p++) pages.push(p);
  return pages;
}
