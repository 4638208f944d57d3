// The SLA policy form's pure parts: a new policy as the centers we build for start (4 h premium,
// 8 h standard, Monday to Friday 9 to 18 in Moscow), hours ⇄ working minutes, and the holiday
// list typed one date per line.
import type { SlaPolicySpec } from "../backend";

export function blankPolicy(now: number, name: string): SlaPolicySpec {
  const day = () => ({ open: "09:00", close: "18:00" });
  return {
    id: `sla-${now.toString(36)}`,
    name,
    calendar: { time_zone: "Europe/Moscow", week: [day(), day(), day(), day(), day(), null, null], holidays: [] },
    targets: [
      { tier: "premium", channel: null, priority: null, first_response_minutes: 240, resolution_minutes: 3 * 9 * 60 },
      { tier: null, channel: null, priority: null, first_response_minutes: 480, resolution_minutes: 5 * 9 * 60 },
    ],
  };
}

/** "1.5" (hours, comma or point) → 90 working minutes; at least one minute. */
export function hoursToMinutes(hours: string): number {
  const n = Number(hours.replace(",", "."));
  return Number.isFinite(n) ? Math.max(1, Math.round(n * 60)) : 1;
}

export function minutesToHours(minutes: number): number {
  return Math.round((minutes / 60) * 100) / 100;
}

/** One date per line (or separated by commas/spaces), empty lines skipped; the server checks the format. */
export function holidaysFromText(text: string): string[] {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}
