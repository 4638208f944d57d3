//! The socket side of a call's media: one tokio task per call owns its RTP and RTCP sockets
//! and drives `okno_media::session::MediaSession` on a 20 ms tick. Audio comes from an
//! [`AudioSource`] (a WAV file, silence; the microphone in the desktop) and goes to an
//! [`AudioSink`] (a WAV file, nothing; the headset in the desktop), so the same driver serves
//! the headless phone and the window.
//!
//! Symmetric RTP (RFC 4961): when the peer's packets come from another address than its SDP
//! said (a NAT), we answer to where they come from. The first valid packet fixes that address;
//! from then on RTP from anywhere else is dropped (counted, logged once), so a third party who
//! learns the port cannot speak into the call.
//!
//! SRTP (SDES keys): [`Srtp`] protects what the session sends and unprotects what arrives
//! before the session sees it; a packet that fails authentication is dropped like any other
//! malformed datagram (and never latches symmetric RTP).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use okno_media::resample::{LinearResampler, Resampler};
use okno_media::session::{CallStats, Codec, MediaEvent, MediaSession, SessionConfig};
use okno_media::srtp::{SrtpContext, SrtpError, SrtpProfile};
use okno_sip::sdp::{MediaPlan, SrtpKeys};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Why media could not start or a file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaDriverError {
    #[error("cannot bind RTP/RTCP ports on {ip}: {source}")]
    Bind { ip: IpAddr, source: std::io::Error },
    #[error("{path}: {source}")]
    Wav { path: PathBuf, source: hound::Error },
    #[error("the negotiated codec {0} is not implemented")]
    UnsupportedCodec(String),
    #[error("the SRTP crypto suite {0} is not implemented")]
    UnsupportedSuite(String),
    #[error("SRTP key: {0}")]
    SrtpKey(SrtpError),
}

/// A call's SRTP: our key protects what we send, the peer's unprotects what we receive.
pub struct Srtp {
    tx: SrtpContext,
    rx: SrtpContext,
}

impl Srtp {
    pub fn new(keys: &SrtpKeys) -> Result<Srtp, MediaDriverError> {
        let profile = SrtpProfile::from_sdes_name(&keys.suite)
            .ok_or_else(|| MediaDriverError::UnsupportedSuite(keys.suite.clone()))?;
        Ok(Srtp {
            tx: SrtpContext::new(profile, &keys.local).map_err(MediaDriverError::SrtpKey)?,
            rx: SrtpContext::new(profile, &keys.remote).map_err(MediaDriverError::SrtpKey)?,
        })
    }
}

/// Where the audio we send comes from; called once per frame with a buffer to fill.
pub trait AudioSource: Send {
    fn read_frame(&mut self, frame: &mut [i16]);
}

/// Where the audio we receive goes; called once per frame.
pub trait AudioSink: Send {
    fn write_frame(&mut self, frame: &[i16]);
    /// Flushes and closes (the WAV header is written here).
    fn finish(&mut self) {}
}

/// Sends silence (no microphone: a headless phone, or a missing device).
pub struct Silence;

impl AudioSource for Silence {
    fn read_frame(&mut self, frame: &mut [i16]) {
        frame.fill(0);
    }
}

/// Drops what it is given.
pub struct Discard;

impl AudioSink for Discard {
    fn write_frame(&mut self, _frame: &[i16]) {}
}

/// Every call sends silence and drops what it receives: a phone without audio (load tests, and
/// tests that only look at signalling).
pub struct SilentMedia;

impl crate::engine::MediaIo for SilentMedia {
    fn open(&mut self, _call_id: &str, _number: u32, _rate: u32) -> (Box<dyn AudioSource>, Box<dyn AudioSink>) {
        (Box::new(Silence), Box::new(Discard))
    }
}

/// Plays a WAV file once, then silence. Any channel count and rate; mixed to mono and
/// converted to the codec's rate when the file is opened.
pub struct WavSource {
    samples: Vec<i16>,
    at: usize,
}

impl WavSource {
    pub fn open(path: &Path, rate: u32) -> Result<WavSource, MediaDriverError> {
        Ok(WavSource { samples: read_wav_mono(path, rate)?, at: 0 })
    }
}

/// A WAV file's audio as mono PCM at `rate`: any channel count (mixed down), sample format and
/// rate (converted). The hotline's prompts and music are read with it too.
pub fn read_wav_mono(path: &Path, rate: u32) -> Result<Vec<i16>, MediaDriverError> {
    let wav_err = |source| MediaDriverError::Wav { path: path.to_owned(), source };
    let mut reader = hound::WavReader::open(path).map_err(wav_err)?;
    let spec = reader.spec();
    let channels = spec.channels.max(1) as usize;
    let interleaved: Vec<i16> = match spec.sample_format {
        hound::SampleFormat::Int if spec.bits_per_sample <= 16 => {
            reader.samples::<i16>().collect::<Result<_, _>>().map_err(wav_err)?
        }
        hound::SampleFormat::Int => {
            let shift = spec.bits_per_sample.saturating_sub(16);
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| (s >> shift) as i16))
                .collect::<Result<_, _>>()
                .map_err(wav_err)?
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16))
            .collect::<Result<_, _>>()
            .map_err(wav_err)?,
    };
    let mono: Vec<i16> = interleaved
        .chunks(channels)
        .map(|c| (c.iter().map(|&s| s as i32).sum::<i32>() / c.len() as i32) as i16)
        .collect();
    let samples = if spec.sample_rate == rate {
        mono
    } else {
        let mut out = Vec::with_capacity(mono.len() * rate as usize / spec.sample_rate.max(1) as usize + 1);
        LinearResampler::new(spec.sample_rate, rate).process(&mono, &mut out);
        out
    };
    Ok(samples)
}

impl AudioSource for WavSource {
    fn read_frame(&mut self, frame: &mut [i16]) {
        let n = frame.len().min(self.samples.len() - self.at);
        frame[..n].copy_from_slice(&self.samples[self.at..self.at + n]);
        frame[n..].fill(0);
        self.at += n;
    }
}

/// Writes what is played out (received audio, concealment, silence) to a mono 16-bit WAV.
pub struct WavSink {
    writer: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
    path: PathBuf,
}

impl WavSink {
    pub fn create(path: &Path, rate: u32) -> Result<WavSink, MediaDriverError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec)
            .map_err(|source| MediaDriverError::Wav { path: path.to_owned(), source })?;
        Ok(WavSink { writer: Some(writer), path: path.to_owned() })
    }
}

impl AudioSink for WavSink {
    fn write_frame(&mut self, frame: &[i16]) {
        if let Some(w) = self.writer.as_mut() {
            for &s in frame {
                if let Err(e) = w.write_sample(s) {
                    tracing::warn!(path = %self.path.display(), error = %e, "recording stopped");
                    self.writer = None;
                    return;
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(w) = self.writer.take()
            && let Err(e) = w.finalize()
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot finish the recording");
        }
    }
}

/// A pair of sockets for one call: RTP on an even port, RTCP on the next (RFC 3550 §11).
pub struct MediaSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

impl MediaSockets {
    /// Binds the first free even/odd pair at or above `from_port` (0: a port chosen from the
    /// process id, so parallel test phones rarely collide). Must run inside the tokio runtime.
    pub fn bind(ip: IpAddr, from_port: u16) -> Result<MediaSockets, MediaDriverError> {
        let mut last = None;
        let start = if from_port == 0 { 20_000 + (std::process::id() % 20_000) as u16 } else { from_port };
        let mut port = start & !1;
        let open = |port: u16| -> std::io::Result<UdpSocket> {
            let s = std::net::UdpSocket::bind((ip, port))?;
            s.set_nonblocking(true)?;
            UdpSocket::from_std(s)
        };
        for _ in 0..500 {
            match open(port).and_then(|rtp| Ok((rtp, open(port + 1)?))) {
                Ok((rtp, rtcp)) => return Ok(MediaSockets { rtp, rtcp }),
                Err(e) => last = Some(e),
            }
            port = port.checked_add(2).filter(|p| *p < 65_534).unwrap_or(10_000);
        }
        Err(MediaDriverError::Bind { ip, source: last.unwrap_or_else(|| std::io::Error::other("no free port")) })
    }

    pub fn rtp_port(&self) -> u16 {
        self.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
    }
}

/// What a running call's media can be told.
pub enum MediaCommand {
    /// Send these keys as RFC 4733 events, 100 ms each, one after another.
    Dtmf(String),
    /// Stop or resume sending (hold).
    Sending(bool),
    /// Mute: send silence instead of the source.
    Mute(bool),
    /// Take the audio from and to these from the next frame on (the operator chose other
    /// sound devices); the call itself is not touched.
    Replace(Box<dyn AudioSource>, Box<dyn AudioSink>),
}

impl std::fmt::Debug for MediaCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaCommand::Dtmf(keys) => f.debug_tuple("Dtmf").field(keys).finish(),
            MediaCommand::Sending(on) => f.debug_tuple("Sending").field(on).finish(),
            MediaCommand::Mute(on) => f.debug_tuple("Mute").field(on).finish(),
            MediaCommand::Replace(..) => f.write_str("Replace(..)"),
        }
    }
}

/// A call's running media task.
pub struct MediaHandle {
    commands: mpsc::UnboundedSender<MediaCommand>,
    stats: Arc<Mutex<CallStats>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MediaHandle {
    pub fn send(&self, command: MediaCommand) {
        let _ = self.commands.send(command);
    }

    /// The call's figures as of the last frame.
    pub fn stats(&self) -> CallStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sends the RTCP BYE, closes the recording and waits for the task; returns the final figures.
    pub async fn stop(mut self) -> CallStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        self.stats()
    }
}

/// Maps a negotiated plan to the session's configuration.
pub fn session_config(plan: &MediaPlan, ssrc: u32, cname: &str) -> Result<SessionConfig, MediaDriverError> {
    let codec = Codec::from_encoding(&plan.codec.encoding, plan.codec.clock_rate)
        .ok_or_else(|| MediaDriverError::UnsupportedCodec(plan.codec.encoding.clone()))?;
    let mut cfg = SessionConfig::new(codec, plan.codec.payload_type, plan.telephone_event, ssrc);
    cfg.ptime = Duration::from_millis(plan.ptime.clamp(10, 60) as u64);
    cfg.cname = cname.to_owned();
    Ok(cfg)
}

/// Starts a call's media. `on_event` hears DTMF and RTCP BYE from the peer.
pub fn start(
    sockets: MediaSockets,
    plan: &MediaPlan,
    cfg: SessionConfig,
    srtp: Option<Srtp>,
    source: Box<dyn AudioSource>,
    sink: Box<dyn AudioSink>,
    on_event: Box<dyn FnMut(MediaEvent) + Send>,
) -> Result<MediaHandle, okno_media::session::MediaError> {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let session = MediaSession::new(cfg, Instant::now(), wall)?;
    let (commands, rx) = mpsc::unbounded_channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel();
    let stats = Arc::new(Mutex::new(CallStats::default()));
    let task = tokio::spawn(run(
        Driver {
            sockets,
            remote_rtp: plan.remote_rtp,
            remote_rtcp: plan.remote_rtcp,
            latched: false,
            foreign: 0,
            session,
            source,
            sink,
            on_event,
            stats: stats.clone(),
            sending: true,
            muted: false,
            srtp,
        },
        rx,
        stop_rx,
    ));
    Ok(MediaHandle { commands, stats, stop: Some(stop), task })
}

struct Driver {
    sockets: MediaSockets,
    remote_rtp: SocketAddr,
    remote_rtcp: SocketAddr,
    latched: bool,
    /// Datagrams dropped for coming from somewhere other than the latched peer.
    foreign: u64,
    session: MediaSession,
    source: Box<dyn AudioSource>,
    sink: Box<dyn AudioSink>,
    on_event: Box<dyn FnMut(MediaEvent) + Send>,
    stats: Arc<Mutex<CallStats>>,
    sending: bool,
    muted: bool,
    srtp: Option<Srtp>,
}

impl Driver {
    /// What goes on the wire: the packet as is, or protected.
    fn seal(&mut self, packet: Vec<u8>, rtcp: bool) -> Option<Vec<u8>> {
        let Some(srtp) = self.srtp.as_mut() else { return Some(packet) };
        let sealed = if rtcp { srtp.tx.protect_rtcp(&packet) } else { srtp.tx.protect_rtp(&packet) };
        sealed.map_err(|e| tracing::warn!(error = %e, "cannot protect a packet")).ok()
    }

    async fn frame(&mut self, frame: &mut [i16]) {
        let now = Instant::now();
        self.source.read_frame(frame);
        if self.muted {
            frame.fill(0);
        }
        if self.sending {
            match self.session.send_frame(frame) {
                Ok(d) => {
                    if let Some(d) = self.seal(d, false) {
                        let _ = self.sockets.rtp.send_to(&d, self.remote_rtp).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot send a frame"),
            }
        }
        match self.session.playout(now).samples() {
            Some(s) => self.sink.write_frame(s),
            None => {
                frame.fill(0);
                self.sink.write_frame(frame);
            }
        }
        if let Some(report) = self.session.poll_rtcp(now).and_then(|r| self.seal(r, true)) {
            let _ = self.sockets.rtcp.send_to(&report, self.remote_rtcp).await;
        }
        while let Some(ev) = self.session.poll_event() {
            (self.on_event)(ev);
        }
        if let Ok(mut s) = self.stats.lock() {
            *s = self.session.stats();
        }
    }

    fn datagram(&mut self, from: SocketAddr, bytes: &[u8], rtcp: bool) {
        // Once latched, only the peer's address speaks: RTP from its exact address, RTCP from
        // its IP (RTCP may come from the RTP port or the next one).
        let stranger = if rtcp { from.ip() != self.remote_rtp.ip() } else { from != self.remote_rtp };
        if self.latched && stranger {
            self.foreign += 1;
            if self.foreign == 1 {
                tracing::warn!(%from, peer = %self.remote_rtp, "dropping media from a third address");
            }
            return;
        }
        let opened;
        let bytes = match self.srtp.as_mut() {
            None => bytes,
            Some(srtp) => {
                // RTCP may share the RTP port (RFC 5761): the packet type tells.
                let result = if rtcp || okno_media::rtp::is_rtcp(bytes) {
                    srtp.rx.unprotect_rtcp(bytes)
                } else {
                    srtp.rx.unprotect_rtp(bytes)
                };
                match result {
                    Ok(plain) => {
                        opened = plain;
                        &opened
                    }
                    Err(e) => return tracing::debug!(%from, error = %e, "dropped an SRTP datagram"),
                }
            }
        };
        match self.session.receive(Instant::now(), bytes) {
            Ok(_) if !rtcp && !self.latched => {
                self.latched = true;
                if from != self.remote_rtp {
                    tracing::info!(sdp = %self.remote_rtp, actual = %from, "symmetric RTP: answering to the source");
                    self.remote_rtp = from;
                    self.remote_rtcp = SocketAddr::new(from.ip(), from.port().wrapping_add(1));
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(%from, error = %e, "dropped a media datagram"),
        }
    }

    fn command(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Dtmf(keys) => {
                for key in keys.chars() {
                    if let Err(e) = self.session.press_dtmf(key, Duration::from_millis(100)) {
                        tracing::warn!(%key, error = %e, "cannot send DTMF");
                    }
                }
            }
            MediaCommand::Sending(on) => self.sending = on,
            MediaCommand::Mute(on) => self.muted = on,
            MediaCommand::Replace(source, sink) => {
                let old = (std::mem::replace(&mut self.source, source), std::mem::replace(&mut self.sink, sink));
                // Closing a sound device can block for a while (PulseAudio waits on its server);
                // the call's 20 ms tick must not wait for it.
                std::thread::spawn(move || drop(old));
            }
        }
    }
}

async fn run(
    mut d: Driver,
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(d.session.config().ptime);
    // After a stall, catch up in a burst: the peer's jitter buffer absorbs it, and the
    // stream's timestamps stay in step with the wall clock.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut frame = vec![0i16; d.session.frame_samples()];
    let mut rtp_buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            _ = tick.tick() => d.frame(&mut frame).await,
            r = d.sockets.rtp.recv_from(&mut rtp_buf) => {
                if let Ok((n, from)) = r {
                    d.datagram(from, &rtp_buf[..n], false);
                }
            }
            r = d.sockets.rtcp.recv_from(&mut rtcp_buf) => {
                if let Ok((n, from)) = r {
                    d.datagram(from, &rtcp_buf[..n], true);
                }
            }
            Some(c) = commands.recv() => d.command(c),
            _ = &mut stop => break,
        }
    }
    if let Some(bye) = d.session.bye(Instant::now()).and_then(|b| d.seal(b, true)) {
        let _ = d.sockets.rtcp.send_to(&bye, d.remote_rtcp).await;
    }
    d.sink.finish();
    if let Ok(mut s) = d.stats.lock() {
        *s = d.session.stats();
    }
}
