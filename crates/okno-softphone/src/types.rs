//! The softphone's contract with the window: what the UI shows and sends. TypeScript types are
//! generated from these (`crates/okno-desk/src/bindings.rs`), snake_case on the wire, times in unix ms.

use okno_core::{CallDirection, CallOutcome, Millis};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationState {
    Unregistered,
    Registering,
    Registered,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SipTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
    /// SIP over WebSocket (RFC 7118), plain: for a PBX on the center's own network.
    Ws,
    /// SIP over WebSocket inside TLS: verified like TLS, SRTP required.
    Wss,
}

/// A SIP account as settings show it. The password is never here: only whether one is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SipAccount {
    pub id: String,
    pub label: String,
    pub user: String,
    pub domain: String,
    /// `host:port` of the registrar.
    pub registrar: String,
    pub transport: SipTransport,
    pub outbound_proxy: Option<String>,
    pub codecs: Vec<String>,
    pub enabled: bool,
    pub has_password: bool,
    /// A PEM file with the certificate authority (or the PBX's own certificate) to trust over
    /// TLS and WSS, besides the public roots: a PBX with a certificate of the center's own CA.
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// A SIP account as settings save it; `password: None` keeps the stored one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SipAccountInput {
    pub id: Option<String>,
    pub label: String,
    pub user: String,
    pub domain: String,
    pub registrar: String,
    pub transport: SipTransport,
    pub outbound_proxy: Option<String>,
    pub codecs: Vec<String>,
    pub enabled: bool,
    pub password: Option<String>,
    /// See [`SipAccount::ca_file`].
    #[serde(default)]
    pub ca_file: Option<String>,
}

impl std::fmt::Debug for SipAccountInput {
    // Hand-written so a password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipAccountInput")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("registrar", &self.registrar)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AccountStatus {
    pub account_id: String,
    pub label: String,
    pub state: RegistrationState,
    pub detail: Option<String>,
    #[ts(type = "number")]
    pub since: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    RingingIn,
    Dialing,
    RingingOut,
    Active,
    Held,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    #[default]
    Off,
    On,
    Paused,
}

/// The live quality indicator of a call.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, TS)]
pub struct LiveQuality {
    pub mos: f64,
    pub loss_pct: f64,
    pub jitter_ms: f64,
    pub rtt_ms: f64,
}

pub use okno_core::TicketRef;

/// A call as the window shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PhoneCall {
    pub id: String,
    pub account_id: String,
    pub direction: CallDirection,
    pub phase: CallPhase,
    pub remote_number: String,
    pub remote_name: Option<String>,
    /// The web page a website caller calls from (their chat widget's page).
    pub page: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub open_tickets: Vec<TicketRef>,
    /// The hotline number dialled.
    pub line: Option<String>,
    pub queue_name: Option<String>,
    /// How long the caller waited in the hotline's queue before this desk was rung.
    #[ts(type = "number | null")]
    pub waited_ms: Option<u64>,
    #[ts(type = "number")]
    pub started_at: Millis,
    #[ts(type = "number | null")]
    pub answered_at: Option<Millis>,
    pub muted: bool,
    pub recording: RecordingState,
    pub quality: Option<LiveQuality>,
    /// Id of the call this consult leg belongs to.
    pub consult_for: Option<String>,
    pub conferenced_with: Option<String>,
    pub note: String,
    /// A transfer of this call under way or just failed.
    pub transfer: Option<TransferView>,
    /// A team lead on this hotline call, where the center tells its operators.
    pub monitored: Option<MonitoredBy>,
}

/// Who listens in on the operator's call, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MonitoredBy {
    /// The team lead's name as the hotline gives it.
    pub by: String,
    /// `listen` (only hears), `whisper` (the operator hears them) or `barge` (both do).
    pub mode: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TransferPhase {
    /// The REFER is sent: the other side is calling the target.
    Asking,
    /// The target refused or did not answer; the call is still here.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TransferView {
    /// The number the call is transferred to.
    pub to: String,
    pub phase: TransferPhase,
    /// The SIP status the transfer failed with, if any.
    pub status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WrapUpView {
    pub call_id: String,
    pub customer_id: Option<String>,
    #[ts(type = "number")]
    pub started_at: Millis,
    pub limit_s: u32,
    pub open_tickets: Vec<TicketRef>,
    /// Who the call was with, for the wrap-up header.
    pub remote_number: String,
    pub customer_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PhoneSnapshot {
    pub accounts: Vec<AccountStatus>,
    pub calls: Vec<PhoneCall>,
    pub wrap_up: Option<WrapUpView>,
    pub missed_unseen: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DispositionNode {
    pub id: String,
    pub label: String,
    pub children: Vec<DispositionNode>,
}

/// Which ticket a wrapped-up call belongs to. A new ticket from a call comes with ticket
/// creation on the server (numbering is the server's), which the email and chat intake bring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TicketLink {
    None,
    Existing { ticket_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallHistoryEntry {
    pub id: String,
    pub direction: CallDirection,
    pub outcome: CallOutcome,
    pub remote_number: String,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    #[ts(type = "number")]
    pub started_at: Millis,
    pub duration_s: u32,
    pub seen: bool,
    pub disposition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AudioDevice {
    pub name: String,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct AudioDevices {
    pub inputs: Vec<AudioDevice>,
    pub outputs: Vec<AudioDevice>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub ring: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransferTarget {
    Operator { id: String },
    Department { id: String },
    Number { number: String },
}
