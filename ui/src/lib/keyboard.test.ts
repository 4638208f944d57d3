import { describe, expect, it } from "vitest";
import { SHORTCUTS, actionFor, type KeyboardLike } from "./keyboard";
import { en } from "./i18n/en";
import { ru } from "./i18n/ru";

const key = (k: string, mods: Partial<KeyboardLike> = {}): KeyboardLike => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });

describe("shortcuts", () => {
  it("ids and displayed keys are unique, and each has a label in both languages", () => {
    expect(new Set(SHORTCUTS.map((s) => s.id)).size).toBe(SHORTCUTS.length);
    expect(new Set(SHORTCUTS.map((s) => s.keys)).size).toBe(SHORTCUTS.length);
    for (const s of SHORTCUTS) {
      expect(en[s.label]).toBeTruthy();
      expect(ru[s.label]).toBeTruthy();
    }
  });

  it("no key press triggers two actions", () => {
    const presses = [key("j"), key("k"), key("r"), key("n"), key("a"), key("e"), key("o"), key("/"), key("?"), key("t"), key("l"), key("i"), key("Escape"), key("k", { ctrlKey: true }), key("1", { altKey: true }), key("4", { altKey: true })];
    for (const press of presses) {
      expect(SHORTCUTS.filter((s) => s.match(press)).length, press.key).toBe(1);
    }
  });

  it("maps presses to actions and ignores letters while typing", () => {
    expect(actionFor(key("j"), false)).toBe("next");
    expect(actionFor(key("ArrowUp"), false)).toBe("prev");
    expect(actionFor(key("k", { ctrlKey: true }), false)).toBe("search");
    expect(actionFor(key("2", { altKey: true }), false)).toBe("break");
    expect(actionFor(key("e"), true)).toBeNull();
    expect(actionFor(key("k", { ctrlKey: true }), true)).toBe("search");
    expect(actionFor(key("Escape"), true)).toBe("escape");
    expect(actionFor(key("x"), false)).toBeNull();
  });
});
