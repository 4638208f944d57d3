// The current language and `t(key, params)`. Components re-render when the language changes
// because `t` reads the reactive locale.
import { en, type MessageKey } from "./en";
import { ru } from "./ru";

export type Locale = "en" | "ru";
export const dictionaries: Record<Locale, Record<MessageKey, string>> = { en, ru };

function initialLocale(): Locale {
  const saved = typeof localStorage !== "undefined" ? localStorage.getItem("okno.locale") : null;
  if (saved === "en" || saved === "ru") return saved;
  const nav = typeof navigator !== "undefined" ? navigator.language : "en";
  return nav.toLowerCase().startsWith("ru") ? "ru" : "en";
}

const state = $state({ locale: initialLocale() });

export function locale(): Locale {
  return state.locale;
}

export function setLocale(next: Locale): void {
  state.locale = next;
  if (typeof localStorage !== "undefined") localStorage.setItem("okno.locale", next);
  if (typeof document !== "undefined") document.documentElement.lang = next;
}

export function format(template: string, params?: Record<string, string | number>): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

export function t(key: MessageKey, params?: Record<string, string | number>): string {
  return format(dictionaries[state.locale][key], params);
}

/** Whether `key` is a message key (for keys built from backend values). */
export function isKey(key: string): key is MessageKey {
  return key in dictionaries.en;
}
