// The softphone's contract with the app. The types are generated from okno-softphone's Rust
// types (bindings.ts, `cargo xtask bindings`); the interface and the command table are here.
// snake_case fields as on the wire; times are unix milliseconds.
import type {
  AudioDevices, CallHistoryEntry, CallView, DispositionNode, PhoneSnapshot, SipAccount, SipAccountInput, TicketLink, TransferTarget,
} from "./bindings";

export type * from "./bindings";

export interface PhoneBackend {
  phoneSnapshot(): Promise<PhoneSnapshot>;
  /** Called with a fresh snapshot on every change; returns an unsubscribe function. */
  subscribePhone(onChange: (s: PhoneSnapshot) => void): () => void;
  phoneDial(number: string, accountId: string | null): Promise<CallView>;
  phoneAnswer(callId: string): Promise<void>;
  phoneReject(callId: string, toQueue: boolean): Promise<void>;
  phoneHangup(callId: string): Promise<void>;
  phoneHold(callId: string, hold: boolean): Promise<void>;
  phoneMute(callId: string, muted: boolean): Promise<void>;
  phoneDtmf(callId: string, digits: string): Promise<void>;
  /** Returns the consult leg when attended. */
  phoneTransfer(callId: string, target: TransferTarget, attended: boolean): Promise<CallView | null>;
  phoneCompleteTransfer(callId: string, consultId: string): Promise<void>;
  phoneConference(callId: string, consultId: string): Promise<void>;
  phoneRecording(callId: string, paused: boolean): Promise<void>;
  phoneSetNote(callId: string, note: string): Promise<void>;
  /**
   * (added) An unknown caller becomes a customer: creates the customer with the call's number as
   * a phone identity, links the call (and its wrap-up) to them; returns the customer's id.
   */
  phoneCreateCustomer(callId: string, name: string): Promise<string>;
  phoneWrapUp(callId: string, dispositionId: string, comment: string, ticket: TicketLink): Promise<void>;
  listDispositions(): Promise<Array<DispositionNode>>;
  callHistory(limit: number): Promise<Array<CallHistoryEntry>>;
  markCallsSeen(): Promise<void>;
  listSipAccounts(): Promise<Array<SipAccount>>;
  saveSipAccount(input: SipAccountInput): Promise<SipAccount>;
  deleteSipAccount(id: string): Promise<void>;
  /** (added) Codec names this build can negotiate, in the default order (e.g. ["PCMA", "PCMU"]). */
  sipCodecs(): Promise<Array<string>>;
  audioDevices(): Promise<AudioDevices>;
  setAudioDevices(input: string | null, output: string | null, ring: string | null): Promise<AudioDevices>;
}

/** The Tauri command behind each method: snake_case of the method name. */
export const PHONE_COMMANDS = {
  phoneSnapshot: "phone_snapshot", phoneDial: "phone_dial", phoneAnswer: "phone_answer", phoneReject: "phone_reject",
  phoneHangup: "phone_hangup", phoneHold: "phone_hold", phoneMute: "phone_mute", phoneDtmf: "phone_dtmf",
  phoneTransfer: "phone_transfer", phoneCompleteTransfer: "phone_complete_transfer", phoneConference: "phone_conference",
  phoneRecording: "phone_recording", phoneSetNote: "phone_set_note", phoneCreateCustomer: "phone_create_customer",
  phoneWrapUp: "phone_wrap_up", listDispositions: "list_dispositions", callHistory: "call_history", markCallsSeen: "mark_calls_seen",
  listSipAccounts: "list_sip_accounts", saveSipAccount: "save_sip_account", deleteSipAccount: "delete_sip_account",
  sipCodecs: "sip_codecs", audioDevices: "audio_devices", setAudioDevices: "set_audio_devices",
} as const satisfies Record<Exclude<keyof PhoneBackend, "subscribePhone">, string>;

/** The Tauri event that carries a fresh `PhoneSnapshot` on every change. */
export const PHONE_EVENT = "phone";
