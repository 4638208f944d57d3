import { invoke } from "@tauri-apps/api/core";
import { createTauriBackend, type Backend } from "./bindings";

export function tauriBackend(): Backend {
  return createTauriBackend(invoke);
}
