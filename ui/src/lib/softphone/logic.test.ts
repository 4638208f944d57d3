import { describe, expect, it } from "vitest";
import {
  callTimer, countdown, dispositionPath, filterDispositions, flatOptions, gradeQuality, missedCalls, moveActive, openTickets,
  overallRegistration, phonePieces, qualityDetail, redialNumber, wrapUpLeft,
} from "./logic";
import { DISPOSITIONS } from "./fixture-phone";
import type { AccountStatus, CallHistoryEntry } from "./contract";

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);

describe("the call timer", () => {
  it("counts talk time from the answer, ringing time before it", () => {
    expect(callTimer({ started_at: T0, answered_at: null }, T0 + 7_400)).toBe("0:07");
    expect(callTimer({ started_at: T0, answered_at: T0 + 10_000 }, T0 + 10_000 + 65_000)).toBe("1:05");
    expect(callTimer({ started_at: T0, answered_at: T0 }, T0 + 3_725_000)).toBe("1:02:05");
    // A clock a little behind the app's never shows a negative time.
    expect(callTimer({ started_at: T0, answered_at: T0 }, T0 - 900)).toBe("0:00");
  });

  it("counts the wrap-up limit down and stops at zero", () => {
    const wrap = { started_at: T0, limit_s: 90 };
    expect(wrapUpLeft(wrap, T0)).toBe(90);
    expect(countdown(wrapUpLeft(wrap, T0 + 25_500))).toBe("1:05");
    expect(wrapUpLeft(wrap, T0 + 100_000)).toBe(-10);
    expect(countdown(wrapUpLeft(wrap, T0 + 100_000))).toBe("0:00");
  });
});

describe("line quality", () => {
  it("grades by MOS, pulled down by loss or jitter", () => {
    expect(gradeQuality(null)).toBeNull();
    expect(gradeQuality({ mos: 4.3, loss_pct: 0.2, jitter_ms: 8, rtt_ms: 40 })).toBe("good");
    expect(gradeQuality({ mos: 3.8, loss_pct: 0.2, jitter_ms: 8, rtt_ms: 40 })).toBe("fair");
    expect(gradeQuality({ mos: 3.2, loss_pct: 0.2, jitter_ms: 8, rtt_ms: 40 })).toBe("poor");
    expect(gradeQuality({ mos: 4.3, loss_pct: 2.5, jitter_ms: 8, rtt_ms: 40 })).toBe("fair");
    expect(gradeQuality({ mos: 4.3, loss_pct: 7, jitter_ms: 8, rtt_ms: 40 })).toBe("poor");
    expect(gradeQuality({ mos: 4.1, loss_pct: 0, jitter_ms: 80, rtt_ms: 40 })).toBe("poor");
  });

  it("explains the grade with the numbers, in both languages", () => {
    const q = { mos: 4.25, loss_pct: 0.3, jitter_ms: 12.4, rtt_ms: 48 };
    expect(qualityDetail(q, "en")).toBe("MOS 4.3 · loss 0.3% · jitter 12 ms · RTT 48 ms");
    expect(qualityDetail(q, "ru")).toBe("MOS 4,3 · потери 0,3% · джиттер 12 мс · RTT 48 мс");
  });
});

describe("the disposition picker", () => {
  it("shows the whole tree without a query, grouped by who is calling", () => {
    const groups = filterDispositions(DISPOSITIONS, "");
    expect(groups.map((g) => g.group.label)).toEqual(["Покупатель", "Юрлицо (B2B)", "Курьер / партнёр", "Другое"]);
    expect(flatOptions(groups)).toHaveLength(14);
  });

  it("finds options by the start of words, in the category or the option, ё = е", () => {
    const delivery = flatOptions(filterDispositions(DISPOSITIONS, "дост"));
    expect(delivery.map((o) => o.id)).toEqual(["customer.delivery"]);
    // The category narrows: "курьер адрес" finds the courier's address question only.
    expect(flatOptions(filterDispositions(DISPOSITIONS, "курьер адр")).map((o) => o.id)).toEqual(["courier.address"]);
    // A category word alone keeps the whole category.
    expect(flatOptions(filterDispositions(DISPOSITIONS, "юрлицо")).map((o) => o.id)).toEqual(["b2b.invoice", "b2b.bulk", "b2b.contract"]);
    expect(filterDispositions(DISPOSITIONS, "жалоба")[0].options[0].label).toBe("Жалоба");
    expect(filterDispositions(DISPOSITIONS, "xyz")).toEqual([]);
    const tree = [{ id: "a", label: "Ёлки", children: [] }];
    expect(flatOptions(filterDispositions(tree, "елк")).map((o) => o.id)).toEqual(["a"]);
  });

  it("moves with the arrows through options and with PageUp/PageDown by category", () => {
    const groups = filterDispositions(DISPOSITIONS, "");
    expect(moveActive(groups, null, "ArrowDown")).toBe("customer.delivery");
    expect(moveActive(groups, null, "ArrowUp")).toBe("other.spam");
    expect(moveActive(groups, "customer.consult", "ArrowDown")).toBe("b2b.invoice");
    expect(moveActive(groups, "b2b.invoice", "ArrowUp")).toBe("customer.consult");
    expect(moveActive(groups, "other.spam", "ArrowDown")).toBe("other.spam");
    expect(moveActive(groups, "customer.delivery", "ArrowUp")).toBe("customer.delivery");
    expect(moveActive(groups, "customer.refund", "PageDown")).toBe("b2b.invoice");
    expect(moveActive(groups, "courier.failed", "PageUp")).toBe("b2b.invoice");
    expect(moveActive(groups, "b2b.bulk", "End")).toBe("other.spam");
    expect(moveActive(groups, "b2b.bulk", "Home")).toBe("customer.delivery");
    expect(moveActive([], null, "ArrowDown")).toBeNull();
  });

  it("names the choice with its category", () => {
    expect(dispositionPath(DISPOSITIONS, "customer.refund")).toBe("Покупатель → Возврат и обмен");
    expect(dispositionPath(DISPOSITIONS, "nope")).toBeNull();
  });
});

describe("counts in words", () => {
  it("uses Russian plural forms for missed calls and open tickets", () => {
    expect(missedCalls(1, "en")).toBe("1 missed call");
    expect(missedCalls(3, "en")).toBe("3 missed calls");
    expect(missedCalls(1, "ru")).toBe("1 пропущенный звонок");
    expect(missedCalls(3, "ru")).toBe("3 пропущенных звонка");
    expect(missedCalls(5, "ru")).toBe("5 пропущенных звонков");
    expect(missedCalls(11, "ru")).toBe("11 пропущенных звонков");
    expect(missedCalls(21, "ru")).toBe("21 пропущенный звонок");
    expect(openTickets(1, "ru")).toBe("1 открытое обращение");
    expect(openTickets(22, "ru")).toBe("22 открытых обращения");
    expect(openTickets(12, "ru")).toBe("12 открытых обращений");
    expect(openTickets(2, "en")).toBe("2 open tickets");
  });
});

describe("registration and redial", () => {
  const acc = (state: AccountStatus["state"]): AccountStatus => ({ account_id: state, label: state, state, detail: null, since: T0 });
  it("shows registered when any account is, else the most telling state", () => {
    expect(overallRegistration([])).toBe("none");
    expect(overallRegistration([acc("unregistered"), acc("registered")])).toBe("registered");
    expect(overallRegistration([acc("failed"), acc("registering")])).toBe("registering");
    expect(overallRegistration([acc("unregistered"), acc("failed")])).toBe("failed");
  });

  it("redials the last number I dialled, else the last caller", () => {
    const h = (direction: "inbound" | "outbound", n: string): CallHistoryEntry => ({
      id: n, direction, outcome: "answered", remote_number: n, customer_id: null, customer_name: null, started_at: T0, duration_s: 1, seen: true, disposition: null,
    });
    expect(redialNumber([])).toBeNull();
    expect(redialNumber([h("inbound", "+1"), h("outbound", "+2"), h("outbound", "+3")])).toBe("+2");
    expect(redialNumber([h("inbound", "+1")])).toBe("+1");
  });
});

describe("phone numbers in ticket text", () => {
  const phones = (s: string) => phonePieces(s).filter((p) => p.phone).map((p) => p.text);
  it("finds numbers written the usual ways and keeps the text around them", () => {
    const text = "Перезвоните на +7 915 123-45-67 или 8 (495) 660-18-90, спасибо";
    expect(phones(text)).toEqual(["+7 915 123-45-67", "8 (495) 660-18-90"]);
    expect(phonePieces(text).map((p) => p.text).join("")).toBe(text);
    expect(phones("Call me on +44 20 7946 0958 today")).toEqual(["+44 20 7946 0958"]);
  });

  it("leaves order numbers, tax ids, tracking codes, dates and prices alone", () => {
    expect(phones("Заказ ORD-100234, ИНН 7701234567, трек RP123456789RU")).toEqual([]);
    expect(phones("оплачено 12 490 ₽ 20.11.2026")).toEqual([]);
  });
});
