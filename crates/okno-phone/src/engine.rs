//! The phone engine: one tokio task that owns the SIP socket and the clock, drives the sans-IO
//! `okno-sip` [`UserAgent`] (and a [`Registration`]) and each call's media task, takes
//! [`PhoneCommand`]s and reports [`PhoneEvent`]s. The desktop app and the headless `okno-phone`
//! binary are both clients of it: they decide *when* to dial, answer, hold or hang up (a person
//! clicking, or a command-line policy on timers); the engine does the SIP and the media.
//!
//! # Using it
//!
//! [`spawn`] binds the UDP socket, starts the registration if one is configured and returns a
//! [`PhoneHandle`] for commands and the task's `JoinHandle` ([`bind`] returns the engine as a
//! future instead, for a caller that drives it itself). Events arrive on the channel given to
//! `spawn`, in the order they happened (DTMF events come straight from the media tasks).
//! Every command either shows its effect as events or answers with [`PhoneEvent::Error`]
//! (`code` says why: an unknown call id, a call in the wrong state, ...); nothing is silently
//! dropped, and nothing a client sends can stop the engine except `Shutdown`. Dropping every
//! handle is a `Shutdown` too.
//!
//! [`PhoneCommand::Shutdown`] removes the registration, hangs up every call, waits for the
//! answers up to [`SHUTDOWN_GRACE`], stops every call's media (RTCP BYE sent, recordings
//! closed) and then ends the task; the events channel closes after the last event.
//!
//! Transfers (RFC 3515 REFER, RFC 3891 Replaces, RFC 5589 call flows) live in [`transfer`]:
//! blind and attended as the transferor, following a REFER as the transferee, and taking over a
//! call with Replaces as the transfer target.
//!
//! Today: UDP only; no Record-Route (in-dialog requests go straight to the peer's Contact);
//! a re-INVITE cannot move the media to another address or codec.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use okno_media::session::{CallStats, MediaEvent};
use okno_sip::auth::Credentials;
use okno_sip::message::typed::{NameAddr, Transport};
use okno_sip::message::{HeaderName, Message, Method, Request, Response};
use okno_sip::sdp::{self, Direction, MediaConfig};
use okno_sip::transaction::TransactionKey;
use okno_sip::ua::{Output, Registration, RegistrationConfig, RegistrationEvent, UaConfig, UaEvent, UserAgent};
use okno_sip::uri::{Host, Uri};
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::media::{self, AudioSink, AudioSource, MediaCommand, MediaHandle, MediaSockets};
use okno_media::srtp::SrtpProfile;

mod transfer;

/// How often a [`PhoneEvent::Quality`] is reported for each call with media.
pub const QUALITY_EVERY: Duration = Duration::from_secs(2);

/// At most this many datagrams (or commands) are handled per wake-up before timers are
/// checked and other tasks get a turn.
const BATCH: usize = 64;

/// How long `Shutdown` waits for BYE, CANCEL and un-REGISTER to be answered before the
/// calls left are ended (cause `shutdown`) and the task stops anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the engine is told once, at [`spawn`].
#[derive(Clone)]
pub struct EngineConfig {
    /// Where SIP is received and sent from; UDP only for now. Port 0 picks a free port (see
    /// [`PhoneHandle::local_addr`]). An unspecified IP (0.0.0.0) needs `registrar`: the address
    /// of the interface towards it is what Contact, Via and SDP carry.
    pub listen: SocketAddr,
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
}

impl EngineConfig {
    /// No account, no registrar; PCMU, PCMA and telephone-event; RTP ports from the process id;
    /// 300 s registrations.
    pub fn new(listen: SocketAddr) -> Self {
        EngineConfig {
            listen,
            account: None,
            registrar: None,
            password: None,
            // Both are implemented: the `default_config` test checks it.
            codecs: parse_codecs("pcmu,pcma").expect("pcmu and pcma are implemented codecs"),
            rtp_port: 0,
            register_expires: 300,
            user_agent: format!("okno-phone/{}", env!("CARGO_PKG_VERSION")),
            srtp: sdp::SrtpPolicy::Off,
        }
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("listen", &self.listen)
            .field("account", &self.account.as_ref().map(ToString::to_string))
            .field("registrar", &self.registrar)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("codecs", &self.codecs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>())
            .field("rtp_port", &self.rtp_port)
            .field("register_expires", &self.register_expires)
            .field("user_agent", &self.user_agent)
            .field("srtp", &self.srtp)
            .finish()
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
    Dial { to: Uri },
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
    /// Ask the [`MediaIo`] again for every running call's audio and switch to it without
    /// touching the calls (the operator picked other sound devices).
    ReopenAudio,
    /// (Re-)register now.
    Register,
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
    /// The call is over. `cause`: `local_bye`, `remote_bye`, `cancelled` (the caller gave up
    /// before we answered), `local_cancel` (we gave up before the peer answered),
    /// `local_reject` (we refused it), `status_NNN` (the peer refused it), `timeout` (no
    /// answer to INVITE or BYE), `transferred` (we transferred the peer elsewhere), `replaced`
    /// (a transfer to us took it over), `shutdown`. Durations in seconds, rounded to ms; `media` is
    /// `None` when no media ran.
    Ended {
        call_id: String,
        cause: String,
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
    commands: mpsc::UnboundedSender<PhoneCommand>,
    local_addr: SocketAddr,
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

/// Binds the UDP socket (an error if it cannot), starts registration if configured, and runs
/// the engine on a tokio task. Must be called inside a tokio runtime with IO and time enabled.
pub async fn spawn(
    config: EngineConfig,
    media: Box<dyn MediaIo>,
    events: mpsc::UnboundedSender<PhoneEvent>,
) -> Result<(PhoneHandle, tokio::task::JoinHandle<()>), EngineError> {
    let (handle, engine) = bind(config, media, events).await?;
    Ok((handle, tokio::spawn(engine)))
}

/// Like [`spawn`], but hands the engine back as a future for the caller to drive. The headless
/// phone polls it inside its `block_on` future: tokio's current-thread scheduler polls that
/// future ahead of the queue of spawned tasks, so under load SIP is not kept waiting behind
/// hundreds of 20 ms media ticks. Nothing happens (not even the first REGISTER is sent) until
/// the future is polled.
pub async fn bind(
    config: EngineConfig,
    media: Box<dyn MediaIo>,
    events: mpsc::UnboundedSender<PhoneEvent>,
) -> Result<(PhoneHandle, impl Future<Output = ()> + Send + 'static), EngineError> {
    let socket =
        UdpSocket::bind(config.listen).await.map_err(|source| EngineError::Bind { addr: config.listen, source })?;
    let bound = socket.local_addr().map_err(|source| EngineError::Bind { addr: config.listen, source })?;
    let ip = advertised_ip(bound.ip(), config.registrar)?;
    // What Contact, Via, Call-IDs and SDP say: the real port even when `listen` asked for 0.
    let local = SocketAddr::new(ip, bound.port());
    let user = match &config.account {
        Some(Uri::Sip(s)) => s.user.clone().unwrap_or_else(|| "okno".into()),
        _ => "okno".into(),
    };
    let contact = format!("<sip:{user}@{local}>");
    let our_uri = match &config.account {
        Some(a) => a.clone(),
        None => Uri::parse(&format!("sip:{user}@{local}")).map_err(|e| EngineError::Config(e.to_string()))?,
    };
    let ua_config = UaConfig {
        via_host: match ip {
            IpAddr::V4(v4) => Host::Ipv4(v4),
            IpAddr::V6(v6) => Host::Ipv6(v6),
        },
        via_port: Some(local.port()),
        transport: Transport::Udp,
        timers: Default::default(),
        parser: Default::default(),
        id_prefix: id_prefix(),
        user_agent: (!config.user_agent.is_empty()).then(|| config.user_agent.clone()),
    };
    let mut ua = UserAgent::new(ua_config);
    let now = Instant::now();
    let mut reg = None;
    if let (Some(registrar), Some(account)) = (config.registrar, config.account.clone()) {
        let Uri::Sip(sip) = &account else {
            return Err(EngineError::Config("the account must be a sip: URI".into()));
        };
        let registrar_uri = Uri::parse(&format!("sip:{}", sip.host)).map_err(|e| EngineError::Config(e.to_string()))?;
        let cfg = RegistrationConfig {
            registrar: registrar_uri,
            registrar_addr: registrar,
            aor: NameAddr::new(account.clone()),
            contact: NameAddr::parse(&contact).map_err(|e| EngineError::Config(e.to_string()))?,
            expires: config.register_expires,
            credentials: config
                .password
                .clone()
                .map(|password| Credentials { username: sip.user.clone().unwrap_or_default(), password }),
        };
        let mut r = Registration::new(cfg, &mut ua);
        r.register(now, &mut ua);
        reg = Some(r);
    }
    let (commands, rx) = mpsc::unbounded_channel();
    let engine = Engine {
        bound_to_registrar: reg.is_some(),
        config,
        local,
        contact,
        our_uri,
        ua,
        reg,
        unregistering: false,
        calls: HashMap::new(),
        calls_seen: 0,
        media_io: media,
        events,
        stopping: Vec::new(),
        next_quality: now + QUALITY_EVERY,
        shutdown_by: None,
    };
    Ok((PhoneHandle { commands, local_addr: bound }, engine.run(socket, rx)))
}

/// The IP we are reached at: the bound one, or for 0.0.0.0 the one of the interface that
/// routes to the registrar (no packet is sent to find it).
fn advertised_ip(bound: IpAddr, registrar: Option<SocketAddr>) -> Result<IpAddr, EngineError> {
    if !bound.is_unspecified() {
        return Ok(bound);
    }
    let unreachable = || {
        EngineError::Config(format!(
            "listening on {bound} needs a registrar to tell which address to advertise; listen on an interface's IP"
        ))
    };
    let registrar = registrar.ok_or_else(unreachable)?;
    let probe = std::net::UdpSocket::bind(SocketAddr::new(bound, 0)).map_err(|_| unreachable())?;
    probe.connect(registrar).map_err(|_| unreachable())?;
    probe.local_addr().map(|a| a.ip()).map_err(|_| unreachable())
}

/// Unique across processes, restarts and engines of one process: tags and Call-IDs must
/// never repeat.
fn id_prefix() -> String {
    static ENGINES: AtomicU64 = AtomicU64::new(0);
    let n = ENGINES.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    format!("ok{:x}{nanos:x}{n:x}x", std::process::id())
}

fn target_addr(uri: &Uri) -> Option<SocketAddr> {
    match uri {
        Uri::Sip(s) => match &s.host {
            Host::Ipv4(ip) => Some(SocketAddr::new(IpAddr::V4(*ip), s.port.unwrap_or(5060))),
            Host::Ipv6(ip) => Some(SocketAddr::new(IpAddr::V6(*ip), s.port.unwrap_or(5060))),
            Host::Domain(_) => None,
        },
        _ => None,
    }
}

fn sends(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::SendOnly)
}

fn receives(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::RecvOnly)
}

/// The direction of the first active audio stream of a description.
fn audio_direction(s: &sdp::Session) -> Option<Direction> {
    s.media.iter().find(|m| m.kind == "audio" && m.port != 0).map(|m| m.direction(s.direction()))
}

/// Our offer of an outgoing call as far as SRTP needs it: its audio stream with the crypto
/// lines we sent (the rest of the description does not matter for pairing keys).
fn call_offer(call: Option<&Call>) -> sdp::Session {
    let mut s = sdp::Session::parse(b"v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n")
        .expect("a constant, valid description");
    if let Some(call) = call {
        for c in &call.crypto {
            s.media[0].attributes.push(sdp::Attribute::value("crypto", c.to_string()));
        }
    }
    s
}

/// One call's dialog state, as much as the engine needs.
struct Call {
    outgoing: bool,
    /// Where in-dialog requests go (the peer's Contact, or the proxy).
    peer: SocketAddr,
    remote_target: Uri,
    local: NameAddr,
    remote: NameAddr,
    local_cseq: u32,
    invite: Option<TransactionKey>,
    /// The INVITE we received (incoming calls), answered later.
    invite_request: Option<Request>,
    /// Incoming: the peer's offer and our answer, prepared when the INVITE came in.
    offer: Option<sdp::Session>,
    answer: Option<sdp::Session>,
    started: Instant,
    answered: Option<Instant>,
    /// Outgoing: a provisional response came, so a CANCEL may be sent (RFC 3261 §9.1).
    provisional: bool,
    /// Outgoing: hung up before the answer; the CANCEL is sent once `provisional`.
    cancelling: bool,
    cancel_sent: bool,
    bye: Option<TransactionKey>,
    /// Our pending re-INVITE and whether it holds (true) or resumes.
    reinvite: Option<(TransactionKey, bool)>,
    /// Which call of this engine (1, 2, ...), for the `MediaIo`.
    number: u32,
    /// Bound at INVITE time so the SDP can name the port; handed to the media task at answer.
    sockets: Option<MediaSockets>,
    rtp_port: u16,
    media: Option<MediaHandle>,
    /// `o=` version of the last description we sent (RFC 3264 §8: +1 for each new one).
    sdp_version: u64,
    /// The negotiated voice codec (encoding, clock rate); re-offers keep to it.
    codec: Option<(String, u32)>,
    local_hold: bool,
    /// The peer's last description says it receives (false: it holds the call).
    peer_receives: bool,
    muted: bool,
    /// Transferor: the transfer target asked of the peer, until its NOTIFY says how it went;
    /// and our REFER while it has no final answer.
    transfer_to: Option<String>,
    refer: Option<TransactionKey>,
    /// Transferee, on the call placed because of a REFER: the referring call and the REFER's
    /// CSeq (the subscription id), told of our progress by NOTIFY.
    referred_by: Option<(String, u32)>,
    /// Why the call ends when our BYE is answered, if not `local_bye`.
    end_cause: Option<&'static str>,
    /// The PCM rate the media runs at, for reopening its audio.
    pcm_rate: u32,
    /// Outgoing: our INVITE as first sent (without Via), to send again with credentials when
    /// the peer or a proxy challenges it; cleared once it was (one try: a second challenge is
    /// a wrong password).
    unauthorized_invite: Option<Request>,
    /// Our `a=crypto` lines: offered (outgoing, until the answer) or in use. Re-offers and
    /// re-answers repeat the one in use, since the media task cannot change keys.
    crypto: Vec<sdp::Crypto>,
}

impl Call {
    /// A call leg as it starts, in either direction: the dialog's parties, our INVITE transaction
    /// (sent or received) and the RTP ports bound for it; everything else begins empty.
    #[allow(clippy::too_many_arguments)]
    fn new(
        outgoing: bool,
        peer: SocketAddr,
        remote_target: Uri,
        local: NameAddr,
        remote: NameAddr,
        invite: TransactionKey,
        number: u32,
        sockets: MediaSockets,
        started: Instant,
    ) -> Call {
        Call {
            outgoing,
            peer,
            remote_target,
            local,
            remote,
            local_cseq: 0,
            invite: Some(invite),
            invite_request: None,
            offer: None,
            answer: None,
            started,
            answered: None,
            provisional: false,
            cancelling: false,
            cancel_sent: false,
            bye: None,
            reinvite: None,
            number,
            rtp_port: sockets.rtp_port(),
            sockets: Some(sockets),
            media: None,
            sdp_version: 1,
            codec: None,
            local_hold: false,
            peer_receives: true,
            muted: false,
            transfer_to: None,
            refer: None,
            referred_by: None,
            end_cause: None,
            pcm_rate: 0,
            unauthorized_invite: None,
            crypto: Vec::new(),
        }
    }

    /// Whether our media should send: not held by either side.
    fn sending(&self) -> bool {
        !self.local_hold && self.peer_receives
    }

    /// The direction we want in an offer or answer.
    fn our_direction(&self) -> Direction {
        if self.local_hold { Direction::SendOnly } else { Direction::SendRecv }
    }
}

struct Engine {
    config: EngineConfig,
    /// Our address as the peers see it (the real port, the advertised IP).
    local: SocketAddr,
    contact: String,
    /// From of our calls: the account, or `sip:okno@IP:PORT`.
    our_uri: Uri,
    ua: UserAgent,
    reg: Option<Registration>,
    /// A REGISTER was sent or succeeded and no un-REGISTER since: `Shutdown` removes it.
    bound_to_registrar: bool,
    unregistering: bool,
    calls: HashMap<String, Call>,
    calls_seen: u32,
    media_io: Box<dyn MediaIo>,
    events: mpsc::UnboundedSender<PhoneEvent>,
    /// Media tasks sending their RTCP BYE and closing recordings; awaited at shutdown.
    stopping: Vec<tokio::task::JoinHandle<CallStats>>,
    next_quality: Instant,
    /// Set by `Shutdown`: the task ends when nothing is pending or at this instant.
    shutdown_by: Option<Instant>,
}

impl Engine {
    async fn run(mut self, socket: UdpSocket, mut commands: mpsc::UnboundedReceiver<PhoneCommand>) {
        self.drive(&socket).await;
        let mut buf = vec![0u8; 65_536];
        loop {
            if self.finished(Instant::now()) {
                break;
            }
            let deadline = self.next_deadline();
            tokio::select! {
                _ = socket.readable() => {}
                _ = tokio::time::sleep_until(deadline.into()) => {}
                command = commands.recv(), if self.shutdown_by.is_none() => {
                    let now = Instant::now();
                    match command {
                        Some(c) => self.command(now, c),
                        None => self.begin_shutdown(now),
                    }
                    self.drive(&socket).await;
                    for _ in 0..BATCH {
                        let Ok(c) = commands.try_recv() else { break };
                        self.command(Instant::now(), c);
                        self.drive(&socket).await;
                    }
                }
            }
            // What is queued on the socket is taken now, in a batch that leaves the coop
            // budget alone: under load, SIP waiting a scheduler round (dozens of media ticks)
            // per datagram falls behind and the peers retransmit.
            for _ in 0..BATCH {
                match socket.try_recv_from(&mut buf) {
                    Ok((n, from)) => {
                        self.ua.handle_datagram(Instant::now(), from, &buf[..n]);
                        self.drive(&socket).await;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        // E.g. an ICMP port unreachable reported on some platforms: not fatal.
                        tracing::debug!(error = %e, "SIP socket receive error");
                        break;
                    }
                }
            }
            // Timers are checked against the clock after every wake-up, not only when the
            // sleep fires: under steady traffic the socket may be ready every time.
            let now = Instant::now();
            if now >= deadline {
                self.on_timers(now);
                self.drive(&socket).await;
            }
        }
        self.finish().await;
    }

    fn emit(&self, event: PhoneEvent) {
        // The client may have dropped its receiver; the engine keeps working for the calls.
        let _ = self.events.send(event);
    }

    fn error(&self, code: ErrorCode, call_id: Option<&str>, message: impl Into<String>) {
        let message = message.into();
        // The client hears of it through the event; this is for the log file.
        tracing::info!(?code, call_id, message, "phone command refused");
        self.emit(PhoneEvent::Error { code, call_id: call_id.map(str::to_owned), message });
    }

    fn unknown_call(&self, call_id: &str) {
        self.error(ErrorCode::UnknownCall, Some(call_id), "no call with this id");
    }

    fn media_config(
        &self,
        rtp_port: u16,
        direction: Direction,
        codecs: Vec<sdp::Codec>,
        crypto: Vec<sdp::Crypto>,
    ) -> MediaConfig {
        // A running plain call stays plain when re-offered, whatever the policy.
        let srtp = if crypto.is_empty() { sdp::SrtpPolicy::Off } else { self.config.srtp };
        MediaConfig {
            address: self.local.ip(),
            rtp_port,
            codecs,
            ptime: Some(20),
            direction,
            session_id: 1,
            srtp,
            crypto,
        }
    }

    /// Fresh `a=crypto` lines for a new call, one per suite we implement; none when SRTP is off.
    fn fresh_crypto(&self) -> Result<Vec<sdp::Crypto>, getrandom::Error> {
        if self.config.srtp == sdp::SrtpPolicy::Off {
            return Ok(Vec::new());
        }
        let mut lines = Vec::new();
        for (tag, profile) in (1..).zip(SrtpProfile::ALL) {
            let mut key = vec![0u8; okno_media::srtp::KEY_SALT_LEN];
            getrandom::fill(&mut key)?;
            lines.push(sdp::Crypto::new(tag, profile.sdes_name(), key));
        }
        Ok(lines)
    }

    /// The codecs a call may use: after negotiation only the running one (the media task
    /// cannot switch) and telephone-event.
    fn call_codecs(&self, call: &Call) -> Vec<sdp::Codec> {
        match &call.codec {
            Some((name, rate)) => self
                .config
                .codecs
                .iter()
                .filter(|c| c.is_telephone_event() || (c.name.eq_ignore_ascii_case(name) && c.clock_rate == *rate))
                .cloned()
                .collect(),
            None => self.config.codecs.clone(),
        }
    }

    fn bind_media(&self) -> Result<MediaSockets, media::MediaDriverError> {
        MediaSockets::bind(self.local.ip(), self.config.rtp_port)
    }

    fn finished(&self, now: Instant) -> bool {
        self.shutdown_by.is_some_and(|by| now >= by || (self.calls.is_empty() && !self.unregistering))
    }

    fn next_deadline(&self) -> Instant {
        [self.ua.poll_timeout(), self.reg.as_ref().and_then(Registration::poll_timeout), self.shutdown_by]
            .into_iter()
            .flatten()
            .fold(self.next_quality, Instant::min)
    }

    fn on_timers(&mut self, now: Instant) {
        self.ua.handle_timeout(now);
        if let Some(reg) = self.reg.as_mut()
            && self.shutdown_by.is_none()
        {
            reg.handle_timeout(now, &mut self.ua);
        }
        if now >= self.next_quality {
            self.next_quality = now + QUALITY_EVERY;
            for (id, call) in &self.calls {
                if let Some(media) = &call.media {
                    let stats = MediaSummary::from(&media.stats());
                    self.emit(PhoneEvent::Quality { call_id: id.clone(), stats });
                }
            }
        }
    }

    /// Sends what the user agent has to send and acts on its events (see the driving contract
    /// in `okno_sip::ua`).
    async fn drive(&mut self, socket: &UdpSocket) {
        while let Some(out) = self.ua.poll_output() {
            match out {
                Output::Transmit { to, bytes } => {
                    if let Err(e) = socket.send_to(&bytes, to).await {
                        tracing::warn!(%to, error = %e, "send failed");
                    }
                }
                Output::Event(ev) => {
                    let now = Instant::now();
                    if let Some(reg) = self.reg.as_mut()
                        && reg.handle_event(now, &mut self.ua, &ev)
                    {
                        let mut happened = Vec::new();
                        while let Some(r) = reg.poll_event() {
                            happened.push(r);
                        }
                        for r in happened {
                            self.on_registration(r);
                        }
                        continue;
                    }
                    self.on_event(now, ev);
                }
            }
        }
    }

    fn on_registration(&mut self, event: RegistrationEvent) {
        let event = match event {
            RegistrationEvent::Registered { expires } => {
                self.bound_to_registrar = true;
                PhoneEvent::Registered { expires }
            }
            RegistrationEvent::Unregistered => {
                self.bound_to_registrar = false;
                self.unregistering = false;
                PhoneEvent::Unregistered
            }
            RegistrationEvent::Failed { status } => {
                self.bound_to_registrar = false;
                self.unregistering = false;
                PhoneEvent::RegistrationFailed { status }
            }
        };
        self.emit(event);
    }

    fn command(&mut self, now: Instant, cmd: PhoneCommand) {
        match cmd {
            PhoneCommand::Dial { to } => self.dial(now, to),
            PhoneCommand::Answer { call_id } => self.answer(now, &call_id),
            PhoneCommand::Reject { call_id, status } => {
                if !(300..=699).contains(&status) {
                    return self.error(ErrorCode::InvalidArgument, Some(&call_id), "reject with a status 300–699");
                }
                match self.calls.get(&call_id) {
                    None => self.unknown_call(&call_id),
                    Some(c) if c.outgoing || c.answered.is_some() => self.error(
                        ErrorCode::InvalidState,
                        Some(&call_id),
                        "only a ringing incoming call can be rejected",
                    ),
                    Some(_) => self.reject(now, &call_id, status),
                }
            }
            PhoneCommand::Hangup { call_id } => self.hang_up(now, &call_id),
            PhoneCommand::Hold { call_id, hold } => self.hold(now, &call_id, hold),
            PhoneCommand::Mute { call_id, muted } => match self.calls.get_mut(&call_id) {
                Some(call) => {
                    call.muted = muted;
                    if let Some(media) = &call.media {
                        media.send(MediaCommand::Mute(muted));
                    }
                }
                None => self.unknown_call(&call_id),
            },
            PhoneCommand::Dtmf { call_id, keys } => {
                if let Some(bad) = keys.chars().find(|k| okno_media::dtmf::event_for_key(*k).is_err()) {
                    return self.error(
                        ErrorCode::InvalidArgument,
                        Some(&call_id),
                        format!("{bad:?} is not a DTMF key (0-9, *, #, A-D)"),
                    );
                }
                match self.calls.get(&call_id).map(|c| c.media.as_ref()) {
                    None => self.unknown_call(&call_id),
                    Some(None) => self.error(ErrorCode::InvalidState, Some(&call_id), "the call has no media yet"),
                    Some(Some(media)) => media.send(MediaCommand::Dtmf(keys)),
                }
            }
            PhoneCommand::Transfer { call_id, to } => self.blind_transfer(now, &call_id, &to),
            PhoneCommand::AttendedTransfer { call_id, consult_call_id } => {
                self.attended_transfer(now, &call_id, &consult_call_id)
            }
            PhoneCommand::ReopenAudio => {
                for (id, call) in &self.calls {
                    if let Some(media) = &call.media {
                        let (source, sink) = self.media_io.open(id, call.number, call.pcm_rate);
                        media.send(MediaCommand::Replace(source, sink));
                    }
                }
            }
            PhoneCommand::Register => match self.reg.as_mut() {
                Some(reg) => {
                    reg.register(now, &mut self.ua);
                    self.bound_to_registrar = true;
                }
                None => self.error(ErrorCode::NotConfigured, None, "no registrar and account configured"),
            },
            PhoneCommand::Shutdown => self.begin_shutdown(now),
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        if self.shutdown_by.is_some() {
            return;
        }
        self.shutdown_by = Some(now + SHUTDOWN_GRACE);
        if self.bound_to_registrar
            && let Some(reg) = self.reg.as_mut()
        {
            reg.unregister(now, &mut self.ua);
            self.unregistering = true;
        }
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            self.hang_up(now, &id);
        }
    }

    /// After the loop: calls still up are ended here and every media task is awaited, so the
    /// RTCP BYEs are sent and the recordings closed before the task ends.
    async fn finish(mut self) {
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            self.end(&id, "shutdown");
        }
        for task in self.stopping.drain(..) {
            let _ = task.await;
        }
    }

    fn dial(&mut self, now: Instant, target: Uri) {
        self.place_call(now, target, Vec::new());
    }

    /// Sends a new INVITE (with `extra` headers, e.g. Replaces); the new call's id, or `None`
    /// with an error event when it cannot be placed.
    fn place_call(&mut self, now: Instant, target: Uri, extra: Vec<(HeaderName, String)>) -> Option<String> {
        if self.shutdown_by.is_some() {
            self.error(ErrorCode::ShuttingDown, None, "the phone is shutting down");
            return None;
        }
        let Some(peer) = self.config.registrar.or_else(|| target_addr(&target)) else {
            self.error(
                ErrorCode::DialFailed,
                None,
                format!("cannot resolve the call target {target}: give an IP or a registrar"),
            );
            return None;
        };
        let sockets = match self.bind_media() {
            Ok(s) => s,
            Err(e) => {
                self.error(ErrorCode::DialFailed, None, e.to_string());
                return None;
            }
        };
        let rtp_port = sockets.rtp_port();
        let call_id = format!("{}@{}", self.ua.new_tag(), self.local.ip());
        let tag = self.ua.new_tag();
        let local = NameAddr::new(self.our_uri.clone()).with_tag(&tag);
        let remote = NameAddr::new(target.clone());
        // `send_request` adds the Via of the new transaction.
        let mut req = Request::new(Method::Invite, target.clone());
        req.headers.push(HeaderName::MaxForwards, "70");
        req.headers.push(HeaderName::From, local.to_string());
        req.headers.push(HeaderName::To, remote.to_string());
        req.headers.push(HeaderName::CallId, &call_id);
        req.headers.push(HeaderName::CSeq, "1 INVITE");
        req.headers.push(HeaderName::Contact, &self.contact);
        for (name, value) in extra {
            req.headers.push(name, value);
        }
        req.headers.push(HeaderName::ContentType, "application/sdp");
        let crypto = match self.fresh_crypto() {
            Ok(c) => c,
            Err(e) => {
                self.error(ErrorCode::DialFailed, None, format!("no random source for SRTP keys: {e}"));
                return None;
            }
        };
        req.body = sdp::build_offer(&self.media_config(
            rtp_port,
            Direction::SendRecv,
            self.config.codecs.clone(),
            crypto.clone(),
        ))
        .to_bytes();
        let first = req.clone();
        let key = self.ua.send_request(now, peer, req);
        self.calls_seen += 1;
        self.emit(PhoneEvent::Calling { call_id: call_id.clone(), to: target.to_string() });
        let call = Call::new(true, peer, target, local, remote, key, self.calls_seen, sockets, now);
        let unauthorized_invite = self.config.password.is_some().then_some(first);
        self.calls.insert(call_id.clone(), Call { local_cseq: 1, unauthorized_invite, crypto, ..call });
        Some(call_id)
    }

    fn answer(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get_mut(id) else { return self.unknown_call(id) };
        if call.outgoing || call.answered.is_some() {
            return self.error(ErrorCode::InvalidState, Some(id), "only a ringing incoming call can be answered");
        }
        let (Some(key), Some(req)) = (call.invite.clone(), call.invite_request.take()) else {
            return self.error(ErrorCode::InvalidState, Some(id), "the INVITE can no longer be answered");
        };
        let mut ok = Response::for_request(&req, 200, call.local.tag());
        ok.headers.push(HeaderName::Contact, &self.contact);
        let (offer, answer) = (call.offer.take(), call.answer.take());
        if let Some(answer) = &answer {
            ok.headers.push(HeaderName::ContentType, "application/sdp");
            ok.body = answer.to_bytes();
        }
        if let Err(e) = self.ua.send_response(now, &key, &ok) {
            // The INVITE transaction is gone, e.g. cancelled a moment ago.
            return self.error(ErrorCode::InvalidState, Some(id), format!("cannot answer: {e}"));
        }
        if let Some(call) = self.calls.get_mut(id) {
            call.answered = Some(now);
        }
        self.emit(PhoneEvent::Answered { call_id: id.to_owned(), direction: CallDirection::Inbound });
        if let (Some(answer), Some(offer)) = (answer, offer) {
            self.start_media(id, &answer, &answer, &offer);
        }
    }

    /// Refuses a ringing incoming call with a final response.
    fn reject(&mut self, now: Instant, id: &str, status: u16) {
        if let Some(call) = self.calls.get(id)
            && let (Some(key), Some(req)) = (&call.invite, &call.invite_request)
        {
            let resp = Response::for_request(req, status, call.local.tag());
            let _ = self.ua.send_response(now, key, &resp);
        }
        self.end(id, "local_reject");
    }

    fn hang_up(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get_mut(id) else { return self.unknown_call(id) };
        if call.bye.is_some() || call.cancelling {
            return; // already on its way out
        }
        if call.answered.is_some() {
            return self.send_bye(now, id);
        }
        if !call.outgoing {
            return self.reject(now, id, 603);
        }
        call.cancelling = true;
        if call.provisional {
            self.send_cancel(now, id);
        }
    }

    fn send_cancel(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get_mut(id) else { return };
        call.cancel_sent = true;
        let sent = call.invite.as_ref().and_then(|invite| self.ua.cancel(now, invite));
        if sent.is_none() {
            // The INVITE transaction is over; nothing is left to cancel.
            self.end(id, "local_cancel");
        }
    }

    /// A new request inside the call's dialog (the next CSeq, our From, the peer's To) and
    /// where to send it; `None` if the call is gone.
    fn dialog_request(&mut self, id: &str, method: Method) -> Option<(Request, SocketAddr)> {
        let call = self.calls.get_mut(id)?;
        call.local_cseq += 1;
        let mut req = Request::new(method.clone(), call.remote_target.clone());
        req.headers.push(HeaderName::MaxForwards, "70");
        // In an incoming call our From is the INVITE's To and the other way round.
        req.headers.push(HeaderName::From, call.local.to_string());
        req.headers.push(HeaderName::To, call.remote.to_string());
        req.headers.push(HeaderName::CallId, id);
        req.headers.push(HeaderName::CSeq, format!("{} {method}", call.local_cseq));
        Some((req, call.peer))
    }

    fn send_bye(&mut self, now: Instant, id: &str) {
        let Some((bye, peer)) = self.dialog_request(id, Method::Bye) else { return };
        let key = self.ua.send_request(now, peer, bye);
        if let Some(call) = self.calls.get_mut(id) {
            call.bye = Some(key);
        }
    }

    fn hold(&mut self, now: Instant, id: &str, hold: bool) {
        let Some(call) = self.calls.get(id) else { return self.unknown_call(id) };
        if call.answered.is_none() || call.bye.is_some() {
            return self.error(ErrorCode::InvalidState, Some(id), "only an answered call can be held");
        }
        if call.reinvite.is_some() {
            return self.error(ErrorCode::InvalidState, Some(id), "a hold or resume is already in progress");
        }
        if call.local_hold == hold {
            let (call_id, by) = (id.to_owned(), Party::Local);
            return self.emit(if hold {
                PhoneEvent::Held { call_id, by }
            } else {
                PhoneEvent::Resumed { call_id, by }
            });
        }
        let codecs = self.call_codecs(call);
        let direction = if hold { Direction::SendOnly } else { Direction::SendRecv };
        let mut offer = sdp::build_offer(&self.media_config(call.rtp_port, direction, codecs, call.crypto.clone()));
        let Some(call) = self.calls.get_mut(id) else { return };
        call.sdp_version += 1;
        offer.origin.session_version = call.sdp_version;
        let Some((mut req, peer)) = self.dialog_request(id, Method::Invite) else { return };
        req.headers.push(HeaderName::Contact, &self.contact);
        req.headers.push(HeaderName::ContentType, "application/sdp");
        req.body = offer.to_bytes();
        let key = self.ua.send_request(now, peer, req);
        if let Some(call) = self.calls.get_mut(id) {
            call.reinvite = Some((key, hold));
        }
    }

    /// Tells the media task whether to send, after a hold or resume by either side.
    fn apply_sending(&self, id: &str) {
        if let Some(call) = self.calls.get(id)
            && let Some(media) = &call.media
        {
            media.send(MediaCommand::Sending(call.sending()));
        }
    }

    /// Starts RTP for a call once both descriptions are known.
    /// `local` is our description (offer or answer), for the SRTP keys.
    fn start_media(&mut self, id: &str, local: &sdp::Session, answer: &sdp::Session, remote: &sdp::Session) {
        let Some(call) = self.calls.get_mut(id) else { return };
        let keys = sdp::srtp_keys(local, remote);
        // From now on only the line in use is repeated (re-INVITEs).
        call.crypto = local.media.iter().find(|m| m.kind == "audio" && m.port != 0).map_or_else(Vec::new, |m| {
            m.crypto().into_iter().filter(|c| keys.as_ref().is_some_and(|k| k.local == c.key_salt())).collect()
        });
        let srtp = match keys.as_ref().map(media::Srtp::new).transpose() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(call_id = id, error = %e, "no media for this call");
                return;
            }
        };
        let Some(sockets) = call.sockets.take() else { return };
        let plan = match sdp::media_plan(answer, remote) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(call_id = id, error = %e, "no media for this call");
                return;
            }
        };
        let ssrc = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), id) as u32;
        let cfg = match media::session_config(&plan, ssrc, &format!("okno@{}", self.local.ip())) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(call_id = id, error = %e, "no media for this call");
                return;
            }
        };
        call.pcm_rate = cfg.codec.pcm_rate();
        let (source, sink) = self.media_io.open(id, call.number, call.pcm_rate);
        // `plan.direction` is the answerer's: the peer's when we called, ours when we answered.
        call.peer_receives = if call.outgoing { receives(plan.direction) } else { sends(plan.direction) };
        call.codec = Some((plan.codec.encoding.clone(), plan.codec.clock_rate));
        let events = self.events.clone();
        let call_id = id.to_owned();
        let on_event = Box::new(move |ev: MediaEvent| match ev {
            MediaEvent::Dtmf { key } => {
                let _ = events.send(PhoneEvent::Dtmf { call_id: call_id.clone(), key: key.to_string() });
            }
            MediaEvent::Bye => tracing::debug!(call_id, "RTCP BYE"),
        });
        let media_event = PhoneEvent::Media {
            call_id: id.to_owned(),
            codec: cfg.codec.name().to_owned(),
            remote: plan.remote_rtp.to_string(),
            local_port: sockets.rtp_port(),
            telephone_event: plan.telephone_event,
            srtp: keys.map(|k| k.suite),
        };
        let handle = match media::start(sockets, &plan, cfg, srtp, source, sink, on_event) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(call_id = id, error = %e, "no media for this call");
                return;
            }
        };
        if call.muted {
            handle.send(MediaCommand::Mute(true));
        }
        if !call.sending() {
            handle.send(MediaCommand::Sending(false));
        }
        call.media = Some(handle);
        self.emit(media_event);
    }

    fn on_event(&mut self, now: Instant, ev: UaEvent) {
        match ev {
            UaEvent::Request { key, from, request } => self.on_request(now, key, from, request),
            UaEvent::Ack { request, .. } => {
                if let Ok(id) = request.headers.call_id() {
                    tracing::debug!(call_id = id, "ACK");
                }
            }
            UaEvent::Response { key, response } => self.on_response(now, key, response),
            UaEvent::ClientTimeout { key } => self.on_client_timeout(&key),
            UaEvent::Cancelled { invite } => {
                let id = self.calls.iter().find(|(_, c)| c.invite.as_ref() == Some(&invite)).map(|(k, _)| k.clone());
                if let Some(id) = id
                    && let Some(call) = self.calls.get(&id)
                    && let Some(req) = &call.invite_request
                {
                    let resp = Response::for_request(req, 487, call.local.tag());
                    let _ = self.ua.send_response(now, &invite, &resp);
                    self.end(&id, "cancelled");
                }
            }
            UaEvent::StrayResponse { from, response } => {
                // A retransmitted 2xx to one of our INVITEs: our ACK was lost; send it again.
                if response.status / 100 == 2
                    && response.headers.cseq().is_ok_and(|c| c.method == Method::Invite)
                    && let Ok(id) = response.headers.call_id()
                    && self.calls.contains_key(id)
                {
                    let ack = self.ack_for(id, &response);
                    self.ua.send_stateless(from, &Message::Request(ack));
                }
            }
            UaEvent::Malformed { from, error, responded } => {
                self.emit(PhoneEvent::Malformed { from: from.to_string(), error: error.to_string(), responded })
            }
            _ => {}
        }
    }

    fn on_client_timeout(&mut self, key: &TransactionKey) {
        let found = self.calls.iter().find_map(|(id, c)| {
            if c.invite.as_ref() == Some(key) || c.bye.as_ref() == Some(key) {
                Some((id.clone(), false))
            } else if c.reinvite.as_ref().is_some_and(|(k, _)| k == key) {
                Some((id.clone(), true))
            } else {
                None
            }
        });
        match found {
            Some((id, true)) => {
                if let Some(call) = self.calls.get_mut(&id) {
                    call.reinvite = None;
                }
                self.error(ErrorCode::HoldFailed, Some(&id), "the peer did not answer the re-INVITE");
            }
            Some((id, false)) => self.end(&id, "timeout"),
            None => {}
        }
    }

    fn on_request(&mut self, now: Instant, key: TransactionKey, from: SocketAddr, req: Request) {
        let respond = |ua: &mut UserAgent, status: u16, tag: Option<&str>| {
            let _ = ua.send_response(now, &key, &Response::for_request(&req, status, tag));
        };
        match req.method {
            Method::Invite => {
                let (Ok(call_id), Ok(remote), Ok(local)) =
                    (req.headers.call_id(), req.headers.from(), req.headers.to())
                else {
                    return respond(&mut self.ua, 400, None);
                };
                let call_id = call_id.to_owned();
                if self.calls.contains_key(&call_id) {
                    if local.tag().is_none() {
                        // Same Call-ID, no To tag: a copy of an INVITE we already have (a loop
                        // or a fork), not a re-INVITE (RFC 3261 §8.2.2.2).
                        return respond(&mut self.ua, 482, None);
                    }
                    return self.on_reinvite(now, &key, &call_id, &req);
                }
                if self.shutdown_by.is_some() {
                    return respond(&mut self.ua, 503, None);
                }
                let replaces = match self.replaced_call(&req) {
                    Ok(r) => r,
                    Err(status) => return respond(&mut self.ua, status, None),
                };
                let sockets = match self.bind_media() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot take a call without RTP ports");
                        return respond(&mut self.ua, 503, None);
                    }
                };
                let rtp_port = sockets.rtp_port();
                // An empty body: the offer would come in the ACK, which is not supported yet;
                // the call is answered without SDP and has no media.
                let offer = sdp::Session::parse(&req.body).ok();
                let answer = match &offer {
                    Some(o) => {
                        let crypto = match self.fresh_crypto() {
                            Ok(c) => c,
                            Err(e) => {
                                tracing::warn!(call_id, error = %e, "no random source for SRTP keys");
                                return respond(&mut self.ua, 500, None);
                            }
                        };
                        match sdp::answer(
                            o,
                            &self.media_config(rtp_port, Direction::SendRecv, self.config.codecs.clone(), crypto),
                        ) {
                            Ok(a) => Some(a),
                            Err(e) => {
                                tracing::info!(call_id, error = %e, "refusing a call: no common codec or SRTP suite");
                                return respond(&mut self.ua, 488, None);
                            }
                        }
                    }
                    None => None,
                };
                let tag = self.ua.new_tag();
                let remote_target = req
                    .headers
                    .contacts()
                    .ok()
                    .and_then(|c| c.first().and_then(|c| c.addr().map(|a| a.uri.clone())))
                    .unwrap_or_else(|| remote.uri.clone());
                let peer = target_addr(&remote_target).unwrap_or(from);
                if replaces.is_none() {
                    respond(&mut self.ua, 180, Some(&tag));
                    self.emit(PhoneEvent::Incoming {
                        call_id: call_id.clone(),
                        from: remote.uri.to_string(),
                        to: local.uri.to_string(),
                        display_name: remote.display.clone(),
                    });
                }
                let from_uri = remote.uri.to_string();
                self.calls_seen += 1;
                let call = Call::new(
                    false,
                    peer,
                    remote_target,
                    local.with_tag(&tag),
                    remote,
                    key.clone(),
                    self.calls_seen,
                    sockets,
                    now,
                );
                self.calls.insert(call_id.clone(), Call { invite_request: Some(req.clone()), offer, answer, ..call });
                if let Some(old) = replaces {
                    self.take_over(now, &call_id, &old, from_uri);
                }
            }
            Method::Bye => {
                let Ok(id) = req.headers.call_id().map(str::to_owned) else {
                    return respond(&mut self.ua, 400, None);
                };
                if self.calls.contains_key(&id) {
                    respond(&mut self.ua, 200, None);
                    self.end(&id, "remote_bye");
                } else {
                    respond(&mut self.ua, 481, None);
                }
            }
            Method::Options => respond(&mut self.ua, 200, None),
            Method::Info => self.on_info(now, &key, &req),
            Method::Refer => self.on_refer(now, &key, &req),
            Method::Notify => self.on_notify(now, &key, &req),
            Method::Ack | Method::Cancel => {}
            _ => respond(&mut self.ua, 405, None),
        }
    }

    /// SIP INFO in a call: DTMF the way some PBXes send it (`application/dtmf-relay` with
    /// `Signal=5`, or `application/dtmf` with the key alone), reported like RFC 4733 keys.
    /// Other INFO bodies are acknowledged and ignored.
    fn on_info(&mut self, now: Instant, key: &TransactionKey, req: &Request) {
        let status = match req.headers.call_id() {
            Ok(id) if self.calls.contains_key(id) => 200,
            Ok(_) => 481,
            Err(_) => 400,
        };
        let _ = self.ua.send_response(now, key, &Response::for_request(req, status, None));
        if status != 200 {
            return;
        }
        let content_type = req.headers.get(&HeaderName::ContentType).unwrap_or_default().to_ascii_lowercase();
        let body = String::from_utf8_lossy(&req.body);
        let key_pressed = if content_type.starts_with("application/dtmf-relay") {
            body.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("signal"))
                .map(|(_, v)| v.trim().to_owned())
        } else if content_type.starts_with("application/dtmf") {
            Some(body.trim().to_owned())
        } else {
            None
        };
        // Signal=10 and 11 are * and # in the relay format.
        let key_pressed = key_pressed.map(|k| match k.as_str() {
            "10" => "*".to_owned(),
            "11" => "#".to_owned(),
            _ => k,
        });
        if let (Some(k), Ok(id)) = (key_pressed, req.headers.call_id())
            && k.len() == 1
            && k.chars().all(|c| c.is_ascii_digit() || "*#ABCDabcd".contains(c))
        {
            self.emit(PhoneEvent::Dtmf { call_id: id.to_owned(), key: k.to_ascii_uppercase() });
        }
    }

    /// A re-INVITE from the peer: hold (sendonly/inactive) or resume. Answered on the same
    /// port and codec; our media stops sending while the peer does not want to receive.
    fn on_reinvite(&mut self, now: Instant, key: &TransactionKey, id: &str, req: &Request) {
        let Some(call) = self.calls.get(id) else { return };
        let tag = call.local.tag().map(str::to_owned);
        if call.answered.is_none() || call.reinvite.is_some() {
            // Glare with our own re-INVITE, or an offer before the call is up (RFC 3261 §14.2).
            let _ = self.ua.send_response(now, key, &Response::for_request(req, 491, tag.as_deref()));
            return;
        }
        let mut ok = Response::for_request(req, 200, tag.as_deref());
        ok.headers.push(HeaderName::Contact, &self.contact);
        let offer = sdp::Session::parse(&req.body).ok();
        let mut answer = None;
        if let Some(offer) = &offer {
            let cfg =
                self.media_config(call.rtp_port, call.our_direction(), self.call_codecs(call), call.crypto.clone());
            match sdp::answer(offer, &cfg) {
                Ok(mut a) => {
                    if let Some(call) = self.calls.get_mut(id) {
                        call.sdp_version += 1;
                        a.origin.session_version = call.sdp_version;
                    }
                    ok.headers.push(HeaderName::ContentType, "application/sdp");
                    ok.body = a.to_bytes();
                    answer = Some(a);
                }
                Err(e) => {
                    tracing::info!(call_id = id, error = %e, "re-INVITE offers no codec of the running call");
                    let _ = self.ua.send_response(now, key, &Response::for_request(req, 488, tag.as_deref()));
                    return;
                }
            }
        }
        let _ = self.ua.send_response(now, key, &ok);
        let (Some(offer), Some(_)) = (offer, answer) else { return };
        let Some(offered) = audio_direction(&offer) else { return };
        let Some(call) = self.calls.get_mut(id) else { return };
        let peer_receives = receives(offered);
        if call.peer_receives == peer_receives {
            return; // a session refresh, or the same hold again
        }
        call.peer_receives = peer_receives;
        self.apply_sending(id);
        let (call_id, by) = (id.to_owned(), Party::Remote);
        self.emit(if peer_receives { PhoneEvent::Resumed { call_id, by } } else { PhoneEvent::Held { call_id, by } });
    }

    fn ack_for(&mut self, id: &str, ok: &Response) -> Request {
        let via = self.ua.new_via().to_string();
        let call = &self.calls[id];
        let seq = ok.headers.cseq().map(|c| c.seq).unwrap_or(1);
        let mut ack = Request::new(Method::Ack, call.remote_target.clone());
        ack.headers.push(HeaderName::Via, via);
        ack.headers.push(HeaderName::MaxForwards, "70");
        ack.headers.push(HeaderName::From, call.local.to_string());
        ack.headers.push(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap_or_default());
        ack.headers.push(HeaderName::CallId, id);
        // The ACK of a 2xx carries the INVITE's sequence number (RFC 3261 §13.2.2.4).
        ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
        ack
    }

    fn send_ack(&mut self, id: &str, ok: &Response) {
        let ack = self.ack_for(id, ok);
        let peer = self.calls[id].peer;
        self.ua.send_stateless(peer, &Message::Request(ack));
    }

    fn on_response(&mut self, now: Instant, key: TransactionKey, resp: Response) {
        let Ok(id) = resp.headers.call_id().map(str::to_owned) else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.bye.as_ref() == Some(&key) {
            if resp.status >= 200 {
                let cause = call.end_cause.unwrap_or(if call.cancelling { "local_cancel" } else { "local_bye" });
                self.end(&id, cause);
            }
            return;
        }
        if call.refer.as_ref() == Some(&key) {
            if resp.status >= 200 {
                self.on_refer_response(&id, resp.status);
            }
            return;
        }
        if call.reinvite.as_ref().is_some_and(|(k, _)| *k == key) {
            if resp.status >= 200 {
                self.on_reinvite_response(&id, &resp);
            }
            return;
        }
        if call.invite.as_ref() != Some(&key) || !call.outgoing {
            return;
        }
        match resp.status {
            100..=199 => {
                call.provisional = true;
                if call.cancelling {
                    if !call.cancel_sent {
                        self.send_cancel(now, &id);
                    }
                } else if matches!(resp.status, 180 | 183) {
                    self.emit(PhoneEvent::Ringing { call_id: id, status: resp.status });
                }
            }
            200..=299 => {
                if call.answered.is_some() {
                    return;
                }
                let remote_target =
                    resp.headers.contacts().ok().and_then(|c| c.first().and_then(|c| c.addr().map(|a| a.uri.clone())));
                if let Some(t) = remote_target {
                    // No Record-Route is kept yet, so in-dialog requests (ACK, BYE) go to the
                    // peer's Contact directly (RFC 3261 §12.2.1.1 with an empty route set).
                    if let Some(addr) = target_addr(&t) {
                        call.peer = addr;
                    }
                    call.remote_target = t;
                }
                if let Ok(to) = resp.headers.to() {
                    call.remote = to;
                }
                let cancelling = call.cancelling;
                if !cancelling {
                    call.answered = Some(now);
                }
                self.send_ack(&id, &resp);
                if cancelling {
                    // The answer crossed our CANCEL: the call is up at the peer, so it is
                    // ended with a BYE at once (RFC 3261 §9.1).
                    return self.send_bye(now, &id);
                }
                self.emit(PhoneEvent::Answered { call_id: id.clone(), direction: CallDirection::Outbound });
                self.notify_referrer(now, &id, "200 OK");
                match sdp::Session::parse(&resp.body) {
                    // The answer is both the plan and the peer's description.
                    Ok(answer) => {
                        let ours = call_offer(self.calls.get(&id));
                        if self.config.srtp == sdp::SrtpPolicy::Require && sdp::srtp_keys(&ours, &answer).is_none() {
                            tracing::info!(call_id = id, "the answer has no SRTP; it is required: hanging up");
                            if let Some(call) = self.calls.get_mut(&id) {
                                call.end_cause = Some("srtp_refused");
                            }
                            return self.send_bye(now, &id);
                        }
                        self.start_media(&id, &ours, &answer, &answer)
                    }
                    Err(e) => tracing::warn!(call_id = id, error = %e, "2xx without a usable SDP answer"),
                }
            }
            401 | 407 if !call.cancelling && call.unauthorized_invite.is_some() => {
                self.authorize_invite(now, &id, &resp);
            }
            status => {
                if call.cancelling {
                    self.end(&id, "local_cancel");
                } else {
                    self.emit(PhoneEvent::Rejected { call_id: id.clone(), status });
                    self.end(&id, &format!("status_{status}"));
                }
            }
        }
    }

    /// Our INVITE was challenged (401 from the callee, 407 from a proxy): send it again with
    /// digest credentials (RFC 3261 §22.2), same Call-ID and From tag, the next CSeq. Without a
    /// usable challenge the call fails with that status.
    fn authorize_invite(&mut self, now: Instant, id: &str, resp: &Response) {
        let proxy = resp.status == 407;
        let challenges: Vec<&str> =
            if proxy { resp.headers.proxy_authenticate().collect() } else { resp.headers.www_authenticate().collect() };
        let challenge = challenges.into_iter().find_map(|c| okno_sip::auth::Challenge::parse(c).ok());
        let username = match &self.config.account {
            Some(Uri::Sip(sip)) => sip.user.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let Some(call) = self.calls.get_mut(id) else { return };
        let (Some(challenge), Some(mut req), Some(password)) =
            (challenge, call.unauthorized_invite.take(), self.config.password.clone())
        else {
            self.emit(PhoneEvent::Rejected { call_id: id.to_owned(), status: resp.status });
            return self.end(id, &format!("status_{}", resp.status));
        };
        call.local_cseq += 1;
        req.headers.set(HeaderName::CSeq, format!("{} INVITE", call.local_cseq));
        let credentials = Credentials { username, password };
        let cnonce = self.ua.new_tag();
        let uri = req.uri.to_string();
        match okno_sip::auth::authorize(&challenge, &credentials, "INVITE", &uri, &req.body, &cnonce, 1) {
            Ok(authorization) => {
                let name = if proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
                req.headers.push(name, authorization.to_string());
                let peer = call.peer;
                tracing::debug!(call_id = id, status = resp.status, "INVITE challenged; sending credentials");
                let key = self.ua.send_request(now, peer, req);
                if let Some(call) = self.calls.get_mut(id) {
                    call.invite = Some(key);
                    call.provisional = false;
                }
            }
            Err(e) => {
                tracing::info!(call_id = id, error = %e, "cannot answer the INVITE's challenge");
                self.emit(PhoneEvent::Rejected { call_id: id.to_owned(), status: resp.status });
                self.end(id, &format!("status_{}", resp.status));
            }
        }
    }

    /// The final answer to our hold or resume re-INVITE.
    fn on_reinvite_response(&mut self, id: &str, resp: &Response) {
        let Some(call) = self.calls.get_mut(id) else { return };
        let Some((_, hold)) = call.reinvite.take() else { return };
        if resp.status / 100 != 2 {
            let what = if hold { "hold" } else { "resume" };
            return self.error(
                ErrorCode::HoldFailed,
                Some(id),
                format!("the peer answered {} to the {what}", resp.status),
            );
        }
        call.local_hold = hold;
        // The answer's direction is the peer's: it may still hold the call itself.
        if let Some(dir) = sdp::Session::parse(&resp.body).ok().as_ref().and_then(audio_direction) {
            call.peer_receives = receives(dir);
        }
        self.send_ack(id, resp);
        self.apply_sending(id);
        let (call_id, by) = (id.to_owned(), Party::Local);
        self.emit(if hold { PhoneEvent::Held { call_id, by } } else { PhoneEvent::Resumed { call_id, by } });
    }

    fn end(&mut self, id: &str, cause: &str) {
        if self.calls.get(id).is_some_and(|c| c.answered.is_none() && c.referred_by.is_some()) {
            self.notify_referrer(Instant::now(), id, transfer::failure_frag(cause));
        }
        let Some(mut call) = self.calls.remove(id) else { return };
        let talk = call.answered.map(|a| a.elapsed().as_secs_f64()).unwrap_or(0.0);
        let stats = call.media.as_ref().map(MediaHandle::stats);
        if let Some(media) = call.media.take() {
            // Finished stops are dropped here so a long run does not collect handles.
            self.stopping.retain(|t| !t.is_finished());
            self.stopping.push(tokio::spawn(media.stop()));
        }
        self.emit(PhoneEvent::Ended {
            call_id: id.to_owned(),
            cause: cause.to_owned(),
            answered: call.answered.is_some(),
            duration_s: (call.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            talk_s: (talk * 1000.0).round() / 1000.0,
            outgoing: call.outgoing,
            media: stats.as_ref().map(MediaSummary::from),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config() {
        let c = EngineConfig::new("127.0.0.1:0".parse().unwrap());
        let names: Vec<&str> = c.codecs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["PCMU", "PCMA", "telephone-event"]);
        assert_eq!(c.register_expires, 300);
    }

    #[test]
    fn debug_hides_the_password() {
        let mut c = EngineConfig::new("127.0.0.1:0".parse().unwrap());
        c.password = Some("hunter2".into());
        let s = format!("{c:?}");
        assert!(s.contains("***") && !s.contains("hunter2"), "{s}");
    }

    #[test]
    fn codec_lists() {
        let names = |l: &str| parse_codecs(l).map(|c| c.into_iter().map(|c| c.name).collect::<Vec<_>>());
        assert_eq!(names("pcma, pcmu").unwrap(), ["PCMA", "PCMU", "telephone-event"]);
        assert!(matches!(names("g729"), Err(EngineError::UnknownCodec(_))));
        assert_eq!(names("opus,pcmu").unwrap(), ["opus", "PCMU", "telephone-event"]);
        assert!(matches!(names(" , "), Err(EngineError::NoCodec)));
    }

    #[test]
    fn events_serialize_as_the_json_lines() {
        let v = |e: PhoneEvent| serde_json::to_value(e).unwrap();
        assert_eq!(v(PhoneEvent::Unregistered), serde_json::json!({ "event": "unregistered" }));
        assert_eq!(
            v(PhoneEvent::RegistrationFailed { status: None }),
            serde_json::json!({ "event": "registration_failed", "status": null })
        );
        assert_eq!(
            v(PhoneEvent::Held { call_id: "c".into(), by: Party::Local }),
            serde_json::json!({ "event": "held", "call_id": "c", "by": "local" })
        );
        assert_eq!(
            v(PhoneEvent::Answered { call_id: "c".into(), direction: CallDirection::Outbound }),
            serde_json::json!({ "event": "answered", "call_id": "c", "direction": "outbound" })
        );
        assert_eq!(
            v(PhoneEvent::Incoming {
                call_id: "c".into(),
                from: "sip:a@h".into(),
                to: "sip:b@h".into(),
                display_name: None
            }),
            serde_json::json!({ "event": "incoming", "call_id": "c", "from": "sip:a@h", "to": "sip:b@h", "display_name": null })
        );
        let ended = v(PhoneEvent::Ended {
            call_id: "c".into(),
            cause: "local_bye".into(),
            answered: true,
            duration_s: 1.5,
            talk_s: 1.0,
            outgoing: true,
            media: Some(MediaSummary::from(&CallStats { codec: "PCMU", loss_percent: 1.234_5, ..Default::default() })),
        });
        assert_eq!(ended["event"], "ended");
        assert_eq!(ended["media"]["codec"], "PCMU");
        assert_eq!(ended["media"]["loss_percent"], 1.23);
        assert_eq!(ended["media"]["rtt_ms"], serde_json::Value::Null);
        let keys: Vec<&str> = ended["media"].as_object().unwrap().keys().map(String::as_str).collect();
        for k in ["packets_sent", "packets_received", "packets_lost", "jitter_buffer_ms", "concealed_frames", "mos"] {
            assert!(keys.contains(&k), "{k} in {keys:?}");
        }
        assert_eq!(
            v(PhoneEvent::Error { code: ErrorCode::UnknownCall, call_id: None, message: "m".into() }),
            serde_json::json!({ "event": "error", "code": "unknown_call", "call_id": null, "message": "m" })
        );
    }
}
