// Where sync with the server stands, for the status bar: the app's "sync" event inside Tauri,
// and a cheap poll of `sync_status` everywhere (the HTTP bridge has no events). A status whose
// revision went up means sync changed local data, so the lists reload; a new refusal is toasted
// with the server's reason.
import { backend, type SyncStatus } from "../backend";
import { changed } from "../app.svelte";
import { isKey, t } from "../i18n/index.svelte";
import { toast } from "./toast.svelte";

export const sync = $state({ status: null as SyncStatus | null });

/** Website chats whose visitor is typing: ticket id -> until when (ms) to say so. */
export const typing = $state({ until: {} as Record<string, number> });
const TYPING_SHOWN_MS = 4000;

export function visitorTyping(ticketId: string, now = Date.now()): void {
  typing.until[ticketId] = now + TYPING_SHOWN_MS;
  setTimeout(() => {
    if ((typing.until[ticketId] ?? 0) <= Date.now()) delete typing.until[ticketId];
  }, TYPING_SHOWN_MS + 50);
}

/** The toast's title for a refused write: chosen by the server's code, never by its text. */
export function rejectionTitle(code: string, mutation: string): string {
  const name = `sync.mutation.${mutation}`;
  const reason = `sync.rejected.${code}`;
  const what = isKey(name) ? t(name) : mutation;
  return t(isKey(reason) ? reason : "sync.rejected.other", { what });
}

const dataListeners = new Set<() => void>();

/** Called whenever sync changed local data (e.g. to reload the open ticket); returns the unsubscribe. */
export function onSyncedData(f: () => void): () => void {
  dataListeners.add(f);
  return () => dataListeners.delete(f);
}

export function receive(next: SyncStatus): void {
  const prev = sync.status;
  sync.status = next;
  if (prev === null) return; // the first status is the state at start: nothing new happened
  if (next.revision !== prev.revision) {
    changed();
    for (const f of dataListeners) f();
  }
  const r = next.last_rejection;
  if (r && r.seq !== prev.last_rejection?.seq) toast(rejectionTitle(r.code, r.mutation), "error", r.reason);
}

export function startSync(pollMs = 1000): () => void {
  let busy = false;
  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      receive(await backend.syncStatus());
    } catch {
      // The next poll tries again.
    } finally {
      busy = false;
    }
  };
  const unlisten: (() => void)[] = [];
  let stopped = false;
  if (typeof window !== "undefined" && "__TAURI_INTERNALS__" in window) {
    const keep = (u: () => void) => (stopped ? u() : unlisten.push(u));
    void import("@tauri-apps/api/event").then(({ listen }) => {
      void listen<SyncStatus>("sync", (e) => receive(e.payload)).then(keep);
      void listen<string>("visitor-typing", (e) => visitorTyping(e.payload)).then(keep);
    });
  }
  const timer = setInterval(() => void poll(), pollMs);
  void poll();
  return () => {
    stopped = true;
    clearInterval(timer);
    unlisten.forEach((u) => u());
  };
}
