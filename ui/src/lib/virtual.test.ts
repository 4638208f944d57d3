import { describe, expect, it } from "vitest";
import { pagesFor, scrollToRow, visibleRange, PAGE_SIZE, ROW_HEIGHT } from "./virtual";
import { Pages } from "./inbox/pages.svelte";
import type { TicketFilter, TicketPage, TicketRow } from "./backend/bindings";

describe("virtual list window", () => {
  it("covers the viewport plus overscan and clamps to the list", () => {
    expect(visibleRange(0, 640, 64, 100_000, 2)).toEqual({ first: 0, last: 11 });
    expect(visibleRange(64 * 500, 640, 64, 100_000, 2)).toEqual({ first: 498, last: 511 });
    expect(visibleRange(64 * 500 + 32, 640, 64, 100_000, 0)).toEqual({ first: 500, last: 510 });
    expect(visibleRange(64 * 99_995, 640, 64, 100_000, 2)).toEqual({ first: 99_993, last: 99_999 });
    expect(visibleRange(0, 640, 64, 3, 2)).toEqual({ first: 0, last: 2 });
    expect(visibleRange(-50, 640, 64, 100, 0)).toEqual({ first: 0, last: 9 });
    expect(visibleRange(0, 640, 64, 0)).toEqual({ first: 0, last: -1 });
    expect(visibleRange(0, 0, 64, 10)).toEqual({ first: 0, last: -1 });
    // Scrolled past the end (the list shrank): still a valid range at the end.
    expect(visibleRange(64 * 1000, 640, 64, 50, 2)).toEqual({ first: 49, last: 49 });
  });

  it("keeps the DOM small for 100,000 rows", () => {
    const r = visibleRange(64 * 73_450, 800, ROW_HEIGHT, 100_000);
    expect(r.last - r.first + 1).toBeLessThan(30);
  });

  it("asks only for the pages it shows", () => {
    expect(pagesFor({ first: 95, last: 210 }, 100)).toEqual([0, 1, 2]);
    expect(pagesFor({ first: 100, last: 199 }, 100)).toEqual([1]);
    expect(pagesFor({ first: 0, last: -1 }, 100)).toEqual([]);
    expect(pagesFor(visibleRange(64 * 73_450, 800, 64, 100_000))).toEqual([734]);
  });

  it("scrolls a row into view only when needed", () => {
    expect(scrollToRow(5, 0, 640, 64)).toBeNull();
    expect(scrollToRow(10, 0, 640, 64)).toBe(64);
    expect(scrollToRow(2, 640, 640, 64)).toBe(128);
  });
});

function row(i: number): TicketRow {
  return {
    id: `t-${i}`, number: i, subject: `S${i}`, customer_id: "c", customer_name: "C", channel: "email", status: "open", priority: "normal",
    queue_id: "q", queue_name: "Q", assignee_id: null, assignee_name: null, tags: [], created_at: 0, updated_at: 0, sla_due_at: null,
    first_response_at: null, unread: false, preview: "", message_count: 1,
  };
}

/** A fake listTickets whose answers the test releases by hand. */
function fakeStore(total: number) {
  const waiting: Array<{ filter: TicketFilter; resolve: (p: TicketPage) => void }> = [];
  const fetch = (filter: TicketFilter) =>
    new Promise<TicketPage>((resolve) => waiting.push({ filter, resolve }));
  const release = () => {
    const all = waiting.splice(0);
    for (const w of all) {
      const rows = Array.from({ length: Math.max(0, Math.min(w.filter.limit, total - w.filter.offset)) }, (_, k) => row(w.filter.offset + k));
      w.resolve({ total, offset: w.filter.offset, rows });
    }
    return new Promise((r) => setTimeout(r, 0));
  };
  return { fetch, release, waiting };
}

const filter = () => ({ statuses: [], channel: null, queue_id: null, assignee: null, tag: null, sort: "sla_due" as const });

describe("inbox pages", () => {
  it("fetches pages of 100 at their offsets and never the same page twice at once", async () => {
    const store = fakeStore(100_000);
    const pages = new Pages(filter, store.fetch);
    void pages.ensure([0, 1]);
    void pages.ensure([1, 2]);
    void pages.ensure([0, 1, 2]);
    expect(store.waiting.map((w) => [w.filter.offset, w.filter.limit])).toEqual([[0, PAGE_SIZE], [100, PAGE_SIZE], [200, PAGE_SIZE]]);
    expect(pages.row(150)).toBeUndefined();
    await store.release();
    expect(pages.total).toBe(100_000);
    expect(pages.row(150)?.id).toBe("t-150");
    // Cached: no new requests.
    void pages.ensure([0, 1, 2]);
    expect(store.waiting).toHaveLength(0);
    expect(pages.indexOf("t-201")).toBe(201);
  });

  it("drops answers for an old filter and refetches after a write without blanking", async () => {
    const store = fakeStore(1000);
    const pages = new Pages(filter, store.fetch);
    void pages.ensure([0]);
    pages.reset();
    await store.release();
    expect(pages.loaded).toBe(false);
    void pages.ensure([0]);
    await store.release();
    expect(pages.row(0)?.id).toBe("t-0");
    pages.refresh();
    expect(store.waiting).toHaveLength(1);
    expect(pages.row(0)?.id).toBe("t-0");
    await store.release();
    expect(pages.requests.map(([p]) => p)).toEqual([0, 0, 0]);
  });

  it("keeps a bounded number of pages while scrolling far", async () => {
    const store = fakeStore(100_000);
    const pages = new Pages(filter, store.fetch);
    for (let p = 0; p < 200; p += 1) {
      void pages.ensure([p]);
      await store.release();
    }
    expect(Object.keys(pages.rows).length).toBeLessThanOrEqual(30);
    expect(pages.row(199 * 100)?.id).toBe("t-19900");
  });
});
