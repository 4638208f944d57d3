// Generated from okno-softphone's types by src-tauri/src/bindings.rs (`cargo xtask bindings`). Do not edit.

import type { CallDirection, CallOutcome } from "../backend/bindings";

export type RegistrationState = "unregistered" | "registering" | "registered" | "failed";
export type SipTransport = "udp" | "tcp" | "tls" | "ws";
/**
 * A SIP account as settings show it. The password is never here: only whether one is stored.
 */
export type SipAccount = { id: string, label: string, user: string, domain: string, 
/**
 * `host:port` of the registrar.
 */
registrar: string, transport: SipTransport, outbound_proxy: string | null, codecs: Array<string>, enabled: boolean, has_password: boolean, };
/**
 * A SIP account as settings save it; `password: None` keeps the stored one.
 */
export type SipAccountInput = { id: string | null, label: string, user: string, domain: string, registrar: string, transport: SipTransport, outbound_proxy: string | null, codecs: Array<string>, enabled: boolean, password: string | null, };
export type AccountStatus = { account_id: string, label: string, state: RegistrationState, detail: string | null, since: number, };
export type CallPhase = "ringing_in" | "dialing" | "ringing_out" | "active" | "held" | "ended";
export type RecordingState = "off" | "on" | "paused";
/**
 * The live quality indicator of a call.
 */
export type CallQuality = { mos: number, loss_pct: number, jitter_ms: number, rtt_ms: number, };
export type TicketRef = { id: string, subject: string, };
export type TransferPhase = "asking" | "failed";
export type TransferView = { 
/**
 * The number the call is transferred to.
 */
to: string, phase: TransferPhase, 
/**
 * The SIP status the transfer failed with, if any.
 */
status: number | null, };
/**
 * A call as the window shows it.
 */
export type CallView = { id: string, account_id: string, direction: CallDirection, phase: CallPhase, remote_number: string, remote_name: string | null, customer_id: string | null, customer_name: string | null, open_tickets: Array<TicketRef>, 
/**
 * The hotline number dialled.
 */
line: string | null, queue_name: string | null, started_at: number, answered_at: number | null, muted: boolean, recording: RecordingState, quality: CallQuality | null, 
/**
 * Id of the call this consult leg belongs to.
 */
consult_for: string | null, conferenced_with: string | null, note: string, 
/**
 * A transfer of this call under way or just failed.
 */
transfer: TransferView | null, };
export type WrapUpView = { call_id: string, customer_id: string | null, started_at: number, limit_s: number, open_tickets: Array<TicketRef>, 
/**
 * Who the call was with, for the wrap-up header.
 */
remote_number: string, customer_name: string | null, };
export type PhoneSnapshot = { accounts: Array<AccountStatus>, calls: Array<CallView>, wrap_up: WrapUpView | null, missed_unseen: number, };
export type DispositionNode = { id: string, label: string, children: Array<DispositionNode>, };
export type TicketLink = { "kind": "none" } | { "kind": "new" } | { "kind": "existing", ticket_id: string, };
export type CallHistoryEntry = { id: string, direction: CallDirection, outcome: CallOutcome, remote_number: string, customer_id: string | null, customer_name: string | null, started_at: number, duration_s: number, seen: boolean, disposition: string | null, };
export type AudioDevice = { name: string, is_default: boolean, };
export type AudioDevices = { inputs: Array<AudioDevice>, outputs: Array<AudioDevice>, input: string | null, output: string | null, ring: string | null, };
export type TransferTarget = { "kind": "operator", id: string, } | { "kind": "department", id: string, } | { "kind": "number", number: string, };
