// Every shortcut, in one table: the `?` overlay lists it and the window's handler map must
// cover every action (the type checker enforces that).
import type { MessageKey } from "./i18n/en";

export type ActionId =
  | "next" | "prev" | "reply" | "note" | "assignMe" | "close" | "reopen" | "search" | "searchSlash"
  | "available" | "break" | "wrapUp" | "offline" | "inbox" | "theme" | "language" | "help" | "escape";

export type Shortcut = {
  id: ActionId;
  /** How the overlay shows it. */
  keys: string;
  label: MessageKey;
  /** Also works while typing in a text field. */
  inInputs?: boolean;
  match: (e: KeyboardLike) => boolean;
};

export type KeyboardLike = { key: string; code?: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; shiftKey: boolean };

const plain = (key: string) => (e: KeyboardLike) => e.key === key && !e.ctrlKey && !e.metaKey && !e.altKey;
const alt = (digit: string) => (e: KeyboardLike) => e.altKey && !e.ctrlKey && (e.key === digit || e.code === `Digit${digit}`);

export const SHORTCUTS: Shortcut[] = [
  { id: "next", keys: "j / ↓", label: "key.next", match: (e) => plain("j")(e) || plain("ArrowDown")(e) },
  { id: "prev", keys: "k / ↑", label: "key.prev", match: (e) => plain("k")(e) || plain("ArrowUp")(e) },
  { id: "reply", keys: "r", label: "key.reply", match: plain("r") },
  { id: "note", keys: "n", label: "key.note", match: plain("n") },
  { id: "assignMe", keys: "a", label: "key.assignMe", match: plain("a") },
  { id: "close", keys: "e", label: "key.close", match: plain("e") },
  { id: "reopen", keys: "o", label: "key.reopen", match: plain("o") },
  { id: "search", keys: "Ctrl+K", label: "key.search", inInputs: true, match: (e) => (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k" },
  { id: "searchSlash", keys: "/", label: "key.searchSlash", match: plain("/") },
  { id: "available", keys: "Alt+1", label: "key.available", inInputs: true, match: alt("1") },
  { id: "break", keys: "Alt+2", label: "key.break", inInputs: true, match: alt("2") },
  { id: "wrapUp", keys: "Alt+3", label: "key.wrapUp", inInputs: true, match: alt("3") },
  { id: "offline", keys: "Alt+4", label: "key.offline", inInputs: true, match: alt("4") },
  { id: "inbox", keys: "i", label: "key.inbox", match: plain("i") },
  { id: "theme", keys: "t", label: "key.theme", match: plain("t") },
  { id: "language", keys: "l", label: "key.language", match: plain("l") },
  { id: "help", keys: "?", label: "key.help", match: (e) => e.key === "?" && !e.ctrlKey && !e.metaKey },
  { id: "escape", keys: "Esc", label: "key.escape", inInputs: true, match: (e) => e.key === "Escape" },
];

/** The action for a key press, honouring whether the focus is in a text field. */
export function actionFor(e: KeyboardLike, typing: boolean): ActionId | null {
  for (const s of SHORTCUTS) {
    if ((!typing || s.inInputs) && s.match(e)) return s.id;
  }
  return null;
}
