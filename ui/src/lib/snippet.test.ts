import { describe, expect, it } from "vitest";
import { segments, tagMatches } from "./snippet";
import { markSnippet } from "./backend/fixture";

describe("search snippets", () => {
  it("splits marked words into segments without interpreting HTML", () => {
    expect(segments("Где мой \u0002заказ\u0003 <b>?")).toEqual([
      { text: "Где мой ", mark: false },
      { text: "заказ", mark: true },
      { text: " <b>?", mark: false },
    ]);
  });

  it("handles several marks, marks at the edges, empty and unterminated marks", () => {
    expect(segments("\u0002a\u0003 b \u0002c\u0003")).toEqual([
      { text: "a", mark: true },
      { text: " b ", mark: false },
      { text: "c", mark: true },
    ]);
    expect(segments("")).toEqual([]);
    expect(segments("\u0002\u0003plain")).toEqual([{ text: "plain", mark: false }]);
    expect(segments("x \u0002open to the end")).toEqual([
      { text: "x ", mark: false },
      { text: "open to the end", mark: true },
    ]);
    expect(segments("no marks <script>")).toEqual([{ text: "no marks <script>", mark: false }]);
  });

  it("keeps astral characters whole", () => {
    expect(segments("📦 \u0002доставка\u0003")).toEqual([
      { text: "📦 ", mark: false },
      { text: "доставка", mark: true },
    ]);
  });

  it("the fixture's snippets round-trip through the parser", () => {
    const s = markSnippet("Refund request for Dyson V15 vacuum", "dyson refund");
    expect(s).not.toBeNull();
    const marked = segments(s!).filter((x) => x.mark).map((x) => x.text);
    expect(marked).toEqual(["Refund", "Dyson"]);
    expect(markSnippet("nothing here", "заказ")).toBeNull();
  });
});

describe("matched tags", () => {
  it("matches a query word as a prefix of a tag's word, in any case and script", () => {
    expect(tagMatches("возврат", "Возвр")).toBe(true);
    expect(tagMatches("vip-client", "client")).toBe(true);
    expect(tagMatches("delivery", "refund")).toBe(false);
    expect(tagMatches("delivery", "")).toBe(false);
  });
});
