// Numbers, times and durations for people, in English and Russian (with Russian plural forms).
import type { Locale } from "./i18n/index.svelte";

/** Russian plural form: 1 минута, 2 минуты, 5 минут, 21 минута, 11 минут. */
export function ruPlural(n: number, one: string, few: string, many: string): string {
  const mod10 = n % 10;
  const mod100 = n % 100;
  if (mod10 === 1 && mod100 !== 11) return one;
  if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) return few;
  return many;
}

/** "1 ticket" / "5 tickets"; "1 обращение" / "3 обращения" / "5 обращений". */
export function ticketsWord(n: number, loc: Locale): string {
  return loc === "ru" ? ruPlural(n, "обращение", "обращения", "обращений") : n === 1 ? "ticket" : "tickets";
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A span of time, compactly: "2h 10m" / "2 ч 10 мин"; under an hour in words: "35 minutes" / "35 минут". */
export function duration(ms: number, loc: Locale): string {
  const abs = Math.abs(ms);
  if (abs < HOUR) {
    const m = Math.max(1, Math.round(abs / MINUTE));
    return loc === "ru" ? `${m} ${ruPlural(m, "минута", "минуты", "минут")}` : `${m} ${m === 1 ? "minute" : "minutes"}`;
  }
  if (abs < DAY) {
    const h = Math.floor(abs / HOUR);
    const m = Math.floor((abs % HOUR) / MINUTE);
    if (loc === "ru") return m ? `${h} ч ${m} мин` : `${h} ч`;
    return m ? `${h}h ${m}m` : `${h}h`;
  }
  const d = Math.floor(abs / DAY);
  const h = Math.floor((abs % DAY) / HOUR);
  if (loc === "ru") return `${d} ${ruPlural(d, "день", "дня", "дней")}${h ? ` ${h} ч` : ""}`;
  return `${d}d${h ? ` ${h}h` : ""}`;
}

/** Seconds of talk as m:ss or h:mm:ss. */
export function clock(secs: number): string {
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = Math.floor(secs % 60);
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

export type SlaState = { kind: "none" } | { kind: "answered" } | { kind: "due"; ms: number; soon: boolean } | { kind: "overdue"; ms: number };

/** Where a ticket stands against its first-response SLA at `now`. */
export function slaState(dueAt: number | null, firstResponseAt: number | null, now: number): SlaState {
  if (firstResponseAt !== null) return { kind: "answered" };
  if (dueAt === null) return { kind: "none" };
  const left = dueAt - now;
  if (left < 0) return { kind: "overdue", ms: -left };
  return { kind: "due", ms: left, soon: left < HOUR };
}

export function dateTime(ms: number, loc: Locale): string {
  return new Intl.DateTimeFormat(loc === "ru" ? "ru-RU" : "en-GB", {
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  }).format(ms);
}

export function date(ms: number, loc: Locale): string {
  return new Intl.DateTimeFormat(loc === "ru" ? "ru-RU" : "en-GB", { day: "numeric", month: "short", year: "numeric" }).format(ms);
}

export function money(cents: number, currency: string, loc: Locale): string {
  return new Intl.NumberFormat(loc === "ru" ? "ru-RU" : "en-US", { style: "currency", currency, maximumFractionDigits: 0 }).format(cents / 100);
}

export function count(n: number, loc: Locale): string {
  return new Intl.NumberFormat(loc === "ru" ? "ru-RU" : "en-US").format(n);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
