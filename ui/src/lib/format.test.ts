import { describe, expect, it } from "vitest";
import { clock, duration, ruPlural, slaState, ticketsWord } from "./format";
import { segments } from "./snippet";
import { pagesFor, visibleRange } from "./virtual";
import { contactsPerMonth } from "./customer/activity";

const MIN = 60_000;

describe("durations and plurals", () => {
  it("uses Russian plural forms", () => {
    expect(duration(1 * MIN, "ru")).toBe("1 минута");
    expect(duration(2 * MIN, "ru")).toBe("2 минуты");
    expect(duration(5 * MIN, "ru")).toBe("5 минут");
    expect(duration(11 * MIN, "ru")).toBe("11 минут");
    expect(duration(21 * MIN, "ru")).toBe("21 минута");
    expect(duration(34 * MIN, "ru")).toBe("34 минуты");
    expect(ruPlural(112, "a", "b", "c")).toBe("c");
    expect(ticketsWord(3, "ru")).toBe("обращения");
    expect(ticketsWord(1, "en")).toBe("ticket");
  });

  it("is compact above an hour and never shows 60 minutes or 24 hours", () => {
    expect(duration(130 * MIN, "en")).toBe("2h 10m");
    expect(duration(130 * MIN, "ru")).toBe("2 ч 10 мин");
    expect(duration(119.9 * MIN, "en")).toBe("1h 59m");
    expect(duration(47.99 * 60 * MIN, "en")).toBe("1d 23h");
    expect(duration(3 * 24 * 60 * MIN, "ru")).toBe("3 дня");
    expect(duration(35 * MIN, "en")).toBe("35 minutes");
  });

  it("classifies the SLA clock", () => {
    const now = 1_000_000_000;
    expect(slaState(null, null, now)).toEqual({ kind: "none" });
    expect(slaState(now + 10 * MIN, now - 1, now)).toEqual({ kind: "answered" });
    expect(slaState(now + 10 * MIN, null, now)).toEqual({ kind: "due", ms: 10 * MIN, soon: true });
    expect(slaState(now + 90 * MIN, null, now)).toEqual({ kind: "due", ms: 90 * MIN, soon: false });
    expect(slaState(now - 5 * MIN, null, now)).toEqual({ kind: "overdue", ms: 5 * MIN });
  });

  it("formats talk time", () => {
    expect(clock(65)).toBe("1:05");
    expect(clock(3725)).toBe("1:02:05");
  });
});

describe("search snippets", () => {
  it("splits marked words into segments without interpreting HTML", () => {
    expect(segments("Где мой \u0002заказ\u0003 <b>?")).toEqual([
      { text: "Где мой ", mark: false },
      { text: "заказ", mark: true },
      { text: " <b>?", mark: false },
    ]);
    expect(segments("")).toEqual([]);
  });
});

describe("virtual list", () => {
  it("covers the viewport plus overscan and clamps to the list", () => {
    expect(visibleRange(0, 640, 64, 100_000, 2)).toEqual({ first: 0, last: 12 });
    expect(visibleRange(64 * 500, 640, 64, 100_000, 2)).toEqual({ first: 498, last: 512 });
    expect(visibleRange(64 * 99_995, 640, 64, 100_000, 2)).toEqual({ first: 99_993, last: 99_999 });
    expect(visibleRange(0, 640, 64, 0)).toEqual({ first: 0, last: -1 });
  });

  it("asks only for the pages it shows", () => {
    expect(pagesFor({ first: 95, last: 210 }, 100)).toEqual([0, 1, 2]);
    expect(pagesFor({ first: 0, last: -1 }, 100)).toEqual([]);
  });
});

describe("customer activity chart", () => {
  it("counts contacts per month over the last twelve months", () => {
    const now = Date.UTC(2026, 10, 20);
    const bars = contactsPerMonth([Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 19), Date.UTC(2026, 0, 5), Date.UTC(2024, 0, 1)], now);
    expect(bars).toHaveLength(12);
    expect(bars[11]).toEqual({ year: 2026, month: 10, count: 2 });
    expect(bars[1]).toEqual({ year: 2026, month: 0, count: 1 });
    expect(bars.reduce((n, b) => n + b.count, 0)).toBe(3);
  });
});
