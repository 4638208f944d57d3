// Short-lived notices: confirmations and errors. Errors stay longer and carry the detail.
export type Toast = { id: number; text: string; kind: "info" | "error"; detail?: string };

export const toasts = $state({ list: [] as Toast[] });
let next = 1;

export function toast(text: string, kind: Toast["kind"] = "info", detail?: string): void {
  const id = next++;
  toasts.list.push({ id, text, kind, detail });
  setTimeout(() => dismiss(id), kind === "error" ? 8000 : 2500);
}

export function dismiss(id: number): void {
  toasts.list = toasts.list.filter((t) => t.id !== id);
}
