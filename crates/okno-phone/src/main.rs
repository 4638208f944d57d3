//! `okno-phone`: a headless softphone. Tests, scripts and benchmarks use it as a real SIP
//! peer; with `--json-events` it prints one JSON object per line for every call event.
//!
//! It is a thin client of `okno_phone::engine`, which does the SIP and the media: this file
//! parses the options, supplies audio from WAV files or silence (`--play`, `--record`), prints
//! the engine's events, and turns the options into policies that react to those events on
//! timers: auto-answer, hang up after a while, send DTMF, place the next call, exit.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use okno_phone::engine::{self, EngineConfig, MediaIo, PhoneCommand, PhoneEvent, PhoneHandle, Transport, parse_codecs};
use okno_phone::media::{self, AudioSink, AudioSource};
use okno_sip::sdp;
use okno_sip::uri::Uri;
use tokio::sync::mpsc;

const USAGE: &str = "\
okno-phone — headless Okno softphone (SIP over UDP, TCP or TLS)

OPTIONS:
    --listen udp|tcp|tls|ws|wss:IP:PORT  where to listen and how to send (default udp:127.0.0.1:5070);
                                tcp: requests over TCP connections, UDP still received;
                                tls: over a TLS connection to the registrar (a client only)
                                ws, wss: over a WebSocket to ws(s)://REGISTRAR/ (RFC 7118)
    --tls-ca FILE.pem           with tls: trust these CA certificates beside the Mozilla roots
    --tls-name NAME             with tls: the name the registrar's certificate must carry
                                (default: the registrar's IP address)
    --account sip:USER@DOMAIN   our address of record
    --registrar HOST:PORT       register there (and send calls through it); calls are then taken
                                only from it unless --accept-direct-calls
    --accept-direct-calls       with --registrar, also take calls sent straight to our port
    --password-env VAR          read the SIP password from environment variable VAR
    --auto-answer               answer incoming calls
    --answer-after-ms N         ring N ms before answering (default 0)
    --call SIP-URI              place a call (to the registrar if given, else to the URI's host)
    --calls N                   place N calls one after another (default 1)
    --hangup-after-ms N         hang up N ms after answer (default: wait for the other side)
    --exit-after-calls N        exit after N calls ended (incoming or outgoing)
    --json-events               one JSON object per line on stdout for every event
    --codecs LIST               voice codecs in preference order: pcmu,pcma,opus (default pcmu,pcma)
    --play FILE.wav             send this file (once, then silence) instead of the microphone
    --record FILE.wav           write the received audio; {n} in the name becomes the call number
    --dtmf KEYS                 send these keys (RFC 4733) 500 ms after answer, e.g. 123#
    --transfer-to SIP-URI       blind-transfer the first answered call there (REFER)
    --transfer-after-ms N       ... N ms after the answer (default 1000)
    --audio-device null         audio device; only `null` (no device) in the headless phone
    --rtp-port N                first RTP port to try (default: chosen from the process id)
    --max-calls N               calls at once before new ones are refused busy (default: 16)
    --keepalive-ms N            probe the registrar every N ms while registered, OPTIONS over
                                udp and CRLF pings over tcp/tls; 0: never (default 30000)
    --session-expires N         session timer our calls ask for, in s (RFC 4028); 0: none
                                (default 1800)
    --min-se N                  shortest session timer agreed to, in s; shorter asks get 422
                                (default 90, the RFC's floor; tests go lower)
    --srtp off|offer|require    SRTP with SDES keys (RFC 4568): offer falls back to RTP with a peer
                                without it; require refuses such calls (488) (default off,
                                require over tls: keys sent over TLS protect the call itself)
Exit code: 0 when every call we placed was answered and ended cleanly, 1 otherwise, 2 on bad options.";

#[derive(Debug, Clone)]
struct Args {
    listen: SocketAddr,
    transport: Transport,
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
    transfer_to: Option<Uri>,
    transfer_after: Duration,
    rtp_port: u16,
    max_calls: usize,
    keepalive: Option<Duration>,
    session_expires: Option<u32>,
    min_se: u32,
    /// `None`: not given (off, or require over TLS).
    srtp: Option<sdp::SrtpPolicy>,
    accept_direct_calls: bool,
    tls_ca: Option<PathBuf>,
    tls_name: Option<String>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args> {
    let mut a = Args {
        listen: "127.0.0.1:5070".parse()?,
        transport: Transport::Udp,
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
        transfer_to: None,
        transfer_after: Duration::from_secs(1),
        rtp_port: 0,
        max_calls: 16,
        keepalive: Some(Duration::from_secs(30)),
        session_expires: Some(1800),
        min_se: 90,
        srtp: None,
        accept_direct_calls: false,
        tls_ca: None,
        tls_name: None,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                let (transport, addr) = match v.split_once(':') {
                    Some(("udp", addr)) => (Transport::Udp, addr),
                    Some(("tcp", addr)) => (Transport::Tcp, addr),
                    Some(("tls", addr)) => (Transport::Tls, addr),
                    Some(("ws", addr)) => (Transport::Ws, addr),
                    Some(("wss", addr)) => (Transport::Wss, addr),
                    _ => anyhow::bail!("--listen takes udp|tcp|tls|ws|wss:IP:PORT, not {v}"),
                };
                a.transport = transport;
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
            "--codecs" => a.codecs = parse_codecs(&value()?).context("--codecs")?,
            "--play" => a.play = Some(PathBuf::from(value()?)),
            "--record" => a.record = Some(value()?),
            "--dtmf" => {
                let keys = value()?;
                if let Some(bad) = keys.chars().find(|k| okno_media::dtmf::event_for_key(*k).is_err()) {
                    bail!("--dtmf: {bad:?} is not a DTMF key (0-9, *, #, A-D)");
                }
                a.dtmf = Some(keys);
            }
            "--transfer-to" => a.transfer_to = Some(Uri::parse(&value()?).context("bad --transfer-to URI")?),
            "--transfer-after-ms" => a.transfer_after = Duration::from_millis(value()?.parse()?),
            "--audio-device" => {
                let v = value()?;
                if v != "null" {
                    bail!("--audio-device {v}: the headless phone has no sound devices yet; use null");
                }
            }
            "--srtp" => a.srtp = Some(value()?.parse().context("--srtp is off, offer or require")?),
            "--tls-ca" => a.tls_ca = Some(PathBuf::from(value()?)),
            "--tls-name" => a.tls_name = Some(value()?),
            "--accept-direct-calls" => a.accept_direct_calls = true,
            "--rtp-port" => a.rtp_port = value()?.parse().context("--rtp-port needs a port number")?,
            "--max-calls" => a.max_calls = value()?.parse().context("--max-calls needs a number")?,
            "--session-expires" => {
                let s: u32 = value()?.parse().context("--session-expires needs a number of seconds")?;
                a.session_expires = (s > 0).then_some(s);
            }
            "--min-se" => a.min_se = value()?.parse().context("--min-se needs a number of seconds")?,
            "--keepalive-ms" => {
                let ms: u64 = value()?.parse().context("--keepalive-ms needs a number of milliseconds")?;
                a.keepalive = (ms > 0).then(|| Duration::from_millis(ms));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    Ok(a)
}

/// `--play` and `--record` for each call: the file (or silence) as the source, a WAV per call
/// (`{n}` = the call number) or nothing as the sink.
struct FileMedia {
    play: Option<PathBuf>,
    record: Option<String>,
}

impl MediaIo for FileMedia {
    fn open(&mut self, _call_id: &str, number: u32, rate: u32) -> (Box<dyn AudioSource>, Box<dyn AudioSink>) {
        let source: Box<dyn AudioSource> = match self.play.as_deref().map(|p| media::WavSource::open(p, rate)) {
            Some(Ok(s)) => Box::new(s),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "cannot play the file; sending silence");
                Box::new(media::Silence)
            }
            None => Box::new(media::Silence),
        };
        let sink: Box<dyn AudioSink> = match &self.record {
            Some(pattern) => {
                let path = PathBuf::from(pattern.replace("{n}", &number.to_string()));
                match media::WavSink::create(&path, rate) {
                    Ok(s) => Box::new(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot record");
                        Box::new(media::Discard)
                    }
                }
            }
            None => Box::new(media::Discard),
        };
        (source, sink)
    }
}

/// Something the options ask for at a later instant.
enum Timer {
    Answer(String),
    Hangup(String),
    Dtmf(String),
    Transfer(String),
    NextCall,
}

/// The command-line policies, run as reactions to the engine's events.
struct Client {
    args: Args,
    phone: PhoneHandle,
    /// Due instant and a sequence number (two timers may share an instant) → what to do.
    /// Timers of calls that ended meanwhile are dropped when they come due.
    timers: BTreeMap<(Instant, u64), Timer>,
    seq: u64,
    /// Calls up or ringing, both ways.
    live: HashSet<String>,
    placed: u32,
    ended: u32,
    failures: u32,
    next_call_pending: bool,
    shutting_down: bool,
    /// `--transfer-to` applies to the first answered call only.
    transfer_scheduled: bool,
    /// A dial failed: stop, as an unusable `--call` target did before the engine existed.
    fatal: bool,
}

impl Client {
    fn at(&mut self, when: Instant, timer: Timer) {
        self.seq += 1;
        self.timers.insert((when, self.seq), timer);
    }

    fn send(&self, cmd: PhoneCommand) {
        if let Err(e) = self.phone.send(cmd) {
            tracing::warn!(error = %e, "command not sent");
        }
    }

    fn print(&self, event: &PhoneEvent) {
        let line = match serde_json::to_string(event) {
            Ok(l) => l,
            Err(e) => return tracing::warn!(error = %e, ?event, "cannot serialize an event"),
        };
        if self.args.json {
            println!("{line}");
        } else {
            tracing::info!(event = %line, "phone");
        }
    }

    fn on_event(&mut self, event: PhoneEvent) {
        self.print(&event);
        let now = Instant::now();
        match event {
            PhoneEvent::Incoming { call_id, .. } => {
                self.live.insert(call_id.clone());
                if self.args.auto_answer && !self.shutting_down {
                    if self.args.answer_after.is_zero() {
                        self.send(PhoneCommand::Answer { call_id });
                    } else {
                        self.at(now + self.args.answer_after, Timer::Answer(call_id));
                    }
                }
            }
            PhoneEvent::Calling { call_id, .. } => {
                self.placed += 1;
                self.live.insert(call_id);
            }
            // The call a REFER asked for came just before as `calling`: it is the peer's, not
            // one of the `--calls` we place.
            PhoneEvent::Referred { .. } => self.placed = self.placed.saturating_sub(1),
            // A call that took over one of ours (Replaces) is answered without ringing: it is
            // live from here, so `--hangup-after-ms` and the other timers apply to it too.
            PhoneEvent::Replaced { call_id, .. } => {
                self.live.insert(call_id);
            }
            PhoneEvent::Answered { call_id, .. } if !self.shutting_down => {
                if let Some(after) = self.args.hangup_after {
                    self.at(now + after, Timer::Hangup(call_id.clone()));
                }
                if self.args.dtmf.is_some() {
                    self.at(now + Duration::from_millis(500), Timer::Dtmf(call_id.clone()));
                }
                if self.args.transfer_to.is_some() && !self.transfer_scheduled {
                    self.transfer_scheduled = true;
                    self.at(now + self.args.transfer_after, Timer::Transfer(call_id));
                }
            }
            PhoneEvent::Ended { call_id, cause, answered, outgoing, .. } => {
                self.live.remove(&call_id);
                self.ended += 1;
                let clean = cause.is_clean();
                if outgoing && !(clean && answered) {
                    self.failures += 1;
                }
                if outgoing && self.placed < self.args.calls && !self.shutting_down {
                    self.next_call_pending = true;
                    self.at(now + Duration::from_millis(50), Timer::NextCall);
                }
            }
            PhoneEvent::Error { code: engine::ErrorCode::DialFailed, message, .. } => {
                eprintln!("okno-phone: {message}");
                self.failures += 1;
                self.fatal = true;
            }
            _ => {}
        }
    }

    fn on_timers(&mut self, now: Instant) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                Timer::Answer(id) if self.live.contains(&id) => self.send(PhoneCommand::Answer { call_id: id }),
                Timer::Hangup(id) if self.live.contains(&id) => self.send(PhoneCommand::Hangup { call_id: id }),
                Timer::Dtmf(id) if self.live.contains(&id) => {
                    let keys = self.args.dtmf.clone().unwrap_or_default();
                    self.send(PhoneCommand::Dtmf { call_id: id, keys });
                }
                Timer::Transfer(id) if self.live.contains(&id) => {
                    if let Some(to) = self.args.transfer_to.clone() {
                        self.send(PhoneCommand::Transfer { call_id: id, to });
                    }
                }
                Timer::NextCall => {
                    self.next_call_pending = false;
                    if let Some(to) = self.args.call.clone() {
                        self.send(PhoneCommand::Dial { to, display_name: None, call_info: Vec::new() });
                    }
                }
                _ => {}
            }
        }
    }

    fn done(&self) -> bool {
        let outgoing_done = self.args.call.is_some()
            && self.placed >= self.args.calls
            && self.live.is_empty()
            && !self.next_call_pending;
        let enough = self.args.exit_after_calls.is_some_and(|n| self.ended >= n);
        outgoing_done || enough || self.fatal
    }
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

fn engine_config(args: &Args) -> Result<EngineConfig> {
    let mut config = EngineConfig::new(args.listen);
    config.transport = args.transport.clone();
    config.account = args.account.clone();
    config.registrar = args.registrar;
    config.calls_only_from_registrar = !args.accept_direct_calls;
    config.codecs = args.codecs.clone();
    config.rtp_port = args.rtp_port;
    config.max_calls = args.max_calls;
    config.keepalive = args.keepalive;
    config.session_expires = args.session_expires;
    config.min_se = args.min_se;
    let over_tls = matches!(args.transport, Transport::Tls | Transport::Wss);
    config.srtp = args.srtp.unwrap_or(if over_tls { sdp::SrtpPolicy::Require } else { sdp::SrtpPolicy::Off });
    if over_tls {
        let ca = args
            .tls_ca
            .as_ref()
            .map(|p| std::fs::read(p).with_context(|| format!("--tls-ca {}", p.display())))
            .transpose()?;
        let name = match (&args.tls_name, args.registrar) {
            (Some(name), _) => name.clone(),
            (None, Some(registrar)) => registrar.ip().to_string(),
            (None, None) => anyhow::bail!("--listen tls or wss: needs --registrar (the phone speaks TLS to it)"),
        };
        config.tls = Some(okno_phone::engine::SipTls::new(ca.as_deref(), &name)?);
    }
    // The password answers the registrar's and the callees' digest challenges.
    if args.account.is_some()
        && let Some(var) = &args.password_env
    {
        config.password = Some(std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?);
    }
    Ok(config)
}

/// Runs the phone until the options say it is done (or Ctrl-C); true when every call we
/// placed was answered and ended cleanly.
async fn run(args: Args) -> Result<bool> {
    let config = engine_config(&args)?;
    let registering = config.registrar.is_some() && config.account.is_some();
    let media = Box::new(FileMedia { play: args.play.clone(), record: args.record.clone() });
    let (events_tx, events) = mpsc::unbounded_channel();
    // The engine runs in this (the `block_on`) future rather than on a task of its own: see
    // `engine::bind`. It ends after the client's `Shutdown`.
    let (phone, engine) = engine::bind(config, media, events_tx).await?;
    let client = Client {
        args,
        phone,
        timers: BTreeMap::new(),
        seq: 0,
        live: HashSet::new(),
        placed: 0,
        ended: 0,
        failures: 0,
        next_call_pending: false,
        shutting_down: false,
        transfer_scheduled: false,
        fatal: false,
    };
    let ((), result) = tokio::join!(engine, client.run(registering, events));
    result
}

impl Client {
    async fn run(mut self, registering: bool, mut events: mpsc::UnboundedReceiver<PhoneEvent>) -> Result<bool> {
        if self.args.call.is_some() {
            // Give a registration a moment to complete before the first call.
            let delay = if registering { Duration::from_millis(300) } else { Duration::ZERO };
            self.next_call_pending = true;
            self.at(Instant::now() + delay, Timer::NextCall);
        }
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            self.on_timers(Instant::now());
            if self.done() {
                break;
            }
            let next = self.timers.first_key_value().map(|(k, _)| k.0);
            tokio::select! {
                event = events.recv() => match event {
                    Some(e) => {
                        self.on_event(e);
                        // The rest of what is queued, without spending the task's coop
                        // budget, which the engine polled in the same future needs for SIP.
                        while let Ok(e) = events.try_recv() {
                            self.on_event(e);
                        }
                    }
                    None => bail!("the phone engine stopped unexpectedly"),
                },
                _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now).into()), if next.is_some() => {}
                _ = &mut ctrl_c => break,
            }
        }
        // The engine hangs up what is still up, removes the registration and stops the media
        // (recordings closed); its last events are printed until the channel closes.
        self.shutting_down = true;
        self.send(PhoneCommand::Shutdown);
        while let Some(e) = events.recv().await {
            self.on_event(e);
        }
        Ok(self.failures == 0)
    }
}
