// Short-lived notices: confirmations and errors. Errors stay longer and carry the detail.
export type ToastKind = "info" | "success" | "error";
export type Toast = { id: number; text: string; kind: ToastKind; detail?: string };

export const toasts = $state({ list: [] as Toast[] });
let next = 1;

export function toast(text: string, kind: ToastKind = "info", detail?: string): void {
  const id = next++;
  // The same message twice in a row replaces the first instead of stacking.
  toasts.list = [...toasts.list.filter((x) => !(x.text === text && x.detail === detail)).slice(-3), { id, text, kind, detail }];
  setTimeout(() => dismiss(id), kind === "error" ? 8000 : 3000);
}

export function dismiss(id: number): void {
  toasts.list = toasts.list.filter((t) => t.id !== id);
}
