// Which backend the window talks to: Tauri inside the app, HTTP when served by
// `okno-desktop --serve-http` (?backend=http), the in-memory fixture otherwise (UI development;
// `?rows=100000` makes a large inbox). The fixture is loaded on demand so the app's bundle
// does not carry it.
import type { Backend, UiError } from "./bindings";
import { createHttpBackend } from "./http";
import { tauriBackend } from "./tauri";
import type { FixtureBackend } from "./fixture";

type Method = (...args: never[]) => Promise<unknown>;

/** A Backend whose calls wait for the real one to load. */
function deferred(load: () => Promise<Backend>): Backend {
  let loaded: Promise<Backend> | null = null;
  const real = () => (loaded ??= load());
  return new Proxy({} as Backend, {
    get: (_target, name) =>
      (...args: never[]) => real().then((b) => (b[name as keyof Backend] as Method).apply(b, args)),
  });
}

function pick(): Backend {
  if (typeof window !== "undefined" && "__TAURI_INTERNALS__" in window) return tauriBackend();
  const params = new URLSearchParams(typeof location !== "undefined" ? location.search : "");
  if (params.get("backend") === "http") return createHttpBackend();
  return deferred(loadFixture);
}

let fixture: Promise<FixtureBackend> | null = null;

/** The one in-memory fixture of this window (the softphone's fixture shares its customers and tickets). */
export function loadFixture(): Promise<FixtureBackend> {
  const params = new URLSearchParams(typeof location !== "undefined" ? location.search : "");
  const rows = Number(params.get("rows")) || undefined;
  const latencyMs = Number(params.get("latency")) || undefined;
  return (fixture ??= import("./fixture").then((m) => m.fixtureBackend({ rows, latencyMs })));
}

export const backend: Backend = pick();

export function isUiError(e: unknown): e is UiError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export type * from "./bindings";
