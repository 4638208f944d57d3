import { describe, expect, it } from "vitest";
import { blankPolicy, holidaysFromText, hoursToMinutes, minutesToHours } from "./sla";

describe("the SLA policy form", () => {
  it("starts a policy with the targets these centers promise", () => {
    const p = blankPolicy(1_796_626_800_000, "Office");
    expect(p.targets.map((t) => [t.tier, t.first_response_minutes])).toEqual([["premium", 240], [null, 480]]);
    expect(p.calendar.week.filter((d) => d !== null)).toHaveLength(5);
  });

  it("reads hours as working minutes and shows minutes as hours", () => {
    expect(hoursToMinutes("4")).toBe(240);
    expect(hoursToMinutes("1,5")).toBe(90);
    expect(hoursToMinutes("0")).toBe(1);
    expect(hoursToMinutes("x")).toBe(1);
    expect(minutesToHours(1620)).toBe(27);
    expect(minutesToHours(100)).toBe(1.67);
  });

  it("reads holidays one per line or separated by commas", () => {
    expect(holidaysFromText("2027-01-01\n\n2027-01-07, 2027-02-23")).toEqual(["2027-01-01", "2027-01-07", "2027-02-23"]);
  });
});
