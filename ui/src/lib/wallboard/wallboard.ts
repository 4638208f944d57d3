// The wallboard's judgement of its figures: which colour a number gets. The centers' goals:
// 95 % of calls answered within 20 s, at most 1 % missed; a wait past 20 s is late, past a
// minute is bad.

export type Level = "ok" | "warn" | "bad" | "none";

/** Service level (0..1) against the 95 % goal: under 80 % is bad. */
export function serviceLevelLevel(sl: number | null): Level {
  if (sl === null) return "none";
  return sl >= 0.95 ? "ok" : sl >= 0.8 ? "warn" : "bad";
}

/** Abandoned share (0..1) against the 1 % goal: over 5 % is bad. */
export function abandonLevel(rate: number | null): Level {
  if (rate === null) return "none";
  return rate <= 0.01 ? "ok" : rate <= 0.05 ? "warn" : "bad";
}

/** The longest wait now. */
export function waitLevel(ms: number): Level {
  return ms <= 20_000 ? "ok" : ms <= 60_000 ? "warn" : "bad";
}

/** A share as "87 %" (or "—" with nothing to count). */
export function percent(share: number | null): string {
  return share === null ? "—" : `${Math.floor(share * 1000) / 10} %`.replace(".0 %", " %");
}

/** A duration as m:ss (h:mm:ss past an hour). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

/** Local midnight of the day `now` falls in: "today" on the wallboard. */
export function dayStart(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}
