//! The engine's API: what a client configures, the commands it sends, the events it gets back,
//! and the handle it holds.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use okno_media::session::CallStats;
use okno_sip::message::CallInfo;
pub use okno_sip::message::typed::Transport;
use okno_sip::sdp;
use okno_sip::uri::Uri;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::media::{AudioSink, AudioSource};

/// How often a [`PhoneEvent::Quality`] is reported for each call with media.
pub const QUALITY_EVERY: Duration = Duration::from_secs(2);

/// How long `Shutdown` waits for BYE, CANCEL and un-REGISTER to be answered before the
/// calls left are ended (cause `shutdown`) and the task stops anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the engine is told once, at [`spawn`].
#[derive(Clone)]
pub struct EngineConfig {
    /// Where SIP is received and sent from. Port 0 picks a free port (see
    /// [`PhoneHandle::local_addr`]). An unspecified IP (0.0.0.0) needs `registrar`: the address
    /// of the interface towards it is what Contact, Via and SDP carry.
    pub listen: SocketAddr,
    /// How our requests travel: UDP, or TCP (a connection per peer, opened when first needed
    /// and reused; incoming connections accepted on `listen`'s port). UDP is received either
    /// way. TLS connects to the registrar only (see `engine/stream.rs`). WebSocket is refused
    /// by [`spawn`] for now.
    pub transport: Transport,
    /// Our address of record, `sip:USER@DOMAIN`.
    pub account: Option<Uri>,
    /// REGISTER there (when `account` is set too) and send new calls through it.
    pub registrar: Option<SocketAddr>,
    /// The digest password. A secret: `Debug` prints `***`, and it is never logged.
    pub password: Option<String>,
    /// Voice codecs in preference order, then telephone-event (see [`parse_codecs`]).
    pub codecs: Vec<sdp::Codec>,
    /// First RTP port to try; 0 picks one from the process id.
    pub rtp_port: u16,
    /// Binding lifetime asked of the registrar, in seconds.
    pub register_expires: u32,
    /// The User-Agent header; empty for none.
    pub user_agent: String,
    /// SRTP with SDES keys (RFC 4568): off, offered (falls back to RTP), or required (calls
    /// without it are refused with 488 or hung up). Keys are drawn per call from the OS RNG.
    pub srtp: sdp::SrtpPolicy,
    /// With a registrar: take new calls only from its address (403 for others), so nobody on
    /// the network can ring the desk around the PBX. On by default.
    pub calls_only_from_registrar: bool,
    /// Calls are also taken from these addresses when `calls_only_from_registrar` holds: a
    /// PBX's trunk that delivers calls from another host than the registrar (the hotline's).
    pub trusted_peers: Vec<IpAddr>,
    /// Calls at once (incoming and outgoing); a new INVITE beyond it is answered 486 Busy
    /// Here, so a flood of calls cannot take every RTP port and the desk's attention.
    pub max_calls: usize,
    /// SIP over TLS: whom to trust and the registrar's name (see [`SipTls`]). Needed when
    /// `transport` is TLS.
    pub tls: Option<SipTls>,
    /// Hosts a peer's REFER may send this phone to (`None`: any). A desk keeps transfers
    /// inside its PBX, so a caller cannot make it dial out to a number of the caller's choosing.
    pub refer_hosts: Option<Vec<String>>,
    /// libopus's effort (0-10) for what this phone sends as Opus; `None`: libopus's default. A
    /// gateway that carries many calls trades a little quality it does not need for CPU.
    pub opus_complexity: Option<i32>,
    /// How often the registrar is probed while registered (OPTIONS over UDP, a CRLF ping over
    /// TCP and TLS); `None`: never. A probe unanswered for ten seconds (or this interval, if
    /// shorter) reports the registration failed and registers again, so a desk whose network
    /// or registrar went away shows it within one interval and is back as soon as they are.
    pub keepalive: Option<std::time::Duration>,
    /// The session timer our INVITEs ask for (RFC 4028), in seconds; `None`: none asked (a
    /// peer's is still agreed to). A call whose peer vanished without a BYE ends within it.
    pub session_expires: Option<u32>,
    /// The shortest session timer agreed to (RFC 4028's Min-SE); shorter asks get 422. The RFC
    /// floor is 90 s; tests set less to watch a timer run out.
    pub min_se: u32,
    /// Register as soon as the engine starts (with an account and registrar); `false`: only on
    /// [`PhoneCommand::Register`]. A standby hotline waits so, to take calls only when asked.
    pub register_at_start: bool,
}

impl EngineConfig {
    /// No account, no registrar; PCMU, PCMA and telephone-event; RTP ports from the process id;
    /// 300 s registrations probed every 30 s.
    pub fn new(listen: SocketAddr) -> Self {
        EngineConfig {
            listen,
            transport: Transport::Udp,
            account: None,
            registrar: None,
            password: None,
            // Both are implemented: the `default_config` test checks it.
            codecs: parse_codecs("pcmu,pcma").expect("pcmu and pcma are implemented codecs"),
            rtp_port: 0,
            register_expires: 300,
            user_agent: format!("okno-phone/{}", env!("CARGO_PKG_VERSION")),
            srtp: sdp::SrtpPolicy::Off,
            calls_only_from_registrar: true,
            trusted_peers: Vec::new(),
            max_calls: 16,
            refer_hosts: None,
            tls: None,
            opus_complexity: None,
            keepalive: Some(std::time::Duration::from_secs(30)),
            session_expires: Some(1800),
            min_se: okno_sip::session_timer::MIN_SE,
            register_at_start: true,
        }
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("listen", &self.listen)
            .field("transport", &self.transport)
            .field("account", &self.account.as_ref().map(ToString::to_string))
            .field("registrar", &self.registrar)
            .field("calls_only_from_registrar", &self.calls_only_from_registrar)
            .field("trusted_peers", &self.trusted_peers)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("codecs", &self.codecs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>())
            .field("rtp_port", &self.rtp_port)
            .field("register_expires", &self.register_expires)
            .field("user_agent", &self.user_agent)
            .field("srtp", &self.srtp)
            .field("tls", &self.tls.as_ref().map(|t| &t.server_name))
            .finish()
    }
}

/// How the phone speaks TLS to its registrar: the certificates it trusts and the name the
/// registrar's certificate must carry (its domain, or its IP address).
#[derive(Clone)]
pub struct SipTls {
    pub client: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    pub server_name: String,
}

impl SipTls {
    /// The Mozilla roots plus the certificates in `ca_pem` (a center's own CA), for `server_name`.
    pub fn new(ca_pem: Option<&[u8]>, server_name: &str) -> Result<SipTls, EngineError> {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::CertificateDer;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        let bad = |what: String| EngineError::Config(format!("SIP over TLS: {what}"));
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(pem) = ca_pem {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                roots
                    .add(cert.map_err(|e| bad(format!("the CA file: {e}")))?)
                    .map_err(|e| bad(format!("the CA file: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(bad("the CA file holds no PEM certificate".into()));
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(SipTls { client: std::sync::Arc::new(client), server_name: server_name.to_owned() })
    }
}

/// The voice codecs named in `list` (comma-separated, e.g. `pcma,pcmu`), in that order, plus
/// telephone-event. Only codecs the media engine implements are accepted.
pub fn parse_codecs(list: &str) -> Result<Vec<sdp::Codec>, EngineError> {
    let known = sdp::default_codecs();
    let mut codecs = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let codec = known
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name) && !c.is_telephone_event())
            .ok_or_else(|| EngineError::UnknownCodec(name.to_owned()))?;
        if okno_media::session::Codec::from_encoding(&codec.name, codec.clock_rate).is_none() {
            return Err(EngineError::UnsupportedCodec(name.to_owned()));
        }
        codecs.push(codec.clone());
    }
    if codecs.is_empty() {
        return Err(EngineError::NoCodec);
    }
    codecs.extend(known.into_iter().filter(|c| c.is_telephone_event()));
    Ok(codecs)
}

/// Why the engine could not start or take a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The reason is the error's `source()` (shown by `{:#}` in anyhow).
    #[error("cannot listen on {addr}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    /// The engine task has ended (after `Shutdown`, or every handle was dropped).
    #[error("the phone engine has stopped")]
    Stopped,
    #[error("unknown codec {0} (known: pcmu, pcma, opus)")]
    UnknownCodec(String),
    #[error("codec {0} is not implemented yet (use pcmu, pcma or opus)")]
    UnsupportedCodec(String),
    #[error("no voice codec given")]
    NoCodec,
    /// The configuration cannot work, e.g. the account is not a `sip:` URI.
    #[error("{0}")]
    Config(String),
}

/// Supplies each call's audio: the headless phone gives WAV files or silence, the desktop
/// gives sound devices.
pub trait MediaIo: Send + 'static {
    /// Called when a call's media starts; `number` = 1, 2, ... per call of this engine
    /// (incoming and outgoing); `rate` = the codec's PCM rate.
    fn open(&mut self, call_id: &str, number: u32, rate: u32) -> (Box<dyn AudioSource>, Box<dyn AudioSink>);
}

/// What a client can ask of the engine.
#[derive(Debug, Clone)]
pub enum PhoneCommand {
    /// Place a call (through the registrar if one is configured, else to the URI's host, which
    /// must be an IP address). [`PhoneEvent::Calling`] tells the new call's id.
    Dial {
        to: Uri,
        /// Our From display name on this call (a website call's visitor, for the desk's screen).
        display_name: Option<String>,
        /// Call-Info entries to send (a website call's page and chat ticket, for the screen pop).
        call_info: Vec<CallInfo>,
    },
    /// Answer a ringing incoming call.
    Answer { call_id: String },
    /// Refuse a ringing incoming call with this final status (486, 480, 603, ...; 300–699).
    Reject { call_id: String, status: u16 },
    /// Answered: BYE. Outgoing, not answered yet: CANCEL (sent once the peer's first
    /// provisional response is in, RFC 3261 §9.1). Incoming, ringing: 603. Hanging up a call
    /// that is already being hung up does nothing.
    Hangup { call_id: String },
    /// Our re-INVITE: `a=sendonly` to hold, `a=sendrecv` to resume; while held we send no
    /// media. [`PhoneEvent::Held`] / [`PhoneEvent::Resumed`] with `by: local` when the peer
    /// accepted.
    Hold { call_id: String, hold: bool },
    /// Send silence instead of the source (the peer is not told).
    Mute { call_id: String, muted: bool },
    /// Send these keys (0-9, *, #, A-D) as RFC 4733 events, one after another.
    Dtmf { call_id: String, keys: String },
    /// Blind transfer: ask the peer of an answered call (REFER) to call `to` instead. When the
    /// peer reports that `to` answered, [`PhoneEvent::Transferred`] and the call is hung up
    /// (cause `transferred`); otherwise [`PhoneEvent::TransferFailed`] and the call stays.
    Transfer { call_id: String, to: Uri },
    /// Attended transfer: `consult_call_id` is our answered call with the transfer target; the
    /// peer of `call_id` is asked to call the target with Replaces, which takes over our consult
    /// call. Then both our calls end (`transferred` and `remote_bye`).
    AttendedTransfer { call_id: String, consult_call_id: String },
    /// Tell the peer of an answered call that a team lead joined it (`mode`: listen, whisper,
    /// barge) or left it (`None`), by an INFO the desk reads as [`PhoneEvent::Monitored`]
    /// ([`crate::context::Monitoring`]); the hotline sends it where the center's policy says so.
    TellMonitoring { call_id: String, by: String, mode: Option<String> },
    /// Ask the [`MediaIo`] again for every running call's audio and switch to it without
    /// touching the calls (the operator picked other sound devices).
    ReopenAudio,
    /// (Re-)register now.
    Register,
    /// Remove our binding at the registrar (no refresh after it), keeping every call: a
    /// hotline handing over to another instance stops being routed new calls this way.
    /// [`PhoneEvent::Unregistered`] when the registrar agreed.
    Unregister,
    /// Unregister if registered, hang up every call, stop media, then the task ends.
    Shutdown,
}

/// Which way a call was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Inbound,
    Outbound,
}

/// Who put a call on hold or took it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Local,
    Remote,
}

/// Why a command was refused ([`PhoneEvent::Error`]); the UI branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No call has this id (it may have just ended).
    UnknownCall,
    /// The call is not in a state for this command (e.g. answering an answered call).
    InvalidState,
    /// A bad argument: a status outside 300–699, a key that is not DTMF.
    InvalidArgument,
    /// The call could not be placed (target not reachable, no RTP ports); no call id exists.
    DialFailed,
    /// The peer refused our hold or resume re-INVITE, or did not answer it.
    HoldFailed,
    /// A transfer cannot start: the call is not answered, or one is already under way.
    TransferFailed,
    /// No registrar or account is configured.
    NotConfigured,
    /// The engine is shutting down.
    ShuttingDown,
}

/// A call's media figures, as in the `ended` and `quality` events. Percentages, jitter, RTT
/// and MOS are rounded to two decimals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaSummary {
    pub codec: String,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub packets_lost: i64,
    pub loss_percent: f64,
    pub remote_loss_percent: Option<f64>,
    pub jitter_ms: f64,
    pub rtt_ms: Option<f64>,
    pub jitter_buffer_ms: f64,
    pub concealed_frames: u64,
    pub late_packets: u64,
    pub dtmf_sent: u32,
    pub dtmf_received: u32,
    pub mos: f64,
}

impl From<&CallStats> for MediaSummary {
    fn from(s: &CallStats) -> Self {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        MediaSummary {
            codec: s.codec.to_owned(),
            packets_sent: s.packets_sent,
            packets_received: s.packets_received,
            packets_lost: s.packets_lost,
            loss_percent: round(s.loss_percent),
            remote_loss_percent: s.remote_loss_percent.map(round),
            jitter_ms: round(s.jitter_ms),
            rtt_ms: s.rtt_ms.map(round),
            jitter_buffer_ms: round(s.jitter_delay_ms),
            concealed_frames: s.jitter_buffer.concealed,
            late_packets: s.jitter_buffer.late,
            dtmf_sent: s.dtmf_sent,
            dtmf_received: s.dtmf_received,
            mos: round(s.mos),
        }
    }
}

/// Why a call ended. Serialized and displayed as the `cause` text of the `ended` event
/// (`local_bye`, `status_486`, ...), which is what `okno-phone --json-events` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// We hung up.
    LocalBye,
    /// The peer hung up.
    RemoteBye,
    /// The caller gave up before we answered.
    Cancelled,
    /// We gave up before the peer answered.
    LocalCancel,
    /// We refused the call.
    LocalReject,
    /// The peer refused our call with this final status.
    Status(u16),
    /// No answer to INVITE or BYE.
    Timeout,
    /// We transferred the peer elsewhere.
    Transferred,
    /// A transfer to us took the call over (Replaces).
    Replaced,
    /// The peer would not encrypt media that this side requires encrypted.
    SrtpRefused,
    /// The session timer ran out (RFC 4028): the peer stopped refreshing the call, or our
    /// refresh found no dialog.
    SessionExpired,
    /// The engine shut down with the call up.
    Shutdown,
}

impl EndReason {
    /// Ended as a conversation ends: one side hung up, or the call went on elsewhere.
    pub fn is_clean(self) -> bool {
        matches!(self, EndReason::LocalBye | EndReason::RemoteBye | EndReason::Transferred)
    }

    /// The peer's final status, when it refused our call.
    pub fn status(self) -> Option<u16> {
        match self {
            EndReason::Status(status) => Some(status),
            _ => None,
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            EndReason::Status(status) => return write!(f, "status_{status}"),
            EndReason::LocalBye => "local_bye",
            EndReason::RemoteBye => "remote_bye",
            EndReason::Cancelled => "cancelled",
            EndReason::LocalCancel => "local_cancel",
            EndReason::LocalReject => "local_reject",
            EndReason::Timeout => "timeout",
            EndReason::Transferred => "transferred",
            EndReason::Replaced => "replaced",
            EndReason::SrtpRefused => "srtp_refused",
            EndReason::SessionExpired => "session_expired",
            EndReason::Shutdown => "shutdown",
        };
        f.write_str(text)
    }
}

impl Serialize for EndReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn serialize_call_info<S: serde::Serializer>(entries: &[CallInfo], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    #[derive(Serialize)]
    struct Entry<'a> {
        uri: &'a str,
        purpose: Option<&'a str>,
    }
    let mut seq = serializer.serialize_seq(Some(entries.len()))?;
    for e in entries {
        seq.serialize_element(&Entry { uri: e.uri(), purpose: e.purpose() })?;
    }
    seq.end()
}

/// What the engine reports. Serialized (serde, `{"event": "snake_case_name", ...}`) these are
/// exactly the lines `okno-phone --json-events` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PhoneEvent {
    /// The registrar bound our Contact for `expires` seconds; a refresh is scheduled.
    Registered {
        expires: u32,
    },
    /// The binding is gone (after `Shutdown`, or the registrar dropped it).
    Unregistered,
    /// REGISTER failed with this status (`None`: no answer); a retry follows in 60 s.
    RegistrationFailed {
        status: Option<u16>,
    },
    /// A new call is ringing here. `from`/`to` are the URIs; `display_name` is the From
    /// display name, if any.
    Incoming {
        call_id: String,
        from: String,
        to: String,
        display_name: Option<String>,
        /// The INVITE's Call-Info entries (`[{"uri", "purpose"}]`); a malformed header gives
        /// none rather than refusing the call.
        #[serde(serialize_with = "serialize_call_info")]
        call_info: Vec<CallInfo>,
    },
    /// A call we dialed was sent: from now on it is known by `call_id`.
    Calling {
        call_id: String,
        to: String,
    },
    /// The peer rings (180) or plays early media (183).
    Ringing {
        call_id: String,
        status: u16,
    },
    Answered {
        call_id: String,
        direction: CallDirection,
    },
    /// Media flows: the negotiated codec, the peer's RTP address, our RTP port, and the
    /// telephone-event payload type (`None`: no RFC 4733 DTMF).
    Media {
        call_id: String,
        codec: String,
        remote: String,
        local_port: u16,
        telephone_event: Option<u8>,
        /// The SRTP crypto suite, when the media is encrypted.
        srtp: Option<String>,
    },
    Held {
        call_id: String,
        by: Party,
    },
    Resumed {
        call_id: String,
        by: Party,
    },
    /// A DTMF key the peer pressed (RFC 4733).
    Dtmf {
        call_id: String,
        key: String,
    },
    /// The peer says a team lead joined the call as `mode` (listen, whisper, barge), or left
    /// it (`None`); see [`PhoneCommand::TellMonitoring`]. Any peer can say it: the desk heeds
    /// it on a hotline call only.
    Monitored {
        call_id: String,
        by: String,
        mode: Option<String>,
    },
    /// The peer refused our call with this final status; `Ended` follows.
    Rejected {
        call_id: String,
        status: u16,
    },
    /// The peer agreed to our transfer (202 to the REFER) and is calling `to`.
    Transferring {
        call_id: String,
        to: String,
    },
    /// `to` answered the peer: the transfer is done and this call is hung up next (cause
    /// `transferred`).
    Transferred {
        call_id: String,
        to: String,
    },
    /// The transfer did not happen: the peer refused the REFER, or `to` refused or did not
    /// answer (`status` is what the peer reported, `None`: no answer). The call stays up.
    TransferFailed {
        call_id: String,
        to: String,
        status: Option<u16>,
    },
    /// The peer of `call_id` asked us to call `to` (it transfers us); `new_call_id` is that
    /// call, whose `calling` event came just before. The peer is told how it goes.
    Referred {
        call_id: String,
        to: String,
        new_call_id: String,
    },
    /// A call from `from` took over our call `replaces` (an attended transfer to us, RFC 3891):
    /// it is answered at once, and `replaces` is hung up (cause `replaced`).
    Replaced {
        call_id: String,
        replaces: String,
        from: String,
    },
    /// The media figures of a call so far, every [`QUALITY_EVERY`].
    Quality {
        call_id: String,
        stats: MediaSummary,
    },
    /// The call is over, for the [`EndReason`] `cause`. Durations in seconds, rounded to ms;
    /// `media` is `None` when no media ran.
    Ended {
        call_id: String,
        cause: EndReason,
        answered: bool,
        duration_s: f64,
        talk_s: f64,
        outgoing: bool,
        media: Option<MediaSummary>,
    },
    /// A SIP message that could not be parsed; `responded`: a 400 was sent back.
    Malformed {
        from: String,
        error: String,
        responded: bool,
    },
    /// A command was refused; `call_id` names the call it was about, if any.
    Error {
        code: ErrorCode,
        call_id: Option<String>,
        message: String,
    },
}

/// Sends commands to a running engine. Cheap to clone; when every clone is dropped the engine
/// shuts down.
#[derive(Debug, Clone)]
pub struct PhoneHandle {
    pub(super) commands: mpsc::UnboundedSender<PhoneCommand>,
    pub(super) local_addr: SocketAddr,
}

impl PhoneHandle {
    /// Queues a command; `Err(Stopped)` once the engine task has ended.
    pub fn send(&self, cmd: PhoneCommand) -> Result<(), EngineError> {
        self.commands.send(cmd).map_err(|_| EngineError::Stopped)
    }

    /// The address the SIP socket is bound to (the real port when `listen` said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}
