// Which backend the window talks to: Tauri inside the app, HTTP when served by
// `okno-desktop --serve-http` (?backend=http), the in-memory fixture otherwise (UI development).
import type { Backend, UiError } from "./bindings";
import { createHttpBackend } from "./http";
import { fixtureBackend } from "./fixture";
import { tauriBackend } from "./tauri";

function pick(): Backend {
  if (typeof window !== "undefined" && "__TAURI_INTERNALS__" in window) return tauriBackend();
  if (typeof location !== "undefined" && new URLSearchParams(location.search).get("backend") === "http") {
    return createHttpBackend();
  }
  return fixtureBackend();
}

export const backend: Backend = pick();

export function isUiError(e: unknown): e is UiError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export type * from "./bindings";
