// Search snippets mark matched words with U+0002 … U+0003; the UI turns them into <mark>
// segments without ever interpreting the text as HTML.
export type Segment = { text: string; mark: boolean };

export function segments(snippet: string): Segment[] {
  const out: Segment[] = [];
  let mark = false;
  let text = "";
  for (const ch of snippet) {
    if (ch === "\u0002" || ch === "\u0003") {
      if (text) out.push({ text, mark });
      text = "";
      mark = ch === "\u0002";
    } else {
      text += ch;
    }
  }
  if (text) out.push({ text, mark });
  return out;
}

/** Whether a tag is what the query matched: a query word is a prefix of one of the tag's words,
 *  as the store's search matches (case-insensitive, words split on anything not a letter or digit). */
export function tagMatches(tag: string, query: string): boolean {
  const words = (s: string) => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const tagWords = words(tag);
  return words(query).some((q) => tagWords.some((w) => w.startsWith(q)));
}
