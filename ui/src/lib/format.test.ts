import { describe, expect, it } from "vitest";
import { bytes, changesWord, clock, compact, duration, initials, money, pageLabel, ruPlural, slaState, slaText, ticketsWord, MINUTE, HOUR } from "./format";
import { contactsPerMonth } from "./customer/activity";

describe("durations and plurals", () => {
  it("uses Russian plural forms", () => {
    expect(duration(1 * MINUTE, "ru")).toBe("1 минута");
    expect(duration(2 * MINUTE, "ru")).toBe("2 минуты");
    expect(duration(5 * MINUTE, "ru")).toBe("5 минут");
    expect(duration(11 * MINUTE, "ru")).toBe("11 минут");
    expect(duration(12 * MINUTE, "ru")).toBe("12 минут");
    expect(duration(21 * MINUTE, "ru")).toBe("21 минута");
    expect(duration(34 * MINUTE, "ru")).toBe("34 минуты");
    expect(duration(3 * 24 * HOUR, "ru")).toBe("3 дня");
    expect(duration(5 * 24 * HOUR + 2 * HOUR, "ru")).toBe("5 дней 2 ч");
    expect(duration(21 * 24 * HOUR, "ru")).toBe("21 день");
    expect(ruPlural(112, "a", "b", "c")).toBe("c");
    expect(ruPlural(0, "a", "b", "c")).toBe("c");
    expect(ticketsWord(3, "ru")).toBe("обращения");
    expect(ticketsWord(25, "ru")).toBe("обращений");
    expect(ticketsWord(1, "en")).toBe("ticket");
    expect(changesWord(1, "ru")).toBe("изменение");
    expect(changesWord(2, "en")).toBe("changes");
  });

  it("is compact in English and never shows 60 minutes or 24 hours", () => {
    expect(duration(35 * MINUTE, "en")).toBe("35m");
    expect(duration(130 * MINUTE, "en")).toBe("2h 10m");
    expect(duration(130 * MINUTE, "ru")).toBe("2 ч 10 мин");
    expect(duration(2 * HOUR, "en")).toBe("2h");
    expect(duration(119.9 * MINUTE, "en")).toBe("1h 59m");
    expect(duration(59.99 * MINUTE, "en")).toBe("59m");
    expect(duration(47.99 * HOUR, "en")).toBe("1d 23h");
    expect(duration(10_000, "en")).toBe("1m");
  });

  it("formats talk time", () => {
    expect(clock(0)).toBe("0:00");
    expect(clock(65)).toBe("1:05");
    expect(clock(3725)).toBe("1:02:05");
  });
});

describe("SLA", () => {
  const now = 1_800_000_000_000;
  it("classifies the pending deadline", () => {
    expect(slaState(null, null, "new", now)).toEqual({ kind: "none" });
    expect(slaState(now + 10 * MINUTE, now - 1, "open", now)).toEqual({ kind: "none" });
    expect(slaState(now + 10 * MINUTE, null, "pending", now)).toEqual({ kind: "none" });
    expect(slaState(now + 10 * MINUTE, null, "new", now)).toEqual({ kind: "due", ms: 10 * MINUTE, soon: true });
    expect(slaState(now + 90 * MINUTE, null, "open", now)).toEqual({ kind: "due", ms: 90 * MINUTE, soon: false });
    expect(slaState(now - 5 * MINUTE, null, "open", now)).toEqual({ kind: "overdue", ms: 5 * MINUTE });
  });

  it("says it in both languages", () => {
    const due = slaState(now + 130 * MINUTE, null, "open", now);
    const late = slaState(now - 35 * MINUTE, null, "open", now);
    expect(slaText(due, "en")).toBe("in 2h 10m");
    expect(slaText(late, "en")).toBe("overdue 35m");
    expect(slaText(due, "ru")).toBe("ещё 2 ч 10 мин");
    expect(slaText(late, "ru")).toBe("просрочка 35 минут");
    expect(slaText(slaState(now - 1 * MINUTE, null, "new", now), "ru")).toBe("просрочка 1 минута");
    expect(slaText(slaState(now + 2 * MINUTE, null, "new", now), "ru")).toBe("ещё 2 минуты");
    expect(slaText({ kind: "none" }, "en")).toBe("");
  });
});

describe("numbers", () => {
  it("formats money in the order's currency", () => {
    expect(money(15_990_000, "RUB", "ru").replace(/\s/g, " ")).toBe("159 900 ₽");
    expect(money(10_139, "EUR", "en")).toBe("€101.39");
    expect(money(10_889_796, "RUB", "ru", true).replace(/\s/g, " ")).toBe("108 898 ₽");
    expect(money(100, "XXX-not-a-currency", "en")).toBe("1.00 XXX-not-a-currency");
  });
  it("a caller's page as a call card shows it", () => {
    expect(pageLabel("https://shop.example/cart?item=5512#top")).toBe("shop.example/cart");
    expect(pageLabel("http://127.0.0.1:8080/")).toBe("127.0.0.1:8080");
    expect(pageLabel("https://shop.example/" + "a".repeat(80))).toHaveLength(48);
    expect(pageLabel("not a url")).toBe("not a url");
  });

  it("sizes, counts and initials", () => {
    expect(bytes(512, "en")).toBe("512 B");
    expect(bytes(1_284_113, "en")).toBe("1.2 MB");
    expect(bytes(88_402, "ru")).toBe("86 КБ");
    expect(compact(9_999, "en")).toBe("9,999");
    expect(compact(11_250, "en")).toMatch(/^11\.3k$/i);
    expect(initials("Анна Смирнова")).toBe("АС");
    expect(initials("  madonna ")).toBe("M");
    expect(initials("Pavel (website)")).toBe("P");
  });
});

describe("customer activity chart", () => {
  it("counts contacts per month over the last twelve months", () => {
    const now = Date.UTC(2026, 10, 20);
    const bars = contactsPerMonth([Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 19), Date.UTC(2026, 0, 5), Date.UTC(2024, 0, 1)], now);
    expect(bars).toHaveLength(12);
    expect(bars[11]).toEqual({ year: 2026, month: 10, count: 2 });
    expect(bars[0]).toEqual({ year: 2025, month: 11, count: 0 });
    expect(bars[1]).toEqual({ year: 2026, month: 0, count: 1 });
    expect(bars.reduce((n, b) => n + b.count, 0)).toBe(3);
  });
});
