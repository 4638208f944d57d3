// The softphone store against the fixture phone, the way an operator goes through calls.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fixtureBackend } from "../backend/fixture";
import { fixturePhone, type FixturePhone } from "./fixture-phone";
import { PhoneStore, type PhoneEvent } from "./store.svelte";
import { callTimer } from "./logic";

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
let tickets: ReturnType<typeof fixtureBackend>;
let backend: FixturePhone;
let store: PhoneStore;
let events: PhoneEvent[];
let stop: () => void;
let errors: unknown[];

beforeEach(async () => {
  vi.useFakeTimers({ now: T0 });
  tickets = fixtureBackend({ now: T0 });
  backend = fixturePhone({ tickets });
  errors = [];
  store = new PhoneStore(backend, async (call) => {
    try {
      return await call();
    } catch (e) {
      errors.push(e);
      return undefined;
    }
  });
  events = [];
  store.on((e) => events.push(e));
  stop = store.start();
  await vi.advanceTimersByTimeAsync(1000);
});

afterEach(() => {
  stop();
  vi.useRealTimers();
});

const kinds = () => events.map((e) => e.kind);

describe("the softphone store", () => {
  it("shows the accounts registered, and past missed calls as unseen", () => {
    expect(store.snap.accounts.map((a) => [a.label, a.state])).toEqual([["Основная линия", "registered"], ["Резерв (TLS)", "unregistered"]]);
    expect(store.snap.missed_unseen).toBe(2);
    expect(store.history.filter((h) => !h.seen)).toHaveLength(2);
  });

  it("an incoming call shows who is calling before the answer, then runs a timer", async () => {
    await backend.ring();
    expect(store.ringing?.customer_name).toBe("Иван Петров");
    expect(store.ringing?.line).toBe("+7 800 555-35-35");
    expect(store.ringing?.queue_name).toBe("Горячая линия 8-800");
    expect(store.ringing?.open_tickets.length).toBeGreaterThan(0);
    expect(events.find((e) => e.kind === "ring")).toMatchObject({ call: { customer_id: "c-1" } });
    expect(store.main).toBeNull();

    await store.answer();
    expect(store.ringing).toBeNull();
    expect(store.main?.phase).toBe("active");
    expect(store.main?.recording).toBe("on");
    expect(kinds()).toContain("answered");
    expect((await tickets.me()).state).toBe("busy");

    await vi.advanceTimersByTimeAsync(65_000);
    expect(callTimer(store.main!, store.now)).toBe("1:05");
    expect(store.main?.quality).not.toBeNull();
  });

  it("shows a team lead on the call while the hotline says one is there", async () => {
    const call = await backend.ring();
    await store.answer();
    backend.teamLead(call.id, "Елена", "whisper");
    await vi.advanceTimersByTimeAsync(10);
    expect(store.main?.monitored).toEqual({ by: "Елена", mode: "whisper" });
    backend.teamLead(call.id, "Елена", null);
    await vi.advanceTimersByTimeAsync(10);
    expect(store.main?.monitored).toBeNull();
  });

  it("holds, mutes and pauses the recording, and back", async () => {
    await backend.ring();
    await store.answer();
    await store.toggleHold();
    expect(store.main?.phase).toBe("held");
    await store.toggleHold();
    expect(store.main?.phase).toBe("active");
    await store.toggleMute();
    expect(store.main?.muted).toBe(true);
    await store.toggleMute();
    expect(store.main?.muted).toBe(false);
    await store.toggleRecording();
    expect(store.main?.recording).toBe("paused");
    await store.toggleRecording();
    expect(store.main?.recording).toBe("on");
  });

  it("a consult transfer holds the customer, calls the colleague, then merges into a conference", async () => {
    await backend.ring();
    await store.answer();
    expect(await store.transfer({ kind: "operator", id: "op-04" }, true)).toBe(true);
    expect(store.main?.phase).toBe("held");
    expect(store.consult?.remote_name).toBe("Сергей Иванов");
    expect(store.talking?.id).toBe(store.consult?.id);
    await vi.advanceTimersByTimeAsync(2000);
    expect(store.consult?.phase).toBe("active");
    await store.mergeConference();
    expect(store.conference).toBe(true);
    expect(store.main?.phase).toBe("active");
    // Ending the consult leg leaves the customer's call.
    await store.hangupCall(store.consult!.id);
    expect(store.consult).toBeNull();
    expect(store.main?.phase).toBe("active");
    expect(store.snap.wrap_up).toBeNull();
  });

  it("completing a transfer ends my part of the call and starts the wrap-up", async () => {
    await backend.ring();
    await store.answer();
    await store.transfer({ kind: "department", id: "dep-delivery" }, true);
    await vi.advanceTimersByTimeAsync(2000);
    await store.completeTransfer();
    expect(store.main).toBeNull();
    expect(store.wrap?.customer_name).toBe("Иван Петров");
  });

  it("hang up → wrap-up with a countdown → submitted: the note reaches the ticket, I am available again", async () => {
    await backend.ring();
    await store.answer();
    const callId = store.main!.id;
    store.setNote(callId, "Курьер не приехал");
    await vi.advanceTimersByTimeAsync(700);
    expect(store.snap.calls[0].note).toBe("Курьер не приехал");
    await vi.advanceTimersByTimeAsync(30_000);
    await store.hangup();
    expect(store.main).toBeNull();
    expect(store.wrap).toMatchObject({ call_id: callId, limit_s: 90, customer_id: "c-1" });
    expect(kinds()).toContain("wrapUp");
    expect((await tickets.me()).state).toBe("wrap_up");

    const ticket = store.wrap!.open_tickets[0];
    expect(await store.submitWrapUp("customer.delivery", "Перенесли доставку", { kind: "existing", ticket_id: ticket.id })).toBe(true);
    expect(store.wrap).toBeNull();
    expect(kinds()).toContain("wrapUpDone");
    expect((await tickets.me()).state).toBe("available");
    await vi.advanceTimersByTimeAsync(10);
    expect(store.history[0]).toMatchObject({ id: callId, outcome: "answered", duration_s: 31, disposition: "Покупатель → Статус доставки" });
    const detail = await tickets.getTicket(ticket.id);
    expect(detail.timeline.at(-1)).toMatchObject({ kind: "message", direction: "internal" });
  });

  it("an unanswered call becomes a missed one, marked until seen", async () => {
    await backend.ring("+7 903 200-11-44");
    await vi.advanceTimersByTimeAsync(46_000);
    expect(store.ringing).toBeNull();
    expect(store.snap.missed_unseen).toBe(3);
    expect(store.history[0]).toMatchObject({ outcome: "missed", seen: false, customer_name: "Ольга Волкова" });
    await store.markAllSeen();
    expect(store.snap.missed_unseen).toBe(0);
    expect(store.history.every((h) => h.seen)).toBe(true);
  });

  it("letting a call go to the next operator is not my missed call, and needs no wrap-up", async () => {
    await backend.ring();
    await store.reject(true);
    expect(store.ringing).toBeNull();
    expect(store.wrap).toBeNull();
    expect(store.snap.missed_unseen).toBe(2);
  });

  it("an unknown caller rings without a customer", async () => {
    await backend.ring("+7 912 000-41-18");
    expect(store.ringing?.customer_id).toBeNull();
    expect(store.ringing?.customer_name).toBeNull();
  });

  it("click-to-call dials and matches the customer; redial calls the last dialled number", async () => {
    await store.dial("+7 926 555-12-30");
    expect(store.main).toMatchObject({ direction: "outbound", phase: "dialing", customer_name: "Мария Соколова" });
    await vi.advanceTimersByTimeAsync(2000);
    expect(store.main?.phase).toBe("active");
    await store.hangup();
    await store.submitWrapUp("customer.consult", "", { kind: "none" });
    await store.redial();
    expect(store.main?.remote_number).toBe("+7 926 555-12-30");
  });

  it("refuses a second call while one is in progress, with the backend's reason", async () => {
    await backend.ring();
    await store.answer();
    expect(await store.dial("+7 999 123-00-11")).toBeUndefined();
    expect(errors).toEqual([expect.objectContaining({ code: "invalid_input" })]);
  });
});
