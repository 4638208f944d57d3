//! The phone engine: one tokio task that owns the SIP socket, the clock and every call's media
//! task, and drives [`CallControl`] (the sans-IO call control in `control.rs`: registration,
//! calls, hold, transfers) with what arrives. It takes [`PhoneCommand`]s and reports
//! [`PhoneEvent`]s. The desktop app and the headless `okno-phone` binary are both clients of
//! it: they decide *when* to dial, answer, hold or hang up (a person clicking, or a
//! command-line policy on timers); the engine does the SIP and the media.
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
//! Transfers (RFC 3515 REFER, RFC 3891 Replaces, RFC 5589 call flows) live in call control's
//! `transfer` module: blind and attended as the transferor, following a REFER as the
//! transferee, and taking over a call with Replaces as the transfer target.
//!
//! SIP travels over UDP, TCP (`engine/stream.rs`), or TLS or WebSocket to the registrar; in-dialog requests
//! follow the call's route set (Record-Route). While registered, the registrar is probed
//! (OPTIONS over UDP, CRLF pings over a connection; `EngineConfig::keepalive`): one that stops
//! answering is reported at once and registered with again, on a new connection. SIP over
//! WebSocket (RFC 7118, `ws` and `wss`) connects to the registrar like TLS does. Not yet: a
//! re-INVITE cannot move the media to another address or codec.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use okno_media::session::{CallStats, MediaEvent};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::media::{self, MediaCommand, MediaHandle, MediaSockets};
use stream::{StreamEvent, Streams};

mod api;
mod control;
mod stream;

pub use api::*;
pub use control::{CallControl, CallMedia, ControlOutput, MediaStart, StartedMedia};

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
    let (stream_events, stream_rx) = mpsc::unbounded_channel();
    let streams = match config.transport {
        Transport::Tcp => Some(
            Streams::bind(bound, stream_events).await.map_err(|source| EngineError::Bind { addr: bound, source })?,
        ),
        Transport::Tls => Some(Streams::tls(tls_client(&config)?, stream_events)),
        Transport::Ws | Transport::Wss => {
            let registrar = config.registrar.ok_or_else(|| {
                EngineError::Config("SIP over WebSocket needs a registrar: the phone connects to it".into())
            })?;
            let client = if config.transport == Transport::Wss {
                let tls = tls_client(&config)?;
                let url = format!("wss://{}:{}/", tls.server_name.to_str(), registrar.port());
                stream::WsClient { tls: Some(tls), url }
            } else {
                stream::WsClient { tls: None, url: format!("ws://{registrar}/") }
            };
            Some(Streams::ws(client, stream_events))
        }
        _ => None,
    };
    let stopping = Arc::new(Mutex::new(Vec::new()));
    let socket_media = SocketMedia {
        rtp_port: config.rtp_port,
        opus_complexity: config.opus_complexity,
        media_io: media,
        events: events.clone(),
        reserved: HashMap::new(),
        running: HashMap::new(),
        stopping: stopping.clone(),
    };
    let control = CallControl::new(config, local, id_prefix(), Box::new(socket_media), Instant::now())?;
    let (commands, rx) = mpsc::unbounded_channel();
    let engine = Engine { control, events, stopping, socket, streams, stream_rx };
    Ok((PhoneHandle { commands, local_addr: bound }, engine.run(rx)))
}

/// The TLS side of SIP over TLS or WSS: whom `config` trusts and the name the registrar's
/// certificate must bear.
fn tls_client(config: &EngineConfig) -> Result<stream::TlsClient, EngineError> {
    let what = config.transport.as_str();
    let tls = config.tls.as_ref().ok_or_else(|| {
        EngineError::Config(format!("SIP over {what} needs to know whom to trust: set the TLS settings"))
    })?;
    let server_name = ServerName::try_from(tls.server_name.clone()).map_err(|e| {
        EngineError::Config(format!("SIP over {what}: {:?} is not a server name: {e}", tls.server_name))
    })?;
    Ok(stream::TlsClient { connector: tokio_rustls::TlsConnector::from(tls.client.clone()), server_name })
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

/// Media tasks sending their RTCP BYE and closing recordings; awaited before the engine ends.
type Stopping = Arc<Mutex<Vec<tokio::task::JoinHandle<CallStats>>>>;

/// A running call's media task and what reopening its audio needs.
struct RunningMedia {
    handle: MediaHandle,
    number: u32,
    pcm_rate: u32,
}

/// [`CallMedia`] on real sockets: a UDP pair per call, a media task per running call.
struct SocketMedia {
    /// Where RTP ports are looked for (0: chosen from the process id).
    rtp_port: u16,
    opus_complexity: Option<i32>,
    media_io: Box<dyn MediaIo>,
    /// For the DTMF keys the media tasks hear.
    events: mpsc::UnboundedSender<PhoneEvent>,
    /// Bound at INVITE time so the SDP can name the port; handed to the media task at answer.
    reserved: HashMap<String, MediaSockets>,
    running: HashMap<String, RunningMedia>,
    stopping: Stopping,
}

impl CallMedia for SocketMedia {
    fn reserve(&mut self, call_id: &str, ip: IpAddr) -> Result<u16, String> {
        let sockets = MediaSockets::bind(ip, self.rtp_port).map_err(|e| e.to_string())?;
        let port = sockets.rtp_port();
        self.reserved.insert(call_id.to_owned(), sockets);
        Ok(port)
    }

    fn start(&mut self, call_id: &str, number: u32, start: MediaStart) -> Result<StartedMedia, String> {
        let srtp = start.srtp.as_ref().map(media::Srtp::new).transpose().map_err(|e| e.to_string())?;
        let mut cfg = media::session_config(&start.plan, start.ssrc, &start.cname).map_err(|e| e.to_string())?;
        cfg.opus.complexity = self.opus_complexity;
        let sockets = self.reserved.remove(call_id).ok_or("no RTP ports were reserved for the call")?;
        let pcm_rate = cfg.codec.pcm_rate();
        let codec = cfg.codec.name().to_owned();
        let (source, sink) = self.media_io.open(call_id, number, pcm_rate);
        let events = self.events.clone();
        let id = call_id.to_owned();
        let on_event = Box::new(move |ev: MediaEvent| match ev {
            MediaEvent::Dtmf { key } => {
                let _ = events.send(PhoneEvent::Dtmf { call_id: id.clone(), key: key.to_string() });
            }
            MediaEvent::Bye => tracing::debug!(call_id = id, "RTCP BYE"),
        });
        let handle =
            media::start(sockets, &start.plan, cfg, srtp, source, sink, on_event).map_err(|e| e.to_string())?;
        if start.muted {
            handle.send(MediaCommand::Mute(true));
        }
        if !start.sending {
            handle.send(MediaCommand::Sending(false));
        }
        self.running.insert(call_id.to_owned(), RunningMedia { handle, number, pcm_rate });
        Ok(StartedMedia { codec })
    }

    fn set_sending(&mut self, call_id: &str, sending: bool) {
        if let Some(m) = self.running.get(call_id) {
            m.handle.send(MediaCommand::Sending(sending));
        }
    }

    fn set_muted(&mut self, call_id: &str, muted: bool) {
        if let Some(m) = self.running.get(call_id) {
            m.handle.send(MediaCommand::Mute(muted));
        }
    }

    fn dtmf(&mut self, call_id: &str, keys: &str) {
        if let Some(m) = self.running.get(call_id) {
            m.handle.send(MediaCommand::Dtmf(keys.to_owned()));
        }
    }

    fn reopen_audio(&mut self) {
        for (id, m) in &self.running {
            let (source, sink) = self.media_io.open(id, m.number, m.pcm_rate);
            m.handle.send(MediaCommand::Replace(source, sink));
        }
    }

    fn stats(&self, call_id: &str) -> Option<CallStats> {
        self.running.get(call_id).map(|m| m.handle.stats())
    }

    fn stop(&mut self, call_id: &str) {
        self.reserved.remove(call_id);
        if let Some(m) = self.running.remove(call_id) {
            let mut stopping = self.stopping.lock().unwrap_or_else(|e| e.into_inner());
            // Finished stops are dropped here so a long run does not collect handles.
            stopping.retain(|t| !t.is_finished());
            stopping.push(tokio::spawn(m.handle.stop()));
        }
    }
}

/// The driver: call control on real sockets and a real clock.
struct Engine {
    control: CallControl,
    events: mpsc::UnboundedSender<PhoneEvent>,
    stopping: Stopping,
    socket: UdpSocket,
    /// SIP over TCP, when the configured transport is TCP.
    streams: Option<Streams>,
    stream_rx: mpsc::UnboundedReceiver<StreamEvent>,
}

impl Engine {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<PhoneCommand>) {
        self.drive().await;
        let mut buf = vec![0u8; 65_536];
        loop {
            if self.control.is_finished(Instant::now()) {
                break;
            }
            let deadline = self.control.poll_timeout();
            let streams = self.streams.as_mut();
            let accept = async move {
                match streams {
                    Some(streams) => streams.accept().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.socket.readable() => {}
                _ = tokio::time::sleep_until(deadline.into()) => {}
                _ = accept => {}
                Some(event) = self.stream_rx.recv() => match event {
                    StreamEvent::Message { from, message } => {
                        self.control.handle_message(Instant::now(), from, *message);
                        self.drive().await;
                    }
                    StreamEvent::Datagram { from, bytes } => {
                        self.control.handle_datagram(Instant::now(), from, &bytes);
                        self.drive().await;
                    }
                    StreamEvent::Pong { from } => {
                        self.control.handle_pong(Instant::now(), from);
                        self.drive().await;
                    }
                    StreamEvent::Closed { peer, id } => {
                        let current = self.streams.as_mut().is_none_or(|streams| streams.closed(peer, id));
                        if current {
                            self.control.handle_transport_error(Instant::now(), peer);
                            self.drive().await;
                        }
                    }
                },
                command = commands.recv(), if !self.control.is_shutting_down() => {
                    let command = command.unwrap_or(PhoneCommand::Shutdown);
                    self.control.handle_command(Instant::now(), command);
                    self.drive().await;
                    for _ in 0..BATCH {
                        let Ok(c) = commands.try_recv() else { break };
                        self.control.handle_command(Instant::now(), c);
                        self.drive().await;
                    }
                }
            }
            // What is queued on the socket is taken now, in a batch that leaves the coop
            // budget alone: under load, SIP waiting a scheduler round (dozens of media ticks)
            // per datagram falls behind and the peers retransmit.
            for _ in 0..BATCH {
                match self.socket.try_recv_from(&mut buf) {
                    Ok((n, from)) => {
                        self.control.handle_datagram(Instant::now(), from, &buf[..n]);
                        self.drive().await;
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
                self.control.handle_timeout(now);
                self.drive().await;
            }
        }
        // Calls still up are ended here and every media task is awaited, so the RTCP BYEs are
        // sent and the recordings closed before the task ends.
        self.control.finish(Instant::now());
        self.drive().await;
        let tasks: Vec<_> = std::mem::take(&mut *self.stopping.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Sends what call control has to send and passes its events on. Over TCP a request opens
    /// a connection if none is open to its peer; a response goes on the connection its request
    /// came in on, or by UDP when the request came by UDP.
    async fn drive(&mut self) {
        while let Some(out) = self.control.poll_output() {
            match out {
                ControlOutput::Transmit { to, bytes } => {
                    if let Some(streams) = self.streams.as_mut()
                        && (streams.is_open(to) || !bytes.starts_with(b"SIP/2.0 "))
                    {
                        streams.send(to, bytes);
                    } else if let Err(e) = self.socket.send_to(&bytes, to).await {
                        tracing::warn!(%to, error = %e, "send failed");
                    }
                }
                // The client may have dropped its receiver; the engine keeps working for the calls.
                ControlOutput::Event(event) => {
                    let _ = self.events.send(event);
                }
                ControlOutput::CloseConnection { peer } => {
                    if let Some(streams) = self.streams.as_mut() {
                        streams.close(peer);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sip::message::CallInfo;

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
