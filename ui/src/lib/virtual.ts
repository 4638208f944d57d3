// Window math for the virtualized inbox: which rows are on screen, which pages to fetch.

export type Range = { first: number; last: number };

/** Rows per listTickets request. */
export const PAGE_SIZE = 100;
/** Fixed row height of the inbox, in CSS pixels. */
export const ROW_HEIGHT = 64;

/** Rows intersecting the viewport plus `overscan` on each side, clamped to [0, total); empty when last < first. */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, total: number, overscan = 6): Range {
  if (total <= 0 || rowHeight <= 0 || viewport <= 0) return { first: 0, last: -1 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(total - 1, Math.max(0, Math.floor(top / rowHeight) - overscan));
  const last = Math.min(total - 1, Math.ceil((top + viewport) / rowHeight) - 1 + overscan);
  return { first, last: Math.max(first, last) };
}

/** Page numbers covering rows first..last. */
export function pagesFor(range: Range, pageSize: number = PAGE_SIZE): number[] {
  if (range.last < range.first) return [];
  const pages: number[] = [];
  for (let p = Math.floor(range.first / pageSize); p <= Math.floor(range.last / pageSize); p++) pages.push(p);
  return pages;
}

/** The scrollTop that brings row `index` fully into view, or null if it already is. */
export function scrollToRow(index: number, scrollTop: number, viewport: number, rowHeight: number): number | null {
  const top = index * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewport) return top + rowHeight - viewport;
  return null;
}
