// `@mentions` while writing an internal note: which handle the caret is in, the people that
// match it, and the text with the picked handle put in. The server reads the same handles
// (okno_core::mention): letters, digits, `.`, `_`, `-` after an `@` that follows no letter.

export type Mentionable = { id: string; name: string; role: string };

/** The handle being typed at `caret`: where its `@` is and what follows it, or null. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  let i = caret;
  while (i > 0 && /[\p{L}\p{N}._-]/u.test(text[i - 1])) i--;
  if (i === 0 || text[i - 1] !== "@") return null;
  const at = i - 1;
  if (at > 0 && /[\p{L}\p{N}_.]/u.test(text[at - 1])) return null; // an email address
  return { start: at, query: text.slice(i, caret) };
}

/** People whose handle or name starts (any word) with `query`, handles first; at most `limit`. */
export function matchPeople(people: Mentionable[], query: string, limit = 6): Mentionable[] {
  const q = query.toLocaleLowerCase().replaceAll("ё", "е");
  const norm = (s: string) => s.toLocaleLowerCase().replaceAll("ё", "е");
  const byHandle = people.filter((p) => norm(p.id).startsWith(q));
  const byName = people.filter((p) => !byHandle.includes(p) && norm(p.name).split(/\s+/).some((w) => w.startsWith(q)));
  return [...byHandle, ...byName].slice(0, limit);
}

/** `text` with the handle at `start..caret` replaced by `@id `; returns the text and the new caret. */
export function insertMention(text: string, start: number, caret: number, id: string): { text: string; caret: number } {
  const put = `@${id} `;
  return { text: text.slice(0, start) + put + text.slice(caret), caret: start + put.length };
}
