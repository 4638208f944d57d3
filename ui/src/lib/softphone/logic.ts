// The softphone's pure rules: timers, quality grades, the disposition picker's search and
// keyboard movement, phone numbers in text, counts in words. No Svelte, no backend: tested alone.
import type { Locale } from "../i18n/index.svelte";
import { clock, ruPlural } from "../format";
import type { AccountStatus, CallHistoryEntry, LiveQuality, PhoneCall, DispositionNode, RegistrationState } from "./contract";

/** "0:42", "12:05", "1:02:09": a call's time since it was answered (or since it started, while ringing). */
export function callTimer(call: Pick<PhoneCall, "started_at" | "answered_at">, now: number): string {
  const from = call.answered_at ?? call.started_at;
  return clock(Math.max(0, Math.floor((now - from) / 1000)));
}

export type Grade = "good" | "fair" | "poor";

/**
 * How the line sounds, from the media figures: MOS decides, and loss or jitter beyond what a
 * jitter buffer hides pulls the grade down (a good MOS estimate can lag a sudden burst).
 */
export function gradeQuality(q: LiveQuality | null): Grade | null {
  if (!q) return null;
  const byMos: Grade = q.mos >= 4.0 ? "good" : q.mos >= 3.6 ? "fair" : "poor";
  const byLoss: Grade = q.loss_pct > 5 ? "poor" : q.loss_pct > 1 ? "fair" : "good";
  const byJitter: Grade = q.jitter_ms > 60 ? "poor" : q.jitter_ms > 30 ? "fair" : "good";
  const rank = { good: 0, fair: 1, poor: 2 } as const;
  return [byMos, byLoss, byJitter].reduce((worst, g) => (rank[g] > rank[worst] ? g : worst), "good" as Grade);
}

/** "MOS 4.2 · loss 0.3% · jitter 12 ms · RTT 48 ms" (the quality indicator's tooltip). */
export function qualityDetail(q: LiveQuality, loc: Locale): string {
  const n = (x: number, d: number) => x.toLocaleString(loc === "ru" ? "ru-RU" : "en-GB", { minimumFractionDigits: d, maximumFractionDigits: d });
  return loc === "ru"
    ? `MOS ${n(q.mos, 1)} · потери ${n(q.loss_pct, 1)}% · джиттер ${n(q.jitter_ms, 0)} мс · RTT ${n(q.rtt_ms, 0)} мс`
    : `MOS ${n(q.mos, 1)} · loss ${n(q.loss_pct, 1)}% · jitter ${n(q.jitter_ms, 0)} ms · RTT ${n(q.rtt_ms, 0)} ms`;
}

/** Seconds left of the wrap-up limit (negative once it is over). */
export function wrapUpLeft(wrap: { started_at: number; limit_s: number }, now: number): number {
  return wrap.limit_s - Math.floor((now - wrap.started_at) / 1000);
}

/** The window's one registration state: registered if any enabled account is; else the most telling. */
export function overallRegistration(accounts: AccountStatus[]): RegistrationState | "none" {
  if (accounts.length === 0) return "none";
  const order: RegistrationState[] = ["registered", "registering", "failed", "unregistered"];
  return order.find((s) => accounts.some((a) => a.state === s)) ?? "unregistered";
}

/** Redial: the last number I dialled, else the last number that called. */
export function redialNumber(history: CallHistoryEntry[]): string | null {
  return (history.find((h) => h.direction === "outbound") ?? history[0])?.remote_number ?? null;
}

// ---- The disposition picker ----

export type DispositionGroup = { group: DispositionNode; options: DispositionNode[] };

const norm = (s: string) => s.toLowerCase().replace(/ё/g, "е");

/**
 * The tree filtered by the operator's words: a word matches the start of any word of the
 * category or of the option ("дост" finds "Статус доставки", "покуп возв" finds "Покупатель →
 * Возврат"). A category without children is its own option.
 */
export function filterDispositions(tree: DispositionNode[], query: string): DispositionGroup[] {
  const words = norm(query).split(/\s+/).filter(Boolean);
  const hit = (text: string) => {
    const have = norm(text).split(/[\s/,()«»"-]+/).filter(Boolean);
    return words.every((w) => have.some((h) => h.startsWith(w)));
  };
  const out: DispositionGroup[] = [];
  for (const group of tree) {
    const leaves = group.children.length ? group.children : [group];
    const options = words.length === 0 ? leaves : leaves.filter((o) => hit(o === group ? group.label : `${group.label} ${o.label}`));
    if (options.length) out.push({ group, options });
  }
  return out;
}

/** The options in screen order (what ↑/↓ walk through). */
export function flatOptions(groups: DispositionGroup[]): DispositionNode[] {
  return groups.flatMap((g) => g.options);
}

/**
 * The option ↑/↓/Home/End lands on from `current` (null: nothing active yet). Moving past
 * either end stops there; PageUp/PageDown jump to the previous/next category's first option.
 */
export function moveActive(groups: DispositionGroup[], current: string | null, key: "ArrowDown" | "ArrowUp" | "Home" | "End" | "PageDown" | "PageUp"): string | null {
  const flat = flatOptions(groups);
  if (flat.length === 0) return null;
  const i = flat.findIndex((o) => o.id === current);
  switch (key) {
    case "Home": return flat[0].id;
    case "End": return flat[flat.length - 1].id;
    case "ArrowDown": return flat[i < 0 ? 0 : Math.min(flat.length - 1, i + 1)].id;
    case "ArrowUp": return flat[i < 0 ? flat.length - 1 : Math.max(0, i - 1)].id;
    case "PageDown":
    case "PageUp": {
      const g = groups.findIndex((x) => x.options.some((o) => o.id === current));
      const next = key === "PageDown" ? Math.min(groups.length - 1, g + 1) : Math.max(0, g < 0 ? 0 : g - 1);
      return groups[next].options[0].id;
    }
  }
}

/** "Покупатель → Статус доставки" for an option id. */
export function dispositionPath(tree: DispositionNode[], id: string): string | null {
  for (const g of tree) {
    if (g.id === id) return g.label;
    const c = g.children.find((x) => x.id === id);
    if (c) return `${g.label} → ${c.label}`;
  }
  return null;
}

// ---- Words with counts ----

/** "1 missed call", "3 missed calls"; "1 пропущенный звонок", "3 пропущенных звонка", "5 пропущенных звонков". */
export function missedCalls(n: number, loc: Locale): string {
  if (loc === "ru") return `${n} ${ruPlural(n, "пропущенный звонок", "пропущенных звонка", "пропущенных звонков")}`;
  return `${n} missed ${n === 1 ? "call" : "calls"}`;
}

/** "2 open tickets"; "1 открытое обращение", "2 открытых обращения", "5 открытых обращений". */
export function openTickets(n: number, loc: Locale): string {
  if (loc === "ru") return `${n} ${ruPlural(n, "открытое обращение", "открытых обращения", "открытых обращений")}`;
  return `${n} open ${n === 1 ? "ticket" : "tickets"}`;
}

/** Seconds as "1:05" left; "0:00" once over. */
export function countdown(secs: number): string {
  return clock(Math.max(0, secs));
}

// ---- Phone numbers in text (click-to-call in tickets) ----

export type TextPiece = { text: string; phone: boolean };

/**
 * Splits text into plain pieces and phone numbers. A phone number starts with "+" or has
 * separators ("8 (915) 123-45-67", "+44 20 7946 0958") and has 10 to 15 digits, so order
 * numbers, tax ids and tracking codes stay text.
 */
export function phonePieces(text: string): TextPiece[] {
  const re = /(?<![\w+])(\+?\d[\d\s\-().]{7,20}\d)(?![\w])/g;
  const out: TextPiece[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    const raw = m[1];
    const n = raw.replace(/\D/g, "").length;
    const grouped = raw.startsWith("+") || /[\s\-()]/.test(raw);
    if (n < 10 || n > 15 || !grouped || /\n/.test(raw) || raw.includes(".")) continue;
    const at = m.index ?? 0;
    if (at > last) out.push({ text: text.slice(last, at), phone: false });
    out.push({ text: raw, phone: true });
    last = at + raw.length;
  }
  if (last < text.length) out.push({ text: text.slice(last), phone: false });
  return out;
}
