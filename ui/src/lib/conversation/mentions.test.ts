import { describe, expect, it } from "vitest";
import { insertMention, matchPeople, mentionAt } from "./mentions";

const people = [
  { id: "anna", name: "Anna Smirnova", role: "operator" },
  { id: "boris", name: "Boris Ivanov", role: "operator" },
  { id: "ext.kate", name: "Катя Ёлкина", role: "contractor" },
];

describe("mentions in a note", () => {
  it("finds the handle being typed, not an email address", () => {
    expect(mentionAt("ask @bo", 7)).toEqual({ start: 4, query: "bo" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionAt("olga@shop", 9)).toBeNull();
    expect(mentionAt("no handle here", 14)).toBeNull();
    expect(mentionAt("@anna done", 10)).toBeNull();
  });

  it("suggests by handle first, then by any word of the name, ё as е", () => {
    expect(matchPeople(people, "b").map((p) => p.id)).toEqual(["boris"]);
    expect(matchPeople(people, "ivan").map((p) => p.id)).toEqual(["boris"]);
    expect(matchPeople(people, "елк").map((p) => p.id)).toEqual(["ext.kate"]);
    expect(matchPeople(people, "").length).toBe(3);
  });

  it("puts the picked handle in with a space after it", () => {
    expect(insertMention("ask @bo now", 4, 7, "boris")).toEqual({ text: "ask @boris  now", caret: 11 });
  });
});
