//! Call control as a sans-IO state machine: registration, calls in and out, hold and resume by
//! re-INVITE, INFO DTMF, digest challenges, and transfers (REFER, NOTIFY, Replaces). It owns the
//! okno-sip [`UserAgent`] and [`Registration`] and every call's dialog state; it owns no socket,
//! no task and no clock. The engine in `engine.rs` is its driver over a real UDP socket and real
//! media; the virtual-time tests in `tests/call_control.rs` drive several of them through an
//! emulated network.
//!
//! # Driving contract
//!
//! - Inputs, each with the current time: [`CallControl::handle_command`] (what a client asks),
//!   [`CallControl::handle_datagram`] (a UDP datagram for our SIP port),
//!   [`CallControl::handle_message`] (a message a TCP connection's framer already parsed),
//!   [`CallControl::handle_transport_error`] (a connection failed) and
//!   [`CallControl::handle_timeout`] (call it once `now` ≥ [`CallControl::poll_timeout`]).
//! - After every input, take [`CallControl::poll_output`] until it returns `None`: datagrams to
//!   send and [`PhoneEvent`]s for the client, in the order they happened.
//! - The calls' RTP is behind [`CallMedia`]: call control reserves a call's ports when it needs
//!   them for its SDP, starts the media once both descriptions are known, tells it to stop
//!   sending while either side holds, and stops it when the call ends. It never waits on it.
//! - [`CallControl::is_finished`] says when a `Shutdown` is complete (or its grace ran out);
//!   [`CallControl::finish`] then ends the calls still up (cause `shutdown`).
//!
//! Invariants: every call that was reported (`incoming` or `calling`) is reported `ended` exactly
//! once, and its media, if any was reserved or started, is stopped exactly once; every command
//! shows its effect as events or is answered with [`PhoneEvent::Error`].

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use okno_media::session::CallStats;
use okno_sip::auth::Credentials;
use okno_sip::message::typed::{NameAddr, Transport};
use okno_sip::message::{CallInfo, HeaderName, Message, Method, Request, Response};
use okno_sip::sdp::{self, Direction, MediaConfig, MediaPlan, SrtpKeys};
use okno_sip::transaction::TransactionKey;
use okno_sip::ua::{Output, Registration, RegistrationConfig, RegistrationEvent, UaConfig, UaEvent, UserAgent};
use okno_sip::uri::{Host, Uri};

use super::api::*;
use crate::context::{MONITOR_MODES, MONITORING_CONTENT_TYPE, Monitoring};
use okno_media::srtp::SrtpProfile;

mod call;
mod session;
mod signalling;
mod transfer;

use call::*;

/// The calls' RTP as call control sees it. The engine's implementation binds real sockets and
/// runs a media task per call; a test's records what it was asked.
pub trait CallMedia: Send {
    /// Reserves the RTP/RTCP ports of a new call at `ip`; the RTP port goes in its SDP.
    fn reserve(&mut self, call_id: &str, ip: IpAddr) -> Result<u16, String>;
    /// Starts the call's media on its reserved ports; `number` = 1, 2, ... per call of this
    /// phone. Returns what the client is told of it.
    fn start(&mut self, call_id: &str, number: u32, start: MediaStart) -> Result<StartedMedia, String>;
    /// Whether the media sends (false while either side holds the call).
    fn set_sending(&mut self, call_id: &str, sending: bool);
    fn set_muted(&mut self, call_id: &str, muted: bool);
    /// Sends these keys as RFC 4733 events.
    fn dtmf(&mut self, call_id: &str, keys: &str);
    /// Takes every running call's audio afresh (the operator picked other sound devices).
    fn reopen_audio(&mut self);
    /// The call's figures so far; `None` when its media is not running.
    fn stats(&self, call_id: &str) -> Option<CallStats>;
    /// Stops the call's media, or releases its reserved ports if it never started.
    fn stop(&mut self, call_id: &str);
}

/// What a call's media is started with.
#[derive(Debug, Clone)]
pub struct MediaStart {
    pub plan: MediaPlan,
    pub srtp: Option<SrtpKeys>,
    pub ssrc: u32,
    pub cname: String,
    pub muted: bool,
    pub sending: bool,
}

/// What the media reports back when it started.
#[derive(Debug, Clone)]
pub struct StartedMedia {
    /// The codec's name as the media runs it (`PCMU`, `opus`, ...).
    pub codec: String,
}

/// What call control asks of its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlOutput {
    Transmit {
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    Event(PhoneEvent),
    /// Close the connection to `peer` (SIP over TCP or TLS): it stopped answering, and the
    /// next message to `peer` must open a new one.
    CloseConnection {
        peer: SocketAddr,
    },
}

/// The made-up host a WebSocket client names in its Via and Contact (RFC 7118 §5): unique to
/// this engine, under `.invalid` (RFC 2606), so nobody mistakes it for a reachable one.
fn invalid_host(id_prefix: &str) -> String {
    let label: String = id_prefix.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
    format!("{}.invalid", label.to_ascii_lowercase())
}

/// The phone's SIP side: see the module docs for how to drive it.
pub struct CallControl {
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
    media: Box<dyn CallMedia>,
    outputs: VecDeque<ControlOutput>,
    next_quality: Instant,
    /// Set by `Shutdown`: done when nothing is pending or at this instant.
    shutdown_by: Option<Instant>,
}

impl CallControl {
    /// Call control reached at `local` (the address peers send to: an IP of ours, not
    /// 0.0.0.0). `id_prefix` starts every tag, branch and Call-ID and must never repeat across
    /// processes and restarts. With a registrar and an account configured, the first REGISTER
    /// is queued at once.
    pub fn new(
        config: EngineConfig,
        local: SocketAddr,
        id_prefix: String,
        media: Box<dyn CallMedia>,
        now: Instant,
    ) -> Result<CallControl, EngineError> {
        let user = match &config.account {
            Some(Uri::Sip(s)) => s.user.clone().unwrap_or_else(|| "okno".into()),
            _ => "okno".into(),
        };
        let contact = match &config.transport {
            Transport::Udp => format!("<sip:{user}@{local}>"),
            Transport::Tcp => format!("<sip:{user}@{local};transport=tcp>"),
            Transport::Tls => format!("<sip:{user}@{local};transport=tls>"),
            // A WebSocket client has no address anyone could reach it at: RFC 7118 §5 has it
            // name a made-up `.invalid` host; the registrar reaches it on its connection.
            Transport::Ws => format!("<sip:{user}@{};transport=ws>", invalid_host(&id_prefix)),
            Transport::Wss => format!("<sip:{user}@{};transport=wss>", invalid_host(&id_prefix)),
            other => {
                return Err(EngineError::Config(format!(
                    "SIP over {} is not implemented: use udp, tcp, tls, ws or wss",
                    other.as_str()
                )));
            }
        };
        let our_uri = match &config.account {
            Some(a) => a.clone(),
            None => Uri::parse(&format!("sip:{user}@{local}")).map_err(|e| EngineError::Config(e.to_string()))?,
        };
        let over_websocket = matches!(config.transport, Transport::Ws | Transport::Wss);
        let ua_config = UaConfig {
            via_host: match local.ip() {
                _ if over_websocket => Host::Domain(invalid_host(&id_prefix)),
                IpAddr::V4(v4) => Host::Ipv4(v4),
                IpAddr::V6(v6) => Host::Ipv6(v6),
            },
            via_port: (!over_websocket).then_some(local.port()),
            transport: config.transport.clone(),
            timers: Default::default(),
            parser: Default::default(),
            id_prefix,
            user_agent: (!config.user_agent.is_empty()).then(|| config.user_agent.clone()),
        };
        let mut ua = UserAgent::new(ua_config);
        let mut reg = None;
        if let (Some(registrar), Some(account)) = (config.registrar, config.account.clone()) {
            let Uri::Sip(sip) = &account else {
                return Err(EngineError::Config("the account must be a sip: URI".into()));
            };
            let registrar_uri =
                Uri::parse(&format!("sip:{}", sip.host)).map_err(|e| EngineError::Config(e.to_string()))?;
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
                keepalive: config.keepalive,
            };
            let mut r = Registration::new(cfg, &mut ua);
            if config.register_at_start {
                r.register(now, &mut ua);
            }
            reg = Some(r);
        }
        let mut control = CallControl {
            bound_to_registrar: reg.is_some() && config.register_at_start,
            config,
            local,
            contact,
            our_uri,
            ua,
            reg,
            unregistering: false,
            calls: HashMap::new(),
            calls_seen: 0,
            media,
            outputs: VecDeque::new(),
            next_quality: now + QUALITY_EVERY,
            shutdown_by: None,
        };
        control.process(now);
        Ok(control)
    }

    /// What to send or report next, in order.
    pub fn poll_output(&mut self) -> Option<ControlOutput> {
        self.outputs.pop_front()
    }

    /// A client's command.
    pub fn handle_command(&mut self, now: Instant, cmd: PhoneCommand) {
        self.command(now, cmd);
        self.process(now);
    }

    /// A datagram that arrived on our SIP port from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.ua.handle_datagram(now, from, bytes);
        self.process(now);
    }

    /// A message a stream framer already parsed (SIP over TCP) from `from`.
    pub fn handle_message(&mut self, now: Instant, from: SocketAddr, message: Message) {
        self.ua.handle_message(now, from, message);
        self.process(now);
    }

    /// The connection to `peer` could not be opened (refused, an untrusted certificate) or
    /// broke: what was sent on it and is still unanswered ends now, a REGISTER failing and a
    /// call attempt ending as if no answer came, instead of after their timers.
    pub fn handle_transport_error(&mut self, now: Instant, peer: SocketAddr) {
        self.ua.handle_transport_error(peer);
        self.process(now);
        if let Some(reg) = self.reg.as_mut()
            && self.shutdown_by.is_none()
        {
            reg.handle_flow_closed(now, &mut self.ua, peer);
        }
        self.process(now);
    }

    /// `peer` answered a keep-alive ping on its connection.
    pub fn handle_pong(&mut self, now: Instant, peer: SocketAddr) {
        if let Some(reg) = self.reg.as_mut()
            && reg.registrar_addr() == peer
        {
            reg.handle_pong(now);
        }
        self.process(now);
    }

    /// When [`CallControl::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Instant {
        [
            self.ua.poll_timeout(),
            self.reg.as_ref().and_then(Registration::poll_timeout),
            self.shutdown_by,
            self.session_deadline(),
        ]
        .into_iter()
        .flatten()
        .fold(self.next_quality, Instant::min)
    }

    /// Retransmissions, transaction timeouts, registration refreshes, quality reports.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ua.handle_timeout(now);
        if let Some(reg) = self.reg.as_mut()
            && self.shutdown_by.is_none()
        {
            reg.handle_timeout(now, &mut self.ua);
        }
        self.on_session_timers(now);
        if now >= self.next_quality {
            self.next_quality = now + QUALITY_EVERY;
            let mut ids: Vec<&String> = self.calls.iter().filter(|(_, c)| c.media).map(|(id, _)| id).collect();
            ids.sort();
            for id in ids {
                if let Some(stats) = self.media.stats(id) {
                    let event = PhoneEvent::Quality { call_id: id.clone(), stats: MediaSummary::from(&stats) };
                    self.outputs.push_back(ControlOutput::Event(event));
                }
            }
        }
        self.process(now);
    }

    /// A `Shutdown` was asked for (commands are no longer taken).
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown_by.is_some()
    }

    /// A `Shutdown` is complete: no call or un-REGISTER is pending, or the grace ran out.
    pub fn is_finished(&self, now: Instant) -> bool {
        self.shutdown_by.is_some_and(|by| now >= by || (self.calls.is_empty() && !self.unregistering))
    }

    /// Ends the calls still up (cause `shutdown`) and stops their media.
    pub fn finish(&mut self, now: Instant) {
        for id in self.call_ids() {
            self.end(now, &id, EndReason::Shutdown);
        }
        self.process(now);
    }

    /// The ids of the calls up now.
    pub fn call_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.calls.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Sends what the user agent has to send and acts on its events (see the driving contract
    /// in `okno_sip::ua`).
    fn process(&mut self, now: Instant) {
        while let Some(out) = self.ua.poll_output() {
            match out {
                Output::Transmit { to, bytes } => self.outputs.push_back(ControlOutput::Transmit { to, bytes }),
                Output::Event(ev) => {
                    if let Some(reg) = self.reg.as_mut()
                        && reg.handle_event(now, &mut self.ua, &ev)
                    {
                        self.registration_events();
                        continue;
                    }
                    self.on_event(now, ev);
                }
            }
        }
        // What a timeout, a pong or a closed connection made the registration say.
        self.registration_events();
    }

    fn registration_events(&mut self) {
        let Some(reg) = self.reg.as_mut() else { return };
        let mut happened = Vec::new();
        while let Some(r) = reg.poll_event() {
            happened.push(r);
        }
        let registrar = reg.registrar_addr();
        for r in happened {
            if r == (RegistrationEvent::Failed { status: None }) && self.config.transport.is_reliable() {
                self.outputs.push_back(ControlOutput::CloseConnection { peer: registrar });
            }
            self.on_registration(r);
        }
    }

    fn emit(&mut self, event: PhoneEvent) {
        self.outputs.push_back(ControlOutput::Event(event));
    }

    fn error(&mut self, code: ErrorCode, call_id: Option<&str>, message: impl Into<String>) {
        let message = message.into();
        // The client hears of it through the event; this is for the log file.
        tracing::info!(?code, call_id, message, "phone command refused");
        self.emit(PhoneEvent::Error { code, call_id: call_id.map(str::to_owned), message });
    }

    fn unknown_call(&mut self, call_id: &str) {
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
                    if call.media {
                        self.media.set_muted(&call_id, muted);
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
                match self.calls.get(&call_id).map(|c| c.media) {
                    None => self.unknown_call(&call_id),
                    Some(false) => self.error(ErrorCode::InvalidState, Some(&call_id), "the call has no media yet"),
                    Some(true) => self.media.dtmf(&call_id, &keys),
                }
            }
            PhoneCommand::Transfer { call_id, to } => self.blind_transfer(now, &call_id, &to),
            PhoneCommand::AttendedTransfer { call_id, consult_call_id } => {
                self.attended_transfer(now, &call_id, &consult_call_id)
            }
            PhoneCommand::TellMonitoring { call_id, by, mode } => {
                self.tell_monitoring(now, &call_id, Monitoring { by, mode })
            }
            PhoneCommand::ReopenAudio => self.media.reopen_audio(),
            PhoneCommand::Register => match self.reg.as_mut() {
                Some(reg) => {
                    reg.register(now, &mut self.ua);
                    self.bound_to_registrar = true;
                }
                None => self.error(ErrorCode::NotConfigured, None, "no registrar and account configured"),
            },
            PhoneCommand::Unregister => {
                if self.bound_to_registrar
                    && let Some(reg) = self.reg.as_mut()
                {
                    reg.unregister(now, &mut self.ua);
                    self.bound_to_registrar = false;
                    self.unregistering = true;
                }
            }
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
        for id in self.call_ids() {
            self.hang_up(now, &id);
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
        let call_id = format!("{}@{}", self.ua.new_tag(), self.local.ip());
        let rtp_port = match self.media.reserve(&call_id, self.local.ip()) {
            Ok(port) => port,
            Err(e) => {
                self.error(ErrorCode::DialFailed, None, e);
                return None;
            }
        };
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
        for (name, value) in extra.into_iter().chain(self.session_request_headers()) {
            req.headers.push(name, value);
        }
        req.headers.push(HeaderName::ContentType, "application/sdp");
        let crypto = match self.fresh_crypto() {
            Ok(c) => c,
            Err(e) => {
                self.media.stop(&call_id);
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
        let call = Call::new(true, peer, target, local, remote, key, self.calls_seen, rtp_port, now);
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
        let asked = session::peer_asked(&req, self.config.min_se);
        self.agree_with_peer(now, id, &asked, &mut ok);
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
        self.end(now, id, EndReason::LocalReject);
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
            self.end(now, id, EndReason::LocalCancel);
        }
    }

    /// A new request inside the call's dialog (the next CSeq, our From, the peer's To) and
    /// where to send it; `None` if the call is gone.
    fn dialog_request(&mut self, id: &str, method: Method) -> Option<(Request, SocketAddr)> {
        let call = self.calls.get_mut(id)?;
        call.local_cseq += 1;
        let mut req = Request::new(method.clone(), call.remote_target.clone());
        req.headers.push(HeaderName::MaxForwards, "70");
        for route in &call.route_set {
            req.headers.push(HeaderName::Route, route.to_string());
        }
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
            call.reinvite = Some((key, Reinvite::Hold(hold)));
        }
    }

    /// Tells the media task whether to send, after a hold or resume by either side.
    fn apply_sending(&mut self, id: &str) {
        if let Some(call) = self.calls.get(id)
            && call.media
        {
            self.media.set_sending(id, call.sending());
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
        let plan = match sdp::media_plan(answer, remote) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(call_id = id, error = %e, "no media for this call");
                return;
            }
        };
        // `plan.direction` is the answerer's: the peer's when we called, ours when we answered.
        call.peer_receives = if call.outgoing { receives(plan.direction) } else { sends(plan.direction) };
        call.codec = Some((plan.codec.encoding.clone(), plan.codec.clock_rate));
        let ssrc = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), id) as u32;
        let start = MediaStart {
            plan: plan.clone(),
            srtp: keys.clone(),
            ssrc,
            cname: format!("okno@{}", self.local.ip()),
            muted: call.muted,
            sending: call.sending(),
        };
        let (number, local_port) = (call.number, call.rtp_port);
        let started = match self.media.start(id, number, start) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(call_id = id, error = %e, "no media for this call");
                return;
            }
        };
        if let Some(call) = self.calls.get_mut(id) {
            call.media = true;
        }
        self.emit(PhoneEvent::Media {
            call_id: id.to_owned(),
            codec: started.codec,
            remote: plan.remote_rtp.to_string(),
            local_port,
            telephone_event: plan.telephone_event,
            srtp: keys.map(|k| k.suite),
        });
    }

    fn end(&mut self, now: Instant, id: &str, cause: EndReason) {
        if self.calls.get(id).is_some_and(|c| c.answered.is_none() && c.referred_by.is_some()) {
            self.notify_referrer(now, id, transfer::failure_frag(cause));
        }
        let Some(call) = self.calls.remove(id) else { return };
        let talk = call.answered.map(|a| now.saturating_duration_since(a).as_secs_f64()).unwrap_or(0.0);
        let stats = if call.media { self.media.stats(id) } else { None };
        // Reserved ports are released too when the media never started.
        self.media.stop(id);
        let duration = now.saturating_duration_since(call.started).as_secs_f64();
        self.emit(PhoneEvent::Ended {
            call_id: id.to_owned(),
            cause,
            answered: call.answered.is_some(),
            duration_s: (duration * 1000.0).round() / 1000.0,
            talk_s: (talk * 1000.0).round() / 1000.0,
            outgoing: call.outgoing,
            media: stats.as_ref().map(MediaSummary::from),
        });
    }
}
