// The inbox's rows, fetched a page at a time as the list scrolls. Pages are cached (the ones far
// from the viewport are dropped), a page is never requested twice at once, and after a write the
// cached pages stay on screen while they are fetched again.
import { backend, type TicketFilter, type TicketPage, type TicketRow } from "../backend";
import { attempt } from "../app.svelte";
import { PAGE_SIZE } from "../virtual";

/** How many pages to keep; beyond that the ones farthest from the viewport go. */
const KEEP_PAGES = 30;

export type Fetch = (filter: TicketFilter) => Promise<TicketPage | undefined>;

export class Pages {
  total = $state(0);
  /** The first page for this filter has arrived. */
  loaded = $state(false);
  /** page number → rows; replaced (never mutated) so the list re-renders. */
  rows = $state.raw<Record<number, TicketRow[]>>({});

  #filter: () => Omit<TicketFilter, "offset" | "limit">;
  #fetch: Fetch;
  /** Changes with the filter: answers for an older filter are dropped. */
  #epoch = 0;
  /** Changes after a write: cached pages from an older generation are fetched again. */
  #generation = 0;
  #fresh = new Map<number, number>();
  #inflight = new Set<number>();
  #wanted: number[] = [];
  /** Every listTickets call made, for tests: [page, generation]. */
  readonly requests: Array<[number, number]> = [];

  constructor(filter: () => Omit<TicketFilter, "offset" | "limit">, fetch?: Fetch) {
    this.#filter = filter;
    this.#fetch = fetch ?? ((f) => attempt(() => backend.listTickets(f)));
  }

  /** The filter changed: forget everything. */
  reset(): void {
    this.#epoch += 1;
    this.#generation += 1;
    this.rows = {};
    this.#fresh.clear();
    this.#inflight.clear();
    this.loaded = false;
    this.total = 0;
  }

  /** Something was written: keep showing the cached rows, but fetch them again. */
  refresh(): void {
    this.#generation += 1;
    void this.ensure(this.#wanted);
  }

  row(index: number): TicketRow | undefined {
    return this.rows[Math.floor(index / PAGE_SIZE)]?.[index % PAGE_SIZE];
  }

  /** Fetch the given pages unless they are fresh or already on their way. */
  async ensure(pages: number[]): Promise<void> {
    this.#wanted = pages;
    const epoch = this.#epoch;
    const todo = pages.filter((p) => this.#fresh.get(p) !== this.#generation && !this.#inflight.has(p));
    await Promise.all(todo.map((p) => this.#load(p, epoch)));
  }

  async #load(p: number, epoch: number): Promise<void> {
    const generation = this.#generation;
    this.#inflight.add(p);
    this.requests.push([p, generation]);
    const page = await this.#fetch({ ...this.#filter(), offset: p * PAGE_SIZE, limit: PAGE_SIZE });
    if (epoch !== this.#epoch) return;
    this.#inflight.delete(p);
    if (!page) return;
    this.total = page.total;
    this.loaded = true;
    this.#fresh.set(p, generation);
    this.rows = this.#trim({ ...this.rows, [p]: page.rows });
    // A write happened while this page was on its way: fetch it again.
    if (generation !== this.#generation && this.#wanted.includes(p)) void this.ensure(this.#wanted);
  }

  #trim(rows: Record<number, TicketRow[]>): Record<number, TicketRow[]> {
    const keys = Object.keys(rows).map(Number);
    if (keys.length <= KEEP_PAGES) return rows;
    const center = this.#wanted.length ? this.#wanted[Math.floor(this.#wanted.length / 2)] : 0;
    keys.sort((a, b) => Math.abs(b - center) - Math.abs(a - center));
    const out = { ...rows };
    for (const k of keys.slice(0, keys.length - KEEP_PAGES)) {
      delete out[k];
      this.#fresh.delete(k);
    }
    return out;
  }

  /** Replace one row in place after a write, before the refetch arrives. */
  update(row: TicketRow): void {
    for (const [p, rows] of Object.entries(this.rows)) {
      const i = rows.findIndex((r) => r.id === row.id);
      if (i >= 0) {
        const copy = [...rows];
        copy[i] = row;
        this.rows = { ...this.rows, [p]: copy };
        return;
      }
    }
  }

  indexOf(id: string): number {
    for (const [p, rows] of Object.entries(this.rows)) {
      const i = rows.findIndex((r) => r.id === id);
      if (i >= 0) return Number(p) * PAGE_SIZE + i;
    }
    return -1;
  }
}
