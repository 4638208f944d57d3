import { describe, expect, it } from "vitest";
import { fixtureBackend } from "./fixture";
import type { TicketFilter } from "./bindings";

const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);
const all: TicketFilter = { statuses: [], channel: null, queue_id: null, assignee: null, tag: null, sort: "sla_due", offset: 0, limit: 100 };

describe("fixture backend (the browser preview's data)", () => {
  it("pages and filters like the store", async () => {
    const b = fixtureBackend({ now: NOW });
    const page = await b.listTickets({ ...all, limit: 10 });
    expect(page.total).toBe(60);
    expect(page.rows).toHaveLength(10);
    const rest = await b.listTickets({ ...all, offset: 55, limit: 10 });
    expect(rest.rows).toHaveLength(5);
    const me = await b.me();
    const mine = await b.listTickets({ ...all, assignee: { kind: "me" } });
    expect(mine.total).toBeGreaterThan(0);
    expect(mine.rows.every((r) => r.assignee_id === me.id)).toBe(true);
    const open = await b.listTickets({ ...all, statuses: ["new", "open"] });
    expect(open.rows.every((r) => r.status === "new" || r.status === "open")).toBe(true);
    const dues = open.rows.map((r) => r.sla_due_at ?? Number.MAX_SAFE_INTEGER);
    expect([...dues].sort((a, b) => a - b)).toEqual(dues);
    const queues = await b.listQueues();
    expect(queues.reduce((n, q) => n + q.open_count, 0)).toBe(open.total);
    await expect(b.listTickets({ ...all, limit: 0 })).rejects.toMatchObject({ code: "invalid_input" });
  });

  it("has mixed-language tickets, customers with orders, and conversations", async () => {
    const b = fixtureBackend({ now: NOW });
    const { rows } = await b.listTickets(all);
    expect(rows.some((r) => /[а-я]/i.test(r.subject))).toBe(true);
    expect(rows.some((r) => /^[A-Za-z]/.test(r.subject))).toBe(true);
    const phone = rows.find((r) => r.channel === "phone")!;
    const detail = await b.getTicket(phone.id);
    expect(detail.timeline.some((x) => x.kind === "call")).toBe(true);
    const card = await b.getCustomer(phone.customer_id);
    expect(card.name).toBe(phone.customer_name);
    expect(card.identities.some((i) => i.kind === "phone")).toBe(true);
    expect(card.recent_contacts.length).toBeGreaterThan(0);
    await expect(b.getCustomer("nobody")).rejects.toMatchObject({ code: "not_found" });
  });

  it("replies, marks read, reassigns, retags; refuses an empty reply", async () => {
    const b = fixtureBackend({ now: NOW });
    const { rows } = await b.listTickets({ ...all, statuses: ["new"] });
    const t = rows[0];
    const detail = await b.replyTicket(t.id, "  Спасибо!\nОтправим сегодня.  ", false, [], []);
    const last = detail.timeline[detail.timeline.length - 1];
    expect(last.kind === "message" && last.body).toBe("Спасибо!\nОтправим сегодня.");
    expect(detail.ticket.status).toBe("open");
    expect(detail.ticket.sla_due_at).toBeNull();
    expect(detail.ticket.message_count).toBe(t.message_count + 1);
    await expect(b.replyTicket(t.id, "   ", false, [], [])).rejects.toMatchObject({ code: "invalid_input" });
    const note = await b.replyTicket(t.id, "VIP", true, [], []);
    expect(note.timeline[note.timeline.length - 1]).toMatchObject({ kind: "message", direction: "internal" });
    expect((await b.assignTicket(t.id, null)).assignee_id).toBeNull();
    expect((await b.assignTicket(t.id, "op-03")).assignee_name).toBe("Olga Kuznetsova");
    await expect(b.assignTicket(t.id, "op-99")).rejects.toMatchObject({ code: "not_found" });
    expect((await b.setTicketTags(t.id, ["vip", " vip ", ""])).tags).toEqual(["vip"]);
    expect((await b.setTicketStatus(t.id, "closed")).status).toBe("closed");
    await expect(b.getTicket("t-0")).rejects.toMatchObject({ code: "not_found" });
  });

  it("keeps satisfaction settings as the server would, refusing what cannot work", async () => {
    const b = fixtureBackend({ now: NOW });
    const view = await b.csatSettings();
    expect(view.public_url).toBeNull();
    expect(view.settings.ask_by_email).toBe(false);
    const queue = view.queues[0].id;
    await expect(b.saveCsatSettings({ ...view.settings, ask_by_email: true })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(b.saveCsatSettings({ ...view.settings, manager_queue_id: "nowhere" })).rejects.toMatchObject({ code: "invalid_input" });
    const saved = await b.saveCsatSettings({ ...view.settings, scale: "five", manager_queue_id: queue });
    expect(saved.settings).toEqual({ scale: "five", ask_by_email: false, ask_in_chat: true, manager_queue_id: queue });
    expect((await b.csatSettings()).settings.scale).toBe("five");
  });

  it("searches every kind with marked snippets", async () => {
    const b = fixtureBackend({ now: NOW });
    const r = await b.search("Dyson", 5);
    expect(r.tickets.length).toBeGreaterThan(0);
    expect(r.tickets.length).toBeLessThanOrEqual(5);
    expect(r.tickets[0].snippet).toContain("\u0002Dyson\u0003");
    expect((await b.search("Петров", 5)).customers[0]?.title).toBe("Иван Петров");
    expect((await b.search("+7 915", 5)).calls.length).toBeGreaterThan(0);
    expect((await b.search("   ", 5)).tickets).toEqual([]);
  });

  it("makes a 100,000-row inbox for the virtual list", async () => {
    const b = fixtureBackend({ now: NOW, rows: 100_000 });
    const page = await b.listTickets({ ...all, sort: "created", offset: 99_950, limit: 100 });
    expect(page.total).toBe(100_000);
    expect(page.rows).toHaveLength(50);
  });
});
