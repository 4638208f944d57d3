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
