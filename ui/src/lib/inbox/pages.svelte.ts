// The inbox's rows, fetched a page at a time as the list scrolls and cached per filter, so a
// 100k-row inbox only ever holds the pages that were on screen.
import { backend, type TicketFilter, type TicketRow } from "../backend";
import { attempt } from "../app.svelte";

export const PAGE = 100;

export class Pages {
  total = $state(0);
  loaded = $state(false);
  /** page number → rows; replaced (not mutated) so the list re-renders. */
  rows = $state<Record<number, TicketRow[]>>({});
  #inflight = new Set<number>();
  #key = "";

  constructor(private filter: () => Omit<TicketFilter, "offset" | "limit">) {}

  /** Start over when the filter changed (or a write happened). */
  reset(): void {
    this.#key = JSON.stringify(this.filter()) + Math.random();
    this.rows = {};
    this.#inflight.clear();
    this.loaded = false;
  }

  row(index: number): TicketRow | undefined {
    return this.rows[Math.floor(index / PAGE)]?.[index % PAGE];
  }

  async ensure(pages: number[]): Promise<void> {
    const key = this.#key;
    await Promise.all(
      pages
        .filter((p) => !(p in this.rows) && !this.#inflight.has(p))
        .map(async (p) => {
          this.#inflight.add(p);
          const page = await attempt(() => backend.listTickets({ ...this.filter(), offset: p * PAGE, limit: PAGE }));
          this.#inflight.delete(p);
          if (!page || key !== this.#key) return;
          this.total = page.total;
          this.rows = { ...this.rows, [p]: page.rows };
          this.loaded = true;
        }),
    );
  }

  /** Replace one row in place after a write, without refetching the page. */
  update(row: TicketRow): void {
    for (const [p, rows] of Object.entries(this.rows)) {
      const i = rows.findIndex((r) => r.id === row.id);
      if (i >= 0) {
        const copy = [...rows];
        copy[i] = row;
        this.rows = { ...this.rows, [p]: copy };
      }
    }
  }

  indexOf(id: string): number {
    for (const [p, rows] of Object.entries(this.rows)) {
      const i = rows.findIndex((r) => r.id === id);
      if (i >= 0) return Number(p) * PAGE + i;
    }
    return -1;
  }
}
