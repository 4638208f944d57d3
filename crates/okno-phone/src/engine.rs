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
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use okno_media::session::{CallStats, MediaEvent};
use okno_sip::auth::Credentials;
use okno_sip::message::typed::{NameAddr, Transport};
use okno_sip::message::{CallInfo, HeaderName, Message, Method, Request, Response};
use okno_sip::sdp::{self, Direction, MediaConfig};
use okno_sip::transaction::TransactionKey;
use okno_sip::ua::{Output, Registration, RegistrationConfig, RegistrationEvent, UaConfig, UaEvent, UserAgent};
use okno_sip::uri::{Host, Uri};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::media::{self, MediaCommand, MediaHandle, MediaSockets};
use okno_media::srtp::SrtpProfile;

mod transfer;

mod api;
mod signalling;

pub use api::*;

/// At most this many datagrams (or commands) are handled per wake-up before timers are
/// checked and other tasks get a turn.
const BATCH: usize = 64;

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
    end_cause: Option<EndReason>,
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
            PhoneCommand::Dial { to, display_name, call_info } => self.dial(now, to, display_name, call_info),
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
            self.end(&id, EndReason::Shutdown);
        }
        for task in self.stopping.drain(..) {
            let _ = task.await;
        }
    }

    fn dial(&mut self, now: Instant, target: Uri, display_name: Option<String>, call_info: Vec<CallInfo>) {
        let extra = if call_info.is_empty() {
            Vec::new()
        } else {
            let entries: Vec<String> = call_info.iter().map(ToString::to_string).collect();
            vec![(HeaderName::CallInfo, entries.join(", "))]
        };
        self.place_call(now, target, display_name, extra);
    }

    /// Sends a new INVITE (with `extra` headers, e.g. Replaces); the new call's id, or `None`
    /// with an error event when it cannot be placed.
    fn place_call(
        &mut self,
        now: Instant,
        target: Uri,
        display_name: Option<String>,
        extra: Vec<(HeaderName, String)>,
    ) -> Option<String> {
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
        let mut local = NameAddr::new(self.our_uri.clone()).with_tag(&tag);
        local.display = display_name.filter(|n| !n.trim().is_empty());
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
        self.end(id, EndReason::LocalReject);
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
            self.end(id, EndReason::LocalCancel);
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

    fn end(&mut self, id: &str, cause: EndReason) {
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
            cause,
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
    fn end_reasons_are_the_json_lines_cause_texts() {
        assert_eq!(EndReason::Status(486).to_string(), "status_486");
        assert_eq!(serde_json::to_value(EndReason::RemoteBye).unwrap(), "remote_bye");
        assert!(EndReason::Transferred.is_clean() && !EndReason::Timeout.is_clean());
        assert_eq!((EndReason::Status(603).status(), EndReason::LocalBye.status()), (Some(603), None));
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
                display_name: None,
                call_info: vec![CallInfo::new("https://shop/cart", Some("info")).unwrap()],
            }),
            serde_json::json!({ "event": "incoming", "call_id": "c", "from": "sip:a@h", "to": "sip:b@h", "display_name": null,
                "call_info": [{ "uri": "https://shop/cart", "purpose": "info" }] })
        );
        let ended = v(PhoneEvent::Ended {
            call_id: "c".into(),
            cause: EndReason::LocalBye,
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
