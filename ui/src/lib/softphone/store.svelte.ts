// The softphone's state in the window: the backend's latest snapshot (accounts, calls, wrap-up,
// missed count), what the operator is typing (the number, call notes), which phone panel is
// open, and the actions, which go to the PhoneBackend and come back as the next snapshot.
// The store reports transitions (ringing, answered, wrap-up) so the window can screen-pop.
import type {
  AudioDevices, CallHistoryEntry, PhoneCall, DispositionNode, PhoneBackend, PhoneSnapshot, TicketLink, TransferTarget, WrapUpView,
} from "./contract";
import { redialNumber } from "./logic";

export type PhoneEvent =
  | { kind: "ring"; call: PhoneCall }
  | { kind: "answered"; call: PhoneCall }
  | { kind: "ended"; callId: string }
  | { kind: "wrapUp"; wrap: WrapUpView }
  | { kind: "wrapUpDone"; callId: string };

export type Panel = "none" | "transfer" | "history" | "settings" | "devices" | "dtmf";

type Attempt = <T>(call: () => Promise<T>) => Promise<T | undefined>;

const EMPTY: PhoneSnapshot = { accounts: [], calls: [], wrap_up: null, missed_unseen: 0 };

export class PhoneStore {
  snap = $state<PhoneSnapshot>(EMPTY);
  now = $state(Date.now());
  history = $state<CallHistoryEntry[]>([]);
  dispositions = $state<DispositionNode[]>([]);
  devices = $state<AudioDevices | null>(null);
  /** The number field in the top bar; click-to-call fills it. */
  number = $state("");
  panel = $state<Panel>("none");
  /** Notes typed during a call, by call id (saved to the backend shortly after typing stops). */
  notes = $state<Record<string, string>>({});

  /** The incoming call waiting for an answer. */
  ringing = $derived(this.snap.calls.find((c) => c.phase === "ringing_in" && !c.consult_for) ?? null);
  /** The customer's call in progress (not a consult leg). */
  main = $derived(this.snap.calls.find((c) => !c.consult_for && c.phase !== "ringing_in" && c.phase !== "ended") ?? null);
  /** The consult leg of an attended transfer. */
  consult = $derived(this.main ? (this.snap.calls.find((c) => c.consult_for === this.main?.id && c.phase !== "ended") ?? null) : null);
  conference = $derived(!!this.main?.conferenced_with && !!this.consult);
  /** The leg the operator is talking on: the consult while it is up (and not merged), else the customer's call. */
  talking = $derived(this.consult && !this.conference && this.consult.phase !== "held" ? this.consult : this.main);
  wrap = $derived(this.snap.wrap_up);

  #backend: PhoneBackend;
  #attempt: Attempt;
  #listeners = new Set<(e: PhoneEvent) => void>();
  #noteTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(backend: PhoneBackend, attempt?: Attempt) {
    this.#backend = backend;
    this.#attempt = attempt ?? (async (call) => call());
  }

  get backend(): PhoneBackend {
    return this.#backend;
  }

  /** Subscribes to the backend, loads the first snapshot, history and dispositions; returns a stop function. */
  start(tickMs = 1000): () => void {
    const unsubscribe = this.#backend.subscribePhone((s) => this.apply(s));
    void this.#attempt(() => this.#backend.phoneSnapshot()).then((s) => s && this.apply(s));
    void this.loadHistory();
    void this.#attempt(() => this.#backend.listDispositions()).then((d) => d && (this.dispositions = d));
    const timer = setInterval(() => (this.now = Date.now()), tickMs);
    return () => {
      unsubscribe();
      clearInterval(timer);
    };
  }

  on(listener: (e: PhoneEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Takes a snapshot and reports what changed since the last one. */
  apply(next: PhoneSnapshot): void {
    const prev = this.snap;
    this.snap = next;
    this.now = Date.now();
    const before = new Map(prev.calls.map((c) => [c.id, c]));
    const events: PhoneEvent[] = [];
    for (const c of next.calls) {
      const was = before.get(c.id);
      if (c.phase === "ringing_in" && was?.phase !== "ringing_in") events.push({ kind: "ring", call: c });
      if (c.answered_at !== null && !c.consult_for && (!was || was.answered_at === null)) events.push({ kind: "answered", call: c });
    }
    const ended = prev.calls.filter((c) => !next.calls.some((x) => x.id === c.id));
    for (const c of ended) {
      events.push({ kind: "ended", callId: c.id });
      const timer = this.#noteTimers.get(c.id);
      if (timer) clearTimeout(timer);
      this.#noteTimers.delete(c.id);
    }
    if (next.wrap_up && next.wrap_up.call_id !== prev.wrap_up?.call_id) events.push({ kind: "wrapUp", wrap: next.wrap_up });
    const wrapDone = !!prev.wrap_up && next.wrap_up?.call_id !== prev.wrap_up.call_id;
    if (prev.wrap_up && wrapDone) events.push({ kind: "wrapUpDone", callId: prev.wrap_up.call_id });
    if (ended.length || wrapDone || next.missed_unseen !== prev.missed_unseen) void this.loadHistory();
    if (!this.main && this.panel === "transfer") this.panel = "none";
    if (!this.talking && this.panel === "dtmf") this.panel = "none";
    for (const e of events) for (const l of this.#listeners) l(e);
  }

  async loadHistory(limit = 50): Promise<void> {
    const h = await this.#attempt(() => this.#backend.callHistory(limit));
    if (h) this.history = h;
  }

  async loadDevices(): Promise<void> {
    const d = await this.#attempt(() => this.#backend.audioDevices());
    if (d) this.devices = d;
  }

  async setDevices(input: string | null, output: string | null, ring: string | null): Promise<boolean> {
    const d = await this.#attempt(() => this.#backend.setAudioDevices(input, output, ring));
    if (d) this.devices = d;
    return !!d;
  }

  toggle(panel: Panel): void {
    this.panel = this.panel === panel ? "none" : panel;
  }

  /** Dials the number field (or `number`); returns the new call. */
  async dial(number?: string): Promise<PhoneCall | undefined> {
    const n = (number ?? this.number).trim();
    if (!n) return undefined;
    this.number = n;
    return this.#attempt(() => this.#backend.phoneDial(n, null));
  }

  async redial(): Promise<PhoneCall | undefined> {
    if (this.history.length === 0) await this.loadHistory();
    const n = redialNumber(this.history);
    return n ? this.dial(n) : undefined;
  }

  async answer(): Promise<void> {
    const c = this.ringing;
    if (c) await this.#attempt(() => this.#backend.phoneAnswer(c.id));
  }

  /** Reject the ringing call; `toQueue` lets it go to the next operator instead. */
  async reject(toQueue: boolean): Promise<void> {
    const c = this.ringing;
    if (c) await this.#attempt(() => this.#backend.phoneReject(c.id, toQueue));
  }

  /** Hang up what the operator is talking on: the consult leg during a consult, else the call; while only ringing, reject. */
  async hangup(): Promise<void> {
    const c = this.talking ?? null;
    if (c) await this.hangupCall(c.id);
    else if (this.ringing) await this.reject(false);
  }

  async hangupCall(id: string): Promise<void> {
    this.#flushNote(id);
    await this.#attempt(() => this.#backend.phoneHangup(id));
  }

  async toggleHold(): Promise<void> {
    const c = this.main;
    if (c && (c.phase === "active" || c.phase === "held")) await this.#attempt(() => this.#backend.phoneHold(c.id, c.phase === "active"));
  }

  async toggleMute(): Promise<void> {
    const c = this.talking;
    if (c) await this.#attempt(() => this.#backend.phoneMute(c.id, !c.muted));
  }

  async dtmf(digits: string): Promise<void> {
    const c = this.talking;
    if (c) await this.#attempt(() => this.#backend.phoneDtmf(c.id, digits));
  }

  async transfer(target: TransferTarget, attended: boolean): Promise<boolean> {
    const c = this.main;
    if (!c) return false;
    this.#flushNote(c.id);
    const done = await this.#attempt(async () => {
      await this.#backend.phoneTransfer(c.id, target, attended);
      return true;
    });
    if (done) this.panel = "none";
    return !!done;
  }

  async completeTransfer(): Promise<void> {
    const c = this.main;
    const leg = this.consult;
    if (c && leg) await this.#attempt(() => this.#backend.phoneCompleteTransfer(c.id, leg.id));
  }

  async mergeConference(): Promise<void> {
    const c = this.main;
    const leg = this.consult;
    if (c && leg) await this.#attempt(() => this.#backend.phoneConference(c.id, leg.id));
  }

  async toggleRecording(): Promise<void> {
    const c = this.main;
    if (c && c.recording !== "off") await this.#attempt(() => this.#backend.phoneRecording(c.id, c.recording === "on"));
  }

  /** The note of a call as typed here (the backend's until the operator types). */
  noteOf(call: PhoneCall): string {
    return this.notes[call.id] ?? call.note;
  }

  setNote(callId: string, text: string, debounceMs = 600): void {
    this.notes[callId] = text;
    const old = this.#noteTimers.get(callId);
    if (old) clearTimeout(old);
    this.#noteTimers.set(callId, setTimeout(() => this.#flushNote(callId), debounceMs));
  }

  #flushNote(callId: string): void {
    const timer = this.#noteTimers.get(callId);
    if (!timer) return;
    clearTimeout(timer);
    this.#noteTimers.delete(callId);
    const text = this.notes[callId];
    if (text !== undefined) void this.#attempt(() => this.#backend.phoneSetNote(callId, text));
  }

  async submitWrapUp(dispositionId: string, comment: string, ticket: TicketLink): Promise<boolean> {
    const w = this.wrap;
    if (!w) return false;
    const ok = await this.#attempt(async () => {
      await this.#backend.phoneWrapUp(w.call_id, dispositionId, comment, ticket);
      return true;
    });
    if (ok) delete this.notes[w.call_id];
    return !!ok;
  }

  async markAllSeen(): Promise<void> {
    const ok = await this.#attempt(async () => {
      await this.#backend.markCallsSeen();
      return true;
    });
    if (ok) this.history = this.history.map((h) => ({ ...h, seen: true }));
  }
}
