// The softphone's contract with the app: hand-written until the Rust side generates the same
// types into backend/bindings.ts (then this file re-exports them). snake_case fields as on the
// wire; times are unix milliseconds. Additions beyond the first draft are marked "(added)".
import type { CallDirection, CallOutcome } from "../backend/bindings";

export type RegistrationState = "unregistered" | "registering" | "registered" | "failed";
export type SipTransport = "udp" | "tcp" | "tls" | "ws";
export type SipAccount = { id: string, label: string, user: string, domain: string, registrar: string, transport: SipTransport, outbound_proxy: string | null, codecs: Array<string>, enabled: boolean, has_password: boolean };
export type SipAccountInput = { id: string | null, label: string, user: string, domain: string, registrar: string, transport: SipTransport, outbound_proxy: string | null, codecs: Array<string>, enabled: boolean, password: string | null /* null = keep the stored one */ };
export type AccountStatus = { account_id: string, label: string, state: RegistrationState, detail: string | null, since: number };
export type CallPhase = "ringing_in" | "dialing" | "ringing_out" | "active" | "held" | "ended";
export type RecordingState = "off" | "on" | "paused";
export type CallQuality = { mos: number, loss_pct: number, jitter_ms: number, rtt_ms: number };
export type TicketRef = { id: string, subject: string };
export type CallView = {
  id: string, account_id: string, direction: CallDirection, phase: CallPhase, remote_number: string, remote_name: string | null,
  customer_id: string | null, customer_name: string | null, open_tickets: Array<TicketRef>,
  /** The hotline number dialled. */
  line: string | null,
  queue_name: string | null, started_at: number, answered_at: number | null, muted: boolean, recording: RecordingState,
  quality: CallQuality | null,
  /** Id of the call this consult leg belongs to. */
  consult_for: string | null,
  conferenced_with: string | null, note: string,
};
export type WrapUpView = {
  call_id: string, customer_id: string | null, started_at: number, limit_s: number, open_tickets: Array<TicketRef>,
  /** (added) Who the call was with, for the wrap-up header. */
  remote_number: string, customer_name: string | null,
};
export type PhoneSnapshot = { accounts: Array<AccountStatus>, calls: Array<CallView>, wrap_up: WrapUpView | null, missed_unseen: number };
export type DispositionNode = { id: string, label: string, children: Array<DispositionNode> };
export type TicketLink = { kind: "none" } | { kind: "new" } | { kind: "existing", ticket_id: string };
export type CallHistoryEntry = { id: string, direction: CallDirection, outcome: CallOutcome, remote_number: string, customer_id: string | null, customer_name: string | null, started_at: number, duration_s: number, seen: boolean, disposition: string | null };
export type AudioDevice = { name: string, is_default: boolean };
export type AudioDevices = { inputs: Array<AudioDevice>, outputs: Array<AudioDevice>, input: string | null, output: string | null, ring: string | null };
export type TransferTarget = { kind: "operator", id: string } | { kind: "department", id: string } | { kind: "number", number: string };

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
