// The softphone's contract with the app. The commands and every type are generated from the Rust
// command table (`PhoneCommands` in ../backend/bindings.ts, `cargo xtask bindings`); the window
// adds only the subscription to the "phone" event. snake_case fields as on the wire; times are
// unix milliseconds.
import type { PhoneCommands, PhoneSnapshot } from "../backend/bindings";

export type * from "../backend/bindings";

export interface PhoneBackend extends PhoneCommands {
  /** Called with a fresh snapshot on every change; returns an unsubscribe function. */
  subscribePhone(onChange: (s: PhoneSnapshot) => void): () => void;
}

/** The Tauri event that carries a fresh `PhoneSnapshot` on every change. */
export const PHONE_EVENT = "phone";
