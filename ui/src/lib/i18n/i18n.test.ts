import { describe, expect, it } from "vitest";
import { en } from "./en";
import { ru } from "./ru";

const params = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("strings", () => {
  it("every English key has a Russian string with the same parameters", () => {
    for (const [key, text] of Object.entries(en)) {
      const other = ru[key as keyof typeof en];
      expect(other, key).toBeTypeOf("string");
      expect(other.trim().length, key).toBeGreaterThan(0);
      expect(params(other), key).toEqual(params(text));
    }
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
  });
});
