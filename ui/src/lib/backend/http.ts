// The Backend over plain HTTP: the same generated command wrappers, sent to
// `okno-desktop --serve-http ADDR` (a browser on the same UI, e.g. for the Chromium benchmark).
import { createTauriBackend, type Backend, type InvokeFn, type UiError } from "./bindings";

const TOKEN_KEY = "okno-bridge-token";

/**
 * The bridge's per-run token: it comes in the URL's fragment (`#token=...`, which browsers
 * never send), is kept for this tab only, and the fragment is wiped from the address bar.
 */
export function bridgeToken(): string {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

/** The headers of one command to the bridge. */
export function bridgeHeaders(): Record<string, string> {
  return { "Content-Type": "application/json", Authorization: `Bearer ${bridgeToken()}` };
}

export function createHttpBackend(base = ""): Backend {
  const invoke: InvokeFn = async <T>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
    const response = await fetch(`${base}/invoke/${cmd}`, {
      method: "POST",
      headers: bridgeHeaders(),
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
