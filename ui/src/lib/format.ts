// Numbers, times and durations for people, in English and Russian (with Russian plural forms).
import type { Locale } from "./i18n/index.svelte";
import type { TicketStatus } from "./backend/bindings";

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

/** "1 unsent change" / "3 несохранённых изменения". */
export function changesWord(n: number, loc: Locale): string {
  return loc === "ru" ? ruPlural(n, "изменение", "изменения", "изменений") : n === 1 ? "change" : "changes";
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * A span of time, compactly: "35m", "2h 10m", "1d 3h"; in Russian minutes are words with the
 * right plural ("1 минута", "2 минуты", "5 минут"), longer spans "2 ч 10 мин", "3 дня 2 ч".
 */
export function duration(ms: number, loc: Locale): string {
  const abs = Math.abs(ms);
  if (abs < HOUR) {
    const m = Math.max(1, Math.floor(abs / MINUTE));
    return loc === "ru" ? `${m} ${ruPlural(m, "минута", "минуты", "минут")}` : `${m}m`;
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

export type SlaState = { kind: "none" } | { kind: "due"; ms: number; soon: boolean } | { kind: "overdue"; ms: number };

/**
 * Where a ticket stands against its pending first-response deadline at `now`. The store clears
 * `sla_due_at` once the ticket is answered or no longer new/open; this checks both anyway.
 */
export function slaState(dueAt: number | null, firstResponseAt: number | null, status: TicketStatus, now: number): SlaState {
  if (dueAt === null || firstResponseAt !== null || (status !== "new" && status !== "open")) return { kind: "none" };
  const left = dueAt - now;
  if (left < 0) return { kind: "overdue", ms: -left };
  return { kind: "due", ms: left, soon: left < HOUR };
}

/** "in 2h 10m" / "overdue 35m"; "ещё 2 ч 10 мин" / "просрочка 35 минут" (nominative: "ещё 1 минута"). */
export function slaText(sla: SlaState, loc: Locale): string {
  if (sla.kind === "none") return "";
  const d = duration(sla.ms, loc);
  if (sla.kind === "overdue") return loc === "ru" ? `просрочка ${d}` : `overdue ${d}`;
  return loc === "ru" ? `ещё ${d}` : `in ${d}`;
}

const tag = (loc: Locale) => (loc === "ru" ? "ru-RU" : "en-GB");

export function dateTime(ms: number, loc: Locale): string {
  return new Intl.DateTimeFormat(tag(loc), { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(ms);
}

export function time(ms: number, loc: Locale): string {
  return new Intl.DateTimeFormat(tag(loc), { hour: "2-digit", minute: "2-digit" }).format(ms);
}

export function date(ms: number, loc: Locale): string {
  return new Intl.DateTimeFormat(tag(loc), { day: "numeric", month: "short", year: "numeric" }).format(ms);
}

/** "today 14:05", "yesterday", "3 days ago", "12 Mar" — for lists where the exact time matters less. */
export function ago(ms: number, now: number, loc: Locale): string {
  const diff = now - ms;
  const rtf = new Intl.RelativeTimeFormat(tag(loc), { numeric: "auto" });
  if (diff < HOUR) return rtf.format(-Math.max(1, Math.floor(diff / MINUTE)), "minute");
  if (diff < DAY) return rtf.format(-Math.floor(diff / HOUR), "hour");
  if (diff < 7 * DAY) return rtf.format(-Math.floor(diff / DAY), "day");
  return new Intl.DateTimeFormat(tag(loc), { day: "numeric", month: "short", ...(diff > 300 * DAY ? { year: "numeric" } : {}) }).format(ms);
}

/** An amount in its currency; `whole` rounds to whole units (for totals where kopecks are noise). */
export function money(cents: number, currency: string, loc: Locale, whole = false): string {
  const digits = whole || cents % 100 === 0 ? 0 : 2;
  try {
    return new Intl.NumberFormat(tag(loc), { style: "currency", currency, currencyDisplay: "narrowSymbol", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(whole ? Math.round(cents / 100) : cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

/** 950, 9,950, 12K, 1.2M: for badges where space is short. */
export function compact(n: number, loc: Locale): string {
  return n < 10_000 ? count(n, loc) : new Intl.NumberFormat(tag(loc), { notation: "compact", maximumFractionDigits: 1 }).format(n);
}

export function count(n: number, loc: Locale): string {
  return new Intl.NumberFormat(tag(loc)).format(n);
}

export function bytes(n: number, loc: Locale): string {
  const units = loc === "ru" ? ["Б", "КБ", "МБ", "ГБ"] : ["B", "KB", "MB", "GB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  const num = new Intl.NumberFormat(tag(loc), { maximumFractionDigits: u === 0 || v >= 10 ? 0 : 1 }).format(v);
  return `${num} ${units[u]}`;
}

/** "Анна Смирнова" → "АС". */
export function initials(name: string): string {
  return name
    .split(/\s+/)
    // Words that start with a letter or digit: "Pavel (website)" is "P", not "P(".
    .filter((w) => /^[\p{L}\p{N}]/u.test(w))
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? "")
    .join("");
}

/** A web page as a call card shows it: host and path, no scheme or query ("shop.ru/cart"). */
export function pageLabel(url: string, max = 48): string {
  let label: string;
  try {
    const u = new URL(url);
    label = u.host + (u.pathname === "/" ? "" : u.pathname);
  } catch {
    label = url;
  }
  return label.length > max ? label.slice(0, max - 1) + "…" : label;
}
