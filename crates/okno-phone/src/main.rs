//! `okno-phone`: a headless softphone over the sans-IO `okno-sip` user agent, driven by one
//! tokio task that owns the UDP socket and the clock. Tests, scripts and benchmarks use it as a
//! real SIP peer; with `--json-events` it prints one JSON object per line for every call event.
//!
//! Today: UDP; REGISTER with digest auth (password from the environment), incoming calls with
//! auto-answer, outgoing calls, BYE from either side, CANCEL, OPTIONS, re-INVITE hold from the
//! peer. Media: G.711 RTP with RTCP and RFC 4733 DTMF through `okno_phone::media`; audio from
//! a WAV file or silence, received audio to a WAV file; per-call quality in the `ended` event.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use okno_media::session::{CallStats, MediaEvent};
use okno_phone::media::{self, AudioSink, AudioSource, MediaCommand, MediaHandle, MediaSockets};
use okno_sip::auth::Credentials;
use okno_sip::message::typed::{NameAddr, Transport};
use okno_sip::message::{HeaderName, Method, Request, Response};
use okno_sip::sdp::{self, Direction, MediaConfig};
use okno_sip::transaction::TransactionKey;
use okno_sip::ua::{Output, Registration, RegistrationConfig, RegistrationEvent, UaConfig, UaEvent, UserAgent};
use okno_sip::uri::{Host, Uri};
use serde_json::json;

const USAGE: &str = "\
okno-phone — headless Okno softphone (SIP over UDP)

OPTIONS:
    --listen udp:IP:PORT        where to listen (default udp:127.0.0.1:5070)
    --account sip:USER@DOMAIN   our address of record
    --registrar HOST:PORT       register there (and send calls through it)
    --password-env VAR          read the SIP password from environment variable VAR
    --auto-answer               answer incoming calls
    --answer-after-ms N         ring N ms before answering (default 0)
    --call SIP-URI              place a call (to the registrar if given, else to the URI's host)
    --calls N                   place N calls one after another (default 1)
    --hangup-after-ms N         hang up N ms after answer (default: wait for the other side)
    --exit-after-calls N        exit after N calls ended (incoming or outgoing)
    --json-events               one JSON object per line on stdout for every event
    --codecs LIST               voice codecs in preference order: pcmu,pcma (default pcmu,pcma)
    --play FILE.wav             send this file (once, then silence) instead of the microphone
    --record FILE.wav           write the received audio; {n} in the name becomes the call number
    --dtmf KEYS                 send these keys (RFC 4733) 500 ms after answer, e.g. 123#
    --audio-device null         audio device; only `null` (no device) in the headless phone
    --rtp-port N                first RTP port to try (default: chosen from the process id)
Exit code: 0 when every call we placed was answered and ended cleanly, 1 otherwise, 2 on bad options.";

#[derive(Debug, Clone)]
struct Args {
    listen: SocketAddr,
    account: Option<Uri>,
    registrar: Option<SocketAddr>,
    password_env: Option<String>,
    auto_answer: bool,
    answer_after: Duration,
    call: Option<Uri>,
    calls: u32,
    hangup_after: Option<Duration>,
    exit_after_calls: Option<u32>,
    json: bool,
    codecs: Vec<sdp::Codec>,
    play: Option<PathBuf>,
    record: Option<String>,
    dtmf: Option<String>,
    rtp_port: u16,
}

/// The voice codecs named on the command line, in that order, plus telephone-event.
fn parse_codecs(list: &str) -> Result<Vec<sdp::Codec>> {
    let known = sdp::default_codecs();
    let mut codecs = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let codec = known
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name) && !c.is_telephone_event())
            .with_context(|| format!("unknown codec {name} (known: pcmu, pcma)"))?;
        if okno_media::session::Codec::from_encoding(&codec.name, codec.clock_rate).is_none() {
            bail!("codec {name} is not implemented yet (use pcmu or pcma)");
        }
        codecs.push(codec.clone());
    }
    if codecs.is_empty() {
        bail!("--codecs needs at least one codec");
    }
    codecs.extend(known.into_iter().filter(|c| c.is_telephone_event()));
    Ok(codecs)
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args> {
    let mut a = Args {
        listen: "127.0.0.1:5070".parse()?,
        account: None,
        registrar: None,
        password_env: None,
        auto_answer: false,
        answer_after: Duration::ZERO,
        call: None,
        calls: 1,
        hangup_after: None,
        exit_after_calls: None,
        json: false,
        codecs: parse_codecs("pcmu,pcma")?,
        play: None,
        record: None,
        dtmf: None,
        rtp_port: 0,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                let addr = v.strip_prefix("udp:").with_context(|| format!("only udp: transports so far, not {v}"))?;
                a.listen = addr.parse().with_context(|| format!("bad address {addr}"))?;
            }
            "--account" => a.account = Some(Uri::parse(&value()?).context("bad --account URI")?),
            "--registrar" => {
                let v = value()?;
                let v = v.trim_start_matches("sip:");
                a.registrar = Some(v.parse().with_context(|| format!("--registrar needs IP:PORT, not {v}"))?);
            }
            "--password-env" => a.password_env = Some(value()?),
            "--auto-answer" => a.auto_answer = true,
            "--answer-after-ms" => a.answer_after = Duration::from_millis(value()?.parse()?),
            "--call" => a.call = Some(Uri::parse(&value()?).context("bad --call URI")?),
            "--calls" => a.calls = value()?.parse()?,
            "--hangup-after-ms" => a.hangup_after = Some(Duration::from_millis(value()?.parse()?)),
            "--exit-after-calls" => a.exit_after_calls = Some(value()?.parse()?),
            "--json-events" => a.json = true,
            "--codecs" => a.codecs = parse_codecs(&value()?)?,
            "--play" => a.play = Some(PathBuf::from(value()?)),
            "--record" => a.record = Some(value()?),
            "--dtmf" => {
                let keys = value()?;
                if let Some(bad) = keys.chars().find(|k| okno_media::dtmf::event_for_key(*k).is_err()) {
                    bail!("--dtmf: {bad:?} is not a DTMF key (0-9, *, #, A-D)");
                }
                a.dtmf = Some(keys);
            }
            "--audio-device" => {
                let v = value()?;
                if v != "null" {
                    bail!("--audio-device {v}: the headless phone has no sound devices yet; use null");
                }
            }
            "--rtp-port" => a.rtp_port = value()?.parse().context("--rtp-port needs a port number")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    Ok(a)
}

/// One call's dialog state, as much as a headless phone needs.
struct Call {
    call_id: String,
    outgoing: bool,
    /// Where in-dialog requests go (the peer's Contact, or the proxy).
    peer: SocketAddr,
    remote_target: Uri,
    local: NameAddr,
    remote: NameAddr,
    local_cseq: u32,
    invite: Option<TransactionKey>,
    invite_request: Option<Request>,
    started: Instant,
    answered: Option<Instant>,
    answer_at: Option<Instant>,
    hangup_at: Option<Instant>,
    bye: Option<TransactionKey>,
    /// Which call of this run (1, 2, ...), for `{n}` in --record.
    number: u32,
    /// Bound at INVITE time so the SDP can name the port; handed to the media task at answer.
    sockets: Option<MediaSockets>,
    rtp_port: u16,
    media: Option<MediaHandle>,
    dtmf_at: Option<Instant>,
}

struct Phone {
    args: Args,
    ua: UserAgent,
    reg: Option<Registration>,
    calls: HashMap<String, Call>,
    placed: u32,
    ended: u32,
    failures: u32,
    next_call_at: Option<Instant>,
    calls_seen: u32,
    /// Media tasks sending their RTCP BYE and closing recordings; awaited before exit.
    stopping: Vec<tokio::task::JoinHandle<CallStats>>,
}

/// The media figures of the `ended` event.
fn media_json(s: &CallStats) -> serde_json::Value {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    json!({
        "codec": s.codec, "packets_sent": s.packets_sent, "packets_received": s.packets_received,
        "packets_lost": s.packets_lost, "loss_percent": round(s.loss_percent),
        "remote_loss_percent": s.remote_loss_percent.map(round), "jitter_ms": round(s.jitter_ms),
        "rtt_ms": s.rtt_ms.map(round), "jitter_buffer_ms": round(s.jitter_delay_ms),
        "concealed_frames": s.jitter_buffer.concealed, "late_packets": s.jitter_buffer.late,
        "dtmf_sent": s.dtmf_sent, "dtmf_received": s.dtmf_received, "mos": round(s.mos),
    })
}

fn emit(json: bool, value: serde_json::Value) {
    if json {
        println!("{value}");
    } else {
        tracing::info!(event = %value, "phone");
    }
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

impl Phone {
    fn our_user(&self) -> String {
        match &self.args.account {
            Some(Uri::Sip(s)) => s.user.clone().unwrap_or_else(|| "okno".into()),
            _ => "okno".into(),
        }
    }

    fn contact(&self) -> String {
        format!("<sip:{}@{}>", self.our_user(), self.args.listen)
    }

    fn media(&self, rtp_port: u16, direction: Direction) -> MediaConfig {
        MediaConfig {
            address: self.args.listen.ip(),
            rtp_port,
            codecs: self.args.codecs.clone(),
            ptime: Some(20),
            direction,
            session_id: 1,
        }
    }

    fn bind_media(&self) -> Result<MediaSockets> {
        Ok(MediaSockets::bind(self.args.listen.ip(), self.args.rtp_port)?)
    }

    /// Starts RTP for a call once both descriptions are known.
    fn start_media(&mut self, now: Instant, id: &str, answer: &sdp::Session, remote: &sdp::Session) {
        let json = self.args.json;
        let record = self.args.record.clone();
        let play = self.args.play.clone();
        let dtmf_after = self.args.dtmf.as_ref().map(|_| now + Duration::from_millis(500));
        let Some(call) = self.calls.get_mut(id) else { return };
        let Some(sockets) = call.sockets.take() else { return };
        let plan = match sdp::media_plan(answer, remote) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(call_id = id, error = %e, "no media for this call");
                return;
            }
        };
        let ssrc = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), id) as u32;
        let cfg = match media::session_config(&plan, ssrc, &format!("okno@{}", self.args.listen.ip())) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(call_id = id, error = %e, "no media for this call");
                return;
            }
        };
        let rate = cfg.codec.pcm_rate();
        let source: Box<dyn AudioSource> = match play.as_deref().map(|p| media::WavSource::open(p, rate)) {
            Some(Ok(s)) => Box::new(s),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "cannot play the file; sending silence");
                Box::new(media::Silence)
            }
            None => Box::new(media::Silence),
        };
        let number = call.number.to_string();
        let sink: Box<dyn AudioSink> = match record.map(|r| PathBuf::from(r.replace("{n}", &number))) {
            Some(path) => match media::WavSink::create(&path, rate) {
                Ok(s) => Box::new(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record");
                    Box::new(media::Discard)
                }
            },
            None => Box::new(media::Discard),
        };
        let call_id = id.to_owned();
        let on_event = Box::new(move |ev: MediaEvent| match ev {
            MediaEvent::Dtmf { key } => {
                emit(json, json!({ "event": "dtmf", "call_id": call_id, "key": key.to_string() }))
            }
            MediaEvent::Bye => tracing::debug!(call_id, "RTCP BYE"),
        });
        emit(
            json,
            json!({ "event": "media", "call_id": id, "codec": cfg.codec.name(), "remote": plan.remote_rtp.to_string(),
                    "local_port": sockets.rtp_port(), "telephone_event": plan.telephone_event }),
        );
        call.media = Some(media::start(sockets, &plan, cfg, source, sink, on_event));
        call.dtmf_at = dtmf_after;
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
            UaEvent::ClientTimeout { key } => {
                let id = self
                    .calls
                    .iter()
                    .find(|(_, c)| c.invite.as_ref() == Some(&key) || c.bye.as_ref() == Some(&key))
                    .map(|(k, _)| k.clone());
                if let Some(id) = id {
                    self.end(&id, "timeout", false);
                }
            }
            UaEvent::Cancelled { invite } => {
                let id = self.calls.iter().find(|(_, c)| c.invite.as_ref() == Some(&invite)).map(|(k, _)| k.clone());
                if let Some(id) = id
                    && let Some(req) = self.calls.get(&id).and_then(|c| c.invite_request.clone())
                {
                    let tag = self.calls.get(&id).and_then(|c| c.local.tag().map(str::to_owned));
                    let resp = Response::for_request(&req, 487, tag.as_deref());
                    let _ = self.ua.send_response(now, &invite, &resp);
                    self.end(&id, "cancelled", true);
                }
            }
            UaEvent::StrayResponse { from, response } => {
                // A retransmitted 2xx: our ACK was lost; send it again.
                if response.status / 100 == 2
                    && let Ok(id) = response.headers.call_id()
                    && let Some(call) = self.calls.get(id)
                    && call.outgoing
                {
                    let ack = self.ack_for(id, &response);
                    self.ua.send_stateless(from, &okno_sip::message::Message::Request(ack));
                }
            }
            UaEvent::Malformed { from, error, responded } => {
                emit(
                    self.args.json,
                    json!({ "event": "malformed", "from": from.to_string(), "error": error.to_string(), "responded": responded }),
                );
            }
            UaEvent::ServerTimeout { .. } => {}
            _ => {}
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
                if let Some(call) = self.calls.get(&call_id) {
                    // A re-INVITE: hold (sendonly/inactive) or resume. Answer on the same port
                    // and stop sending while the peer does not want to receive.
                    let tag = call.local.tag().map(str::to_owned);
                    let port = call.rtp_port;
                    let mut ok = Response::for_request(&req, 200, tag.as_deref());
                    let answer = self.attach_answer(&req, &mut ok, port);
                    let _ = self.ua.send_response(now, &key, &ok);
                    if let Some(answer) = answer
                        && let Some(m) = answer.media.iter().find(|m| m.kind == "audio" && m.port != 0)
                    {
                        let dir = m.direction(answer.direction());
                        let sending = matches!(dir, Direction::SendRecv | Direction::SendOnly);
                        if let Some(media) = self.calls.get(&call_id).and_then(|c| c.media.as_ref()) {
                            media.send(MediaCommand::Sending(sending));
                        }
                        let event = if sending { "resumed" } else { "held" };
                        emit(self.args.json, json!({ "event": event, "call_id": call_id, "by": "remote" }));
                    }
                    return;
                }
                let sockets = match self.bind_media() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot take a call without RTP ports");
                        return respond(&mut self.ua, 503, None);
                    }
                };
                let tag = self.ua.new_tag();
                let remote_target = req
                    .headers
                    .contacts()
                    .ok()
                    .and_then(|c| c.first().and_then(|c| c.addr().map(|a| a.uri.clone())))
                    .unwrap_or_else(|| remote.uri.clone());
                let peer = target_addr(&remote_target).unwrap_or(from);
                respond(&mut self.ua, 180, Some(&tag));
                emit(
                    self.args.json,
                    json!({ "event": "incoming", "call_id": call_id, "from": remote.uri.to_string(), "to": local.uri.to_string() }),
                );
                let answer_at = self.args.auto_answer.then(|| now + self.args.answer_after);
                self.calls_seen += 1;
                self.calls.insert(
                    call_id.clone(),
                    Call {
                        call_id,
                        outgoing: false,
                        peer,
                        remote_target,
                        local: local.with_tag(&tag),
                        remote,
                        local_cseq: 1,
                        invite: Some(key.clone()),
                        invite_request: Some(req.clone()),
                        started: now,
                        answered: None,
                        answer_at,
                        hangup_at: None,
                        bye: None,
                        number: self.calls_seen,
                        rtp_port: sockets.rtp_port(),
                        sockets: Some(sockets),
                        media: None,
                        dtmf_at: None,
                    },
                );
            }
            Method::Bye => {
                respond(&mut self.ua, 200, None);
                if let Ok(id) = req.headers.call_id() {
                    let id = id.to_owned();
                    self.end(&id, "remote_bye", true);
                }
            }
            Method::Options => respond(&mut self.ua, 200, None),
            Method::Ack | Method::Cancel => {}
            _ => respond(&mut self.ua, 405, None),
        }
    }

    /// Puts our SDP answer to the request's offer into `resp`; returns it with the offer.
    fn attach_answer(&self, offer_req: &Request, resp: &mut Response, rtp_port: u16) -> Option<sdp::Session> {
        resp.headers.push(HeaderName::Contact, self.contact());
        let answer = sdp::Session::parse(&offer_req.body)
            .ok()
            .and_then(|offer| sdp::answer(&offer, &self.media(rtp_port, Direction::SendRecv)).ok());
        if let Some(answer) = &answer {
            resp.headers.push(HeaderName::ContentType, "application/sdp");
            resp.body = answer.to_bytes();
        }
        answer
    }

    fn answer(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get(id) else { return };
        let (Some(key), Some(req)) = (call.invite.clone(), call.invite_request.clone()) else { return };
        let mut ok = Response::for_request(&req, 200, call.local.tag());
        let answer = self.attach_answer(&req, &mut ok, call.rtp_port);
        if self.ua.send_response(now, &key, &ok).is_ok() {
            let hangup_after = self.args.hangup_after;
            if let Some(call) = self.calls.get_mut(id) {
                call.answered = Some(now);
                call.answer_at = None;
                call.hangup_at = hangup_after.map(|d| now + d);
            }
            emit(self.args.json, json!({ "event": "answered", "call_id": id, "direction": "inbound" }));
            if let (Some(answer), Ok(offer)) = (answer, sdp::Session::parse(&req.body)) {
                self.start_media(now, id, &answer, &offer);
            }
        }
    }

    fn place_call(&mut self, now: Instant) -> Result<()> {
        let Some(target) = self.args.call.clone() else { return Ok(()) };
        let peer = self
            .args
            .registrar
            .or_else(|| target_addr(&target))
            .context("cannot resolve the call target: give an IP or --registrar")?;
        let sockets = self.bind_media()?;
        let rtp_port = sockets.rtp_port();
        let call_id = format!("{}@{}", self.ua.new_tag(), self.args.listen.ip());
        let tag = self.ua.new_tag();
        let local_uri =
            self.args.account.clone().unwrap_or(Uri::parse(&format!("sip:{}@{}", self.our_user(), self.args.listen))?);
        let local = NameAddr::new(local_uri).with_tag(&tag);
        let remote = NameAddr::new(target.clone());
        // `send_request` adds the Via of the new transaction.
        let mut req = Request::new(Method::Invite, target.clone());
        req.headers.push(HeaderName::MaxForwards, "70");
        req.headers.push(HeaderName::From, local.to_string());
        req.headers.push(HeaderName::To, remote.to_string());
        req.headers.push(HeaderName::CallId, &call_id);
        req.headers.push(HeaderName::CSeq, "1 INVITE");
        req.headers.push(HeaderName::Contact, self.contact());
        req.headers.push(HeaderName::ContentType, "application/sdp");
        req.body = sdp::build_offer(&self.media(rtp_port, Direction::SendRecv)).to_bytes();
        let key = self.ua.send_request(now, peer, req.clone());
        self.placed += 1;
        self.calls_seen += 1;
        emit(self.args.json, json!({ "event": "calling", "call_id": call_id, "to": target.to_string() }));
        self.calls.insert(
            call_id.clone(),
            Call {
                call_id,
                outgoing: true,
                peer,
                remote_target: target,
                local,
                remote,
                local_cseq: 1,
                invite: Some(key),
                invite_request: Some(req),
                started: now,
                answered: None,
                answer_at: None,
                hangup_at: None,
                bye: None,
                number: self.calls_seen,
                rtp_port,
                sockets: Some(sockets),
                media: None,
                dtmf_at: None,
            },
        );
        Ok(())
    }

    fn ack_for(&mut self, id: &str, ok: &Response) -> Request {
        let call = &self.calls[id];
        let mut ack = Request::new(Method::Ack, call.remote_target.clone());
        let via = self.ua.new_via().to_string();
        ack.headers.push(HeaderName::Via, via);
        ack.headers.push(HeaderName::MaxForwards, "70");
        ack.headers.push(HeaderName::From, call.local.to_string());
        ack.headers.push(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap_or_default());
        ack.headers.push(HeaderName::CallId, id);
        ack.headers.push(HeaderName::CSeq, "1 ACK");
        ack
    }

    fn on_response(&mut self, now: Instant, key: TransactionKey, resp: Response) {
        let Ok(id) = resp.headers.call_id().map(str::to_owned) else { return };
        let Some(call) = self.calls.get(&id) else { return };
        if call.bye.as_ref() == Some(&key) {
            if resp.status >= 200 {
                self.end(&id, "local_bye", true);
            }
            return;
        }
        if call.invite.as_ref() != Some(&key) || !call.outgoing {
            return;
        }
        match resp.status {
            180 | 183 => emit(self.args.json, json!({ "event": "ringing", "call_id": id, "status": resp.status })),
            100..=199 => {}
            200..=299 => {
                if call.answered.is_some() {
                    return;
                }
                let remote_target =
                    resp.headers.contacts().ok().and_then(|c| c.first().and_then(|c| c.addr().map(|a| a.uri.clone())));
                let to = resp.headers.to().ok();
                let hangup_after = self.args.hangup_after;
                if let Some(call) = self.calls.get_mut(&id) {
                    if let Some(t) = remote_target {
                        // No Record-Route is kept yet, so in-dialog requests (ACK, BYE) go to the
                        // peer's Contact directly (RFC 3261 §12.2.1.1 with an empty route set).
                        if let Some(addr) = target_addr(&t) {
                            call.peer = addr;
                        }
                        call.remote_target = t;
                    }
                    if let Some(to) = to {
                        call.remote = to;
                    }
                    call.answered = Some(now);
                    call.hangup_at = hangup_after.map(|d| now + d);
                }
                let ack = self.ack_for(&id, &resp);
                let peer = self.calls[&id].peer;
                self.ua.send_stateless(peer, &okno_sip::message::Message::Request(ack));
                emit(self.args.json, json!({ "event": "answered", "call_id": id, "direction": "outbound" }));
                match sdp::Session::parse(&resp.body) {
                    // The answer is both the plan and the peer's description.
                    Ok(answer) => self.start_media(now, &id, &answer, &answer),
                    Err(e) => tracing::warn!(call_id = id, error = %e, "2xx without a usable SDP answer"),
                }
            }
            status => {
                emit(self.args.json, json!({ "event": "rejected", "call_id": id, "status": status }));
                self.end(&id, &format!("status_{status}"), false);
            }
        }
    }

    fn hang_up(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get_mut(id) else { return };
        call.hangup_at = None;
        call.local_cseq += 1;
        let mut bye = Request::new(Method::Bye, call.remote_target.clone());
        let (local, remote, cseq, peer) = (call.local.to_string(), call.remote.to_string(), call.local_cseq, call.peer);
        bye.headers.push(HeaderName::MaxForwards, "70");
        // In an incoming call our From is the INVITE's To and the other way round.
        bye.headers.push(HeaderName::From, &local);
        bye.headers.push(HeaderName::To, &remote);
        bye.headers.push(HeaderName::CallId, id);
        bye.headers.push(HeaderName::CSeq, format!("{cseq} BYE"));
        let key = self.ua.send_request(now, peer, bye);
        if let Some(call) = self.calls.get_mut(id) {
            call.bye = Some(key);
        }
    }

    fn end(&mut self, id: &str, cause: &str, clean: bool) {
        let Some(mut call) = self.calls.remove(id) else { return };
        let talk = call.answered.map(|a| a.elapsed().as_secs_f64()).unwrap_or(0.0);
        let stats = call.media.as_ref().map(MediaHandle::stats);
        if let Some(media) = call.media.take() {
            self.stopping.push(tokio::spawn(media.stop()));
        }
        let answered = call.answered.is_some();
        if call.outgoing && !(clean && answered) {
            self.failures += 1;
        }
        self.ended += 1;
        emit(
            self.args.json,
            json!({ "event": "ended", "call_id": call.call_id, "cause": cause, "answered": answered,
                     "duration_s": (call.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                     "talk_s": (talk * 1000.0).round() / 1000.0, "outgoing": call.outgoing,
                     "media": stats.as_ref().map(media_json) }),
        );
        if call.outgoing && self.placed < self.args.calls {
            self.next_call_at = Some(Instant::now() + Duration::from_millis(50));
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let app = self.calls.values().flat_map(|c| [c.answer_at, c.hangup_at, c.dtmf_at]).flatten();
        [self.ua.poll_timeout(), self.reg.as_ref().and_then(|r| r.poll_timeout()), self.next_call_at]
            .into_iter()
            .flatten()
            .chain(app)
            .min()
    }

    fn on_timers(&mut self, now: Instant) -> Result<()> {
        self.ua.handle_timeout(now);
        if let Some(reg) = self.reg.as_mut() {
            reg.handle_timeout(now, &mut self.ua);
        }
        let due: Vec<(String, bool)> = self
            .calls
            .values()
            .filter_map(|c| {
                if c.answer_at.is_some_and(|t| t <= now) {
                    Some((c.call_id.clone(), true))
                } else if c.hangup_at.is_some_and(|t| t <= now) {
                    Some((c.call_id.clone(), false))
                } else {
                    None
                }
            })
            .collect();
        for (id, answer) in due {
            if answer { self.answer(now, &id) } else { self.hang_up(now, &id) }
        }
        let keys = self.args.dtmf.clone().unwrap_or_default();
        for call in self.calls.values_mut().filter(|c| c.dtmf_at.is_some_and(|t| t <= now)) {
            call.dtmf_at = None;
            if let Some(media) = &call.media {
                media.send(MediaCommand::Dtmf(keys.clone()));
            }
        }
        if self.next_call_at.is_some_and(|t| t <= now) {
            self.next_call_at = None;
            self.place_call(now)?;
        }
        Ok(())
    }

    fn done(&self) -> bool {
        let outgoing_done = self.args.call.is_some() && self.placed >= self.args.calls && self.calls.is_empty();
        let enough = self.args.exit_after_calls.is_some_and(|n| self.ended >= n);
        outgoing_done || enough
    }
}

async fn drive(phone: &mut Phone, socket: &tokio::net::UdpSocket) -> Result<()> {
    while let Some(out) = phone.ua.poll_output() {
        match out {
            Output::Transmit { to, bytes } => {
                if let Err(e) = socket.send_to(&bytes, to).await {
                    tracing::warn!(%to, error = %e, "send failed");
                }
            }
            Output::Event(ev) => {
                let now = Instant::now();
                if let Some(reg) = phone.reg.as_mut()
                    && reg.handle_event(now, &mut phone.ua, &ev)
                {
                    while let Some(r) = reg.poll_event() {
                        let v = match r {
                            RegistrationEvent::Registered { expires } => {
                                json!({ "event": "registered", "expires": expires })
                            }
                            RegistrationEvent::Unregistered => json!({ "event": "unregistered" }),
                            RegistrationEvent::Failed { status } => {
                                json!({ "event": "registration_failed", "status": status })
                            }
                        };
                        emit(phone.args.json, v);
                    }
                    continue;
                }
                phone.on_event(now, ev);
            }
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OKNO_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("okno-phone: {e:#}");
            std::process::exit(2);
        }
    };
    match run(args).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("okno-phone: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn run(args: Args) -> Result<bool> {
    let socket =
        tokio::net::UdpSocket::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let pid = std::process::id();
    let config = UaConfig {
        via_host: Host::parse(&args.listen.ip().to_string()).map_err(|e| anyhow::anyhow!("{e}"))?,
        via_port: Some(args.listen.port()),
        transport: Transport::Udp,
        timers: Default::default(),
        parser: Default::default(),
        // Unique across processes and restarts: tags and Call-IDs must never repeat.
        id_prefix: format!(
            "ok{pid:x}{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        ),
        user_agent: Some(format!("okno-phone/{}", env!("CARGO_PKG_VERSION"))),
    };
    let mut phone = Phone {
        ua: UserAgent::new(config),
        reg: None,
        calls: HashMap::new(),
        placed: 0,
        ended: 0,
        failures: 0,
        next_call_at: None,
        calls_seen: 0,
        stopping: Vec::new(),
        args,
    };
    let now = Instant::now();
    if let (Some(registrar), Some(account)) = (phone.args.registrar, phone.args.account.clone()) {
        let password = match &phone.args.password_env {
            Some(var) => Some(std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?),
            None => None,
        };
        let user = match &account {
            Uri::Sip(s) => s.user.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let registrar_uri = match &account {
            Uri::Sip(s) => Uri::parse(&format!("sip:{}", s.host))?,
            _ => bail!("--account must be a sip: URI"),
        };
        let cfg = RegistrationConfig {
            registrar: registrar_uri,
            registrar_addr: registrar,
            aor: NameAddr::new(account),
            contact: NameAddr::parse(&phone.contact()).map_err(|e| anyhow::anyhow!("{e}"))?,
            expires: 300,
            credentials: password.map(|password| Credentials { username: user, password }),
        };
        let mut reg = Registration::new(cfg, &mut phone.ua);
        reg.register(now, &mut phone.ua);
        phone.reg = Some(reg);
    }
    if phone.args.call.is_some() {
        // Give a registration a moment to complete before the first call.
        phone.next_call_at = Some(now + if phone.reg.is_some() { Duration::from_millis(300) } else { Duration::ZERO });
    }
    drive(&mut phone, &socket).await?;
    let mut buf = vec![0u8; 65_536];
    loop {
        if phone.done() {
            break;
        }
        let deadline = phone.next_deadline().unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, from) = received?;
                phone.ua.handle_datagram(Instant::now(), from, &buf[..n]);
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                phone.on_timers(Instant::now())?;
            }
            _ = tokio::signal::ctrl_c() => break,
        }
        drive(&mut phone, &socket).await?;
    }
    // Calls still up at exit (Ctrl-C) stop their media too; then every recording is closed.
    let open: Vec<String> = phone.calls.keys().cloned().collect();
    for id in open {
        if let Some(media) = phone.calls.get_mut(&id).and_then(|c| c.media.take()) {
            phone.stopping.push(tokio::spawn(media.stop()));
        }
    }
    for task in phone.stopping.drain(..) {
        let _ = task.await;
    }
    Ok(phone.failures == 0)
}
