// Finding a template as the operator types: every word of the query must appear in the
// template's name or text (any case, ё = е); templates in the ticket's language and whose name
// starts with the query come first.
import type { Template } from "../backend";

const fold = (s: string) => s.toLocaleLowerCase("ru").replaceAll("ё", "е");

export function matchTemplates(templates: Template[], query: string, language: string | null = null): Template[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const scored: Array<{ t: Template; score: number }> = [];
  for (const t of templates) {
    const name = fold(t.name);
    const hay = `${name} ${fold(t.body)}`;
    if (!words.every((w) => hay.includes(w))) continue;
    let score = 0;
    if (words.length > 0 && name.startsWith(words[0])) score += 2;
    if (words.length > 0 && words.every((w) => name.includes(w))) score += 1;
    if (language && t.language === language) score += 1;
    scored.push({ t, score });
  }
  return scored.sort((a, b) => b.score - a.score || a.t.name.localeCompare(b.t.name)).map((x) => x.t);
}

/** `text` put into `body` at the selection, as the reply box does: returns the new body and caret. */
export function insertAt(body: string, start: number, end: number, text: string): { body: string; caret: number } {
  const before = body.slice(0, start);
  const glue = before.length > 0 && !before.endsWith("\n") && !before.endsWith(" ") ? " " : "";
  const next = `${before}${glue}${text}${body.slice(end)}`;
  return { body: next, caret: before.length + glue.length + text.length };
}
