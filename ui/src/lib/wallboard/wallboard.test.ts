import { describe, expect, it } from "vitest";
import { abandonLevel, dayStart, duration, percent, serviceLevelLevel, waitLevel } from "./wallboard";

describe("the wallboard's colours and numbers", () => {
  it("judges service level, abandons and waits against the centers' goals", () => {
    expect([0.97, 0.95, 0.9, 0.5, null].map(serviceLevelLevel)).toEqual(["ok", "ok", "warn", "bad", "none"]);
    expect([0, 0.01, 0.03, 0.2, null].map(abandonLevel)).toEqual(["ok", "ok", "warn", "bad", "none"]);
    expect([0, 20_000, 45_000, 61_000].map(waitLevel)).toEqual(["ok", "ok", "warn", "bad"]);
  });

  it("writes shares and durations as a wallboard shows them", () => {
    expect([1 / 3, 0.95, 1, null].map(percent)).toEqual(["33.3 %", "95 %", "100 %", "—"]);
    expect([0, 8_400, 95_000, 3_725_000].map(duration)).toEqual(["0:00", "0:08", "1:35", "1:02:05"]);
  });

  it("counts today from local midnight", () => {
    const noon = new Date(2026, 11, 7, 12, 30).getTime();
    expect(dayStart(noon)).toBe(new Date(2026, 11, 7).getTime());
  });
});
