import { describe, expect, it } from "vitest";
import { SHORTCUTS, KeyRouter, SEQUENCE_MS, actionFor, type ActionId, type KeyboardLike } from "./keyboard";
import { en } from "./i18n/en";
import { ru } from "./i18n/ru";

const key = (k: string, mods: Partial<KeyboardLike> = {}): KeyboardLike => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });

/** One press that triggers each action (a prefix action gets its second key, after the prefix). */
const PRESSES: Record<ActionId, KeyboardLike[]> = {
  next: [key("j")], prev: [key("k")], reply: [key("r")], note: [key("n")], assignMe: [key("a")], close: [key("e")], reopen: [key("o")],
  search: [key("k", { ctrlKey: true })], searchSlash: [key("/")], available: [key("1", { altKey: true })], break: [key("2", { altKey: true })],
  wrapUp: [key("3", { altKey: true })], offline: [key("4", { altKey: true })], inbox: [key("g"), key("i")], theme: [key("t")],
  language: [key("l")], help: [key("?", { shiftKey: true, code: "Slash" })], escape: [key("Escape")],
  answer: [key("a", { altKey: true })], hangup: [key("x", { altKey: true })], hold: [key("h", { altKey: true })], mute: [key("m", { altKey: true })],
  transfer: [key("t", { altKey: true })], dtmf: [key("d", { altKey: true })], redial: [key("r", { altKey: true })],
  wrapSubmit: [key("s", { altKey: true })], dialFocus: [key("n", { altKey: true })],
  work: [key("g"), key("w")], wallboard: [key("g"), key("b")], notices: [key("g"), key("n")], templates: [key("T", { ctrlKey: true, shiftKey: true, code: "KeyT" })],
};

describe("the shortcut table", () => {
  it("has unique ids and keys, and a label in both languages for each", () => {
    expect(new Set(SHORTCUTS.map((s) => s.id)).size).toBe(SHORTCUTS.length);
    expect(new Set(SHORTCUTS.map((s) => s.keys)).size).toBe(SHORTCUTS.length);
    for (const s of SHORTCUTS) {
      expect(en[s.label], s.id).toBeTruthy();
      expect(ru[s.label], s.id).toBeTruthy();
    }
  });

  it("covers every action, and each action's press triggers exactly that action", () => {
    expect(SHORTCUTS.map((s) => s.id).sort()).toEqual((Object.keys(PRESSES) as ActionId[]).sort());
    for (const [id, presses] of Object.entries(PRESSES)) {
      const router = new KeyRouter();
      let got: ActionId | null = null;
      presses.forEach((p, i) => (got = router.press(p, false, i * 10)));
      expect(got, id).toBe(id);
    }
  });

  it("no single press matches two entries", () => {
    for (const presses of Object.values(PRESSES)) {
      const last = presses[presses.length - 1];
      const single = SHORTCUTS.filter((s) => typeof s.match === "function" && s.match(last));
      expect(single.length, last.key).toBeLessThanOrEqual(1);
    }
  });

  it("works on a Russian layout by physical key", () => {
    expect(actionFor(key("о", { code: "KeyJ" }), false)).toBe("next");
    expect(actionFor(key("к", { code: "KeyR" }), false)).toBe("reply");
    expect(actionFor(key("л", { code: "KeyK", ctrlKey: true }), true)).toBe("search");
  });
});

describe("the phone's shortcuts", () => {
  it("work while typing a note, on a Russian layout too, and not with AltGr (Ctrl+Alt)", () => {
    expect(actionFor(key("a", { altKey: true }), true)).toBe("answer");
    expect(actionFor(key("ф", { altKey: true, code: "KeyA" }), true)).toBe("answer");
    expect(actionFor(key("ч", { altKey: true, code: "KeyX" }), false)).toBe("hangup");
    expect(actionFor(key("a", { altKey: true, ctrlKey: true }), true)).toBeNull();
    // Plain letters stay what they were: "a" assigns, "t" switches the theme.
    expect(actionFor(key("a"), false)).toBe("assignMe");
    expect(actionFor(key("t"), false)).toBe("theme");
  });
});

describe("the key router", () => {
  it("ignores shortcuts while typing, except Esc and Ctrl+K", () => {
    expect(actionFor(key("e"), true)).toBeNull();
    expect(actionFor(key("/"), true)).toBeNull();
    expect(actionFor(key("k", { ctrlKey: true }), true)).toBe("search");
    expect(actionFor(key("Escape"), true)).toBe("escape");
    expect(actionFor(key("1", { altKey: true }), true)).toBeNull();
    expect(actionFor(key("1", { altKey: true }), false)).toBe("available");
    expect(actionFor(key("x"), false)).toBeNull();
    expect(actionFor(key("ArrowUp"), false)).toBe("prev");
    expect(actionFor(key("j", { ctrlKey: true }), false)).toBeNull();
  });

  it("runs g then i as one shortcut, within the time limit only", () => {
    const r = new KeyRouter();
    expect(r.press(key("g"), false, 0)).toBeNull();
    expect(r.pending).toBe(true);
    expect(r.press(key("i"), false, 500)).toBe("inbox");
    expect(r.press(key("i"), false, 600)).toBeNull();
    expect(r.press(key("g"), false, 1000)).toBeNull();
    expect(r.press(key("i"), false, 1000 + SEQUENCE_MS + 1)).toBeNull();
    // A different key after the prefix cancels it without acting.
    expect(r.press(key("g"), false, 5000)).toBeNull();
    expect(r.press(key("j"), false, 5100)).toBeNull();
    expect(r.press(key("j"), false, 5200)).toBe("next");
    // Typing "g" in a field does not start a sequence.
    expect(r.press(key("g"), true, 6000)).toBeNull();
    expect(r.pending).toBe(false);
  });
});
