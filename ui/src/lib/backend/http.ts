// The Backend over plain HTTP: the same generated command wrappers, sent to
// `okno-desktop --serve-http ADDR` (a browser on the same UI, e.g. for the Chromium benchmark).
import { createTauriBackend, type Backend, type InvokeFn, type UiError } from "./bindings";

export function createHttpBackend(base = ""): Backend {
  const invoke: InvokeFn = async <T>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
    const response = await fetch(`${base}/invoke/${cmd}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(args ?? {}),
    });
    const body: unknown = await response.json();
    if (!response.ok) {
      throw body as UiError;
    }
    return body as T;
  };
  return createTauriBackend(invoke);
}
