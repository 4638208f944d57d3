import { describe, expect, it } from "vitest";
import { ACTION_KINDS, CONDITION_FIELDS, blankAction, blankCondition, blankRule, moveRule, splitList } from "./rules";

const known = {
  queues: [{ id: "q-bill", name: "Billing" }],
  operators: [{ id: "op-anna", name: "Anna" }],
  templates: [{ id: "tpl-1", name: "Thanks" }],
  mailboxes: ["support"],
};

describe("the rule editor's building blocks", () => {
  it("makes a condition of every field the server knows, named by its field", () => {
    for (const field of CONDITION_FIELDS) expect(blankCondition(field, known).field).toBe(field);
    expect(blankCondition("queue", known)).toEqual({ field: "queue", any_of: ["q-bill"] });
    expect(blankCondition("subject", known)).toEqual({ field: "subject", test: { op: "contains", value: "" } });
  });

  it("makes an action of every kind, pointing at the first known target", () => {
    for (const kind of ACTION_KINDS) expect(blankAction(kind, known).do).toBe(kind);
    expect(blankAction("assign", known)).toEqual({ do: "assign", operator_id: "op-anna" });
    expect(blankAction("auto_reply", known)).toEqual({ do: "auto_reply", template_id: "tpl-1" });
  });

  it("moves rules up and down and stops at the ends", () => {
    const rules = [blankRule(1, 1, "a"), blankRule(1, 2, "b"), blankRule(1, 3, "c")];
    expect(moveRule(rules, 2, -1).map((r) => r.name)).toEqual(["a", "c", "b"]);
    expect(moveRule(rules, 0, -1)).toBe(rules);
    expect(new Set(rules.map((r) => r.id)).size).toBe(3);
  });

  it("reads comma-separated lists", () => {
    expect(splitList(" vip, billing , ,urgent")).toEqual(["vip", "billing", "urgent"]);
  });
});
