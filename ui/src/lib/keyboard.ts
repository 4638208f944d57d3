// Every shortcut, in one table: the `?` overlay lists it, `KeyRouter` dispatches from it, and
// the window's handler map must cover every action (the type checker enforces that).
// Letters match by physical key too (`KeyJ`), so they work with a Russian keyboard layout.
import type { MessageKey } from "./i18n/en";

export type ActionId =
  | "next" | "prev" | "reply" | "note" | "assignMe" | "close" | "reopen" | "search" | "searchSlash"
  | "available" | "break" | "wrapUp" | "offline" | "inbox" | "theme" | "language" | "help" | "escape"
  | "answer" | "hangup" | "hold" | "mute" | "transfer" | "dtmf" | "redial" | "wrapSubmit" | "dialFocus" | "work" | "templates" | "wallboard" | "notices";

export type KeyboardLike = { key: string; code?: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; shiftKey: boolean };

export type Shortcut = {
  id: ActionId;
  /** How the overlay shows it: keys pressed together are joined by "+", alternatives by " / ", a sequence by a space. */
  keys: string;
  label: MessageKey;
  /** Also works while the focus is in a text field. */
  inInputs?: boolean;
  /** One press, or a prefix key then a key (like "g" then "i"). */
  match: ((e: KeyboardLike) => boolean) | { prefix: string; then: (e: KeyboardLike) => boolean };
};

const noMods = (e: KeyboardLike) => !e.ctrlKey && !e.metaKey && !e.altKey;
/** A letter without modifiers, on any layout. */
const letter = (l: string) => (e: KeyboardLike) => noMods(e) && !e.shiftKey && (e.key === l || e.code === `Key${l.toUpperCase()}`);
const named = (key: string) => (e: KeyboardLike) => noMods(e) && e.key === key;
const alt = (digit: string) => (e: KeyboardLike) => e.altKey && !e.ctrlKey && !e.metaKey && (e.key === digit || e.code === `Digit${digit}`);
/** Alt and a letter, on any layout; works while typing (call notes), never with Ctrl (AltGr). */
const altLetter = (l: string) => (e: KeyboardLike) => e.altKey && !e.ctrlKey && !e.metaKey && !e.shiftKey && (e.key.toLowerCase() === l || e.code === `Key${l.toUpperCase()}`);
const either = (...ms: Array<(e: KeyboardLike) => boolean>) => (e: KeyboardLike) => ms.some((m) => m(e));

export const SHORTCUTS: Shortcut[] = [
  { id: "next", keys: "j / ↓", label: "key.next", match: either(letter("j"), named("ArrowDown")) },
  { id: "prev", keys: "k / ↑", label: "key.prev", match: either(letter("k"), named("ArrowUp")) },
  { id: "reply", keys: "r", label: "key.reply", match: letter("r") },
  { id: "note", keys: "n", label: "key.note", match: letter("n") },
  { id: "assignMe", keys: "a", label: "key.assignMe", match: letter("a") },
  { id: "close", keys: "e", label: "key.close", match: letter("e") },
  { id: "reopen", keys: "o", label: "key.reopen", match: letter("o") },
  { id: "search", keys: "Ctrl+K", label: "key.search", inInputs: true, match: (e) => (e.ctrlKey || e.metaKey) && !e.altKey && (e.key.toLowerCase() === "k" || e.code === "KeyK") },
  { id: "searchSlash", keys: "/", label: "key.searchSlash", match: (e) => noMods(e) && e.key === "/" },
  { id: "available", keys: "Alt+1", label: "key.available", match: alt("1") },
  { id: "break", keys: "Alt+2", label: "key.break", match: alt("2") },
  { id: "wrapUp", keys: "Alt+3", label: "key.wrapUp", match: alt("3") },
  { id: "offline", keys: "Alt+4", label: "key.offline", match: alt("4") },
  { id: "inbox", keys: "g i", label: "key.inbox", match: { prefix: "g", then: letter("i") } },
  { id: "work", keys: "g w", label: "key.work", match: { prefix: "g", then: letter("w") } },
  { id: "wallboard", keys: "g b", label: "key.wallboard", match: { prefix: "g", then: letter("b") } },
  { id: "notices", keys: "g n", label: "key.notices", match: { prefix: "g", then: letter("n") } },
  // In the reply box too: the operator reaches for a template while writing.
  { id: "templates", keys: "Ctrl+Shift+T", label: "key.templates", inInputs: true, match: (e) => (e.ctrlKey || e.metaKey) && e.shiftKey && !e.altKey && (e.key.toLowerCase() === "t" || e.code === "KeyT") },
  { id: "theme", keys: "t", label: "key.theme", match: letter("t") },
  { id: "language", keys: "l", label: "key.language", match: letter("l") },
  { id: "help", keys: "?", label: "key.help", match: (e) => !e.ctrlKey && !e.metaKey && !e.altKey && e.key === "?" },
  // The phone: Alt+letter so they also work while the operator types notes or a reply.
  { id: "answer", keys: "Alt+A", label: "key.answer", inInputs: true, match: altLetter("a") },
  { id: "hangup", keys: "Alt+X", label: "key.hangup", inInputs: true, match: altLetter("x") },
  { id: "hold", keys: "Alt+H", label: "key.hold", inInputs: true, match: altLetter("h") },
  { id: "mute", keys: "Alt+M", label: "key.mute", inInputs: true, match: altLetter("m") },
  { id: "transfer", keys: "Alt+T", label: "key.transfer", inInputs: true, match: altLetter("t") },
  { id: "dtmf", keys: "Alt+D", label: "key.dtmf", inInputs: true, match: altLetter("d") },
  { id: "redial", keys: "Alt+R", label: "key.redial", inInputs: true, match: altLetter("r") },
  { id: "wrapSubmit", keys: "Alt+S", label: "key.wrapSubmit", inInputs: true, match: altLetter("s") },
  { id: "dialFocus", keys: "Alt+N", label: "key.dialFocus", inInputs: true, match: altLetter("n") },
  { id: "escape", keys: "Esc", label: "key.escape", inInputs: true, match: (e) => e.key === "Escape" },
];

/** How long a prefix key (the "g" of "g i") waits for its second key. */
export const SEQUENCE_MS = 1500;

/**
 * Turns key presses into actions from `SHORTCUTS`, remembering a pending prefix key.
 * Time is passed in so tests are exact.
 */
export class KeyRouter {
  #prefix: { key: string; at: number } | null = null;

  /** The action for this press, or null. `typing`: the focus is in a text field. */
  press(e: KeyboardLike, typing: boolean, now: number): ActionId | null {
    const pending = this.#prefix && now - this.#prefix.at <= SEQUENCE_MS ? this.#prefix.key : null;
    this.#prefix = null;
    for (const s of SHORTCUTS) {
      if (typing && !s.inInputs) continue;
      if (typeof s.match === "function") {
        if (!pending && s.match(e)) return s.id;
      } else if (pending === s.match.prefix && s.match.then(e)) {
        return s.id;
      }
    }
    if (!typing && !pending) {
      const prefix = SHORTCUTS.find((s) => typeof s.match !== "function" && letter(s.match.prefix)(e));
      if (prefix && typeof prefix.match !== "function") this.#prefix = { key: prefix.match.prefix, at: now };
    }
    return null;
  }

  /** A prefix key is waiting for its second key (so the caller can swallow the press). */
  get pending(): boolean {
    return this.#prefix !== null;
  }
}

/** The action for a single press with no prefix pending (for tests and simple callers). */
export function actionFor(e: KeyboardLike, typing: boolean): ActionId | null {
  return new KeyRouter().press(e, typing, 0);
}
