import { describe, expect, it } from "vitest";
import { fixtureBackend } from "./fixture";

describe("fixture backend (the browser preview's data)", () => {
  it("pages, filters, replies and refuses an empty reply like the real store", async () => {
    const b = fixtureBackend();
    const all = await b.listTickets({ statuses: [], channel: null, queue_id: null, assignee: null, tag: null, sort: "sla_due", offset: 0, limit: 10 });
    expect(all.total).toBe(60);
    expect(all.rows).toHaveLength(10);
    const mine = await b.listTickets({ statuses: [], channel: null, queue_id: null, assignee: { kind: "me" }, tag: null, sort: "updated", offset: 0, limit: 100 });
    const me = await b.me();
    expect(mine.rows.every((r) => r.assignee_id === me.id)).toBe(true);
    const detail = await b.replyTicket(all.rows[0].id, "  Спасибо!  ", false);
    const last = detail.timeline[detail.timeline.length - 1];
    expect(last.kind === "message" && last.body).toBe("Спасибо!");
    await expect(b.replyTicket(all.rows[0].id, "   ", false)).rejects.toMatchObject({ code: "invalid_input" });
  });
});
