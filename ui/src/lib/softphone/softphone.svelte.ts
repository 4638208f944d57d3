// The window's one softphone store, over the PhoneBackend picked for this window (Tauri, HTTP or
// the fixture). Click-to-call anywhere in the window calls `phone.dial(number)`.
import { attempt } from "../app.svelte";
import { phoneBackend } from "./phone-backend";
import { PhoneStore } from "./store.svelte";

export const phone = new PhoneStore(phoneBackend, attempt);
