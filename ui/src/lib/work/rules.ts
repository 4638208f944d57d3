// The rule editor's pure parts: blank conditions and actions of each kind, and a one-line
// summary of a rule in the window's language. The server checks and runs the rules; this only
// builds what the form edits.
import type { Action, Condition, Named, Rule, TextTest } from "../backend";

export type ConditionField = Condition["field"];
export type ActionKind = Action["do"];

export const CONDITION_FIELDS: ConditionField[] = [
  "subject", "body", "sender", "sender_domain", "channel", "queue", "mailbox", "tier", "tag", "business_hours", "first_message",
];
export const ACTION_KINDS: ActionKind[] = [
  "set_queue", "set_priority", "add_tags", "assign", "round_robin", "auto_reply", "close", "mark_spam", "forward",
];
export const TEXT_OPS: TextTest["op"][] = ["contains", "not_contains", "regex"];

/** A new condition of `field` with sensible first values. */
export function blankCondition(field: ConditionField, known: { queues: Named[]; mailboxes: string[] }): Condition {
  switch (field) {
    case "subject": case "body": case "sender":
      return { field, test: { op: "contains", value: "" } };
    case "sender_domain": return { field, any_of: [""] };
    case "channel": return { field, any_of: ["email"] };
    case "queue": return { field, any_of: known.queues[0] ? [known.queues[0].id] : [] };
    case "mailbox": return { field, any_of: known.mailboxes[0] ? [known.mailboxes[0]] : [] };
    case "tier": return { field, is: "premium" };
    case "tag": return { field, has: "" };
    case "business_hours": return { field, open: false };
    case "first_message": return { field, is: true };
  }
}

/** A new action of `kind` with sensible first values. */
export function blankAction(kind: ActionKind, known: { queues: Named[]; operators: Named[]; templates: Named[] }): Action {
  switch (kind) {
    case "set_queue": return { do: kind, queue_id: known.queues[0]?.id ?? "" };
    case "set_priority": return { do: kind, priority: "high" };
    case "add_tags": return { do: kind, tags: [""] };
    case "assign": return { do: kind, operator_id: known.operators[0]?.id ?? "" };
    case "auto_reply": return { do: kind, template_id: known.templates[0]?.id ?? "" };
    case "forward": return { do: kind, to: "" };
    case "round_robin": case "close": case "mark_spam": return { do: kind };
  }
}

/** A rule id the server has not seen: time-ordered, unique enough for one editor. */
export function newRuleId(now: number, seq: number): string {
  return `rule-${now.toString(36)}-${seq.toString(36)}`;
}

export function blankRule(now: number, seq: number, name: string): Rule {
  return { id: newRuleId(now, seq), name, enabled: true, when: [], then: [{ do: "close" }], stop: false };
}

/** Move rule `i` by `delta` places (order decides which rule runs first). */
export function moveRule(rules: Rule[], i: number, delta: number): Rule[] {
  const j = i + delta;
  if (j < 0 || j >= rules.length) return rules;
  const next = [...rules];
  [next[i], next[j]] = [next[j], next[i]];
  return next;
}

/** "a, b , ,c" → ["a", "b", "c"]: list fields are typed as comma-separated text. */
export function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}
