//! One call's media as a single sans-IO state machine: what a driver (okno-phone's socket
//! task, the desktop's audio thread) feeds in and takes out every frame interval.
//!
//! It ties the pieces of this crate together: PCM frames are encoded and wrapped in RTP (or
//! replaced by RFC 4733 events while a key is pressed), received datagrams are split into RTP
//! and RTCP, decoded into the jitter buffer and read back with concealment, and compound RTCP
//! reports go out on a fixed interval so both ends learn loss, jitter and the round-trip time.
//! [`MediaSession::stats`] turns all that into the per-call figures the call record keeps.
//!
//! Time comes in as `Instant`s; wall-clock time (for RTCP's NTP timestamps) is derived from
//! the one `SystemTime`-like value given at construction, so runs in virtual time are exact.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::dtmf::{DtmfError, DtmfReceiver, DtmfSender};
use crate::g711::G711;
use crate::jitter::{AudioJitterBuffer, Frame, JitterBuffer, JitterConfig, JitterStats, Playout, PushOutcome};
use crate::opus::{OpusDecoder, OpusEncoder, OpusError, OpusSettings};
use crate::quality::{CodecImpairment, Conditions, mos};
use crate::rtcp::{NtpTime, ReceiverReport, RtcpError, RtcpPacket, SdesChunk};
use crate::rtp::{ReceiverStats, RtpError, RtpPacket, RtpSender, is_rtcp};

/// Why a datagram or a request was refused. The session is unchanged after any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error("RTP: {0}")]
    Rtp(#[from] RtpError),
    #[error("RTCP: {0}")]
    Rtcp(#[from] RtcpError),
    #[error("DTMF: {0}")]
    Dtmf(#[from] DtmfError),
    #[error("the peer did not negotiate telephone-event; DTMF cannot be sent in RTP")]
    NoTelephoneEvent,
    #[error("a frame must have {expected} samples, not {got}")]
    FrameSize { expected: usize, got: usize },
    #[error("{0}")]
    Codec(#[from] OpusError),
}

/// A voice codec this session can encode and decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    G711(G711),
    /// Opus (RFC 7587), mono, with in-band FEC; see [`crate::opus`].
    Opus,
}

impl Codec {
    /// The codec for an SDP encoding name, if this crate implements it.
    pub fn from_encoding(name: &str, clock_rate: u32) -> Option<Codec> {
        match (name.to_ascii_uppercase().as_str(), clock_rate) {
            ("PCMU", 8000) => Some(Codec::G711(G711::Pcmu)),
            ("PCMA", 8000) => Some(Codec::G711(G711::Pcma)),
            ("OPUS", 48000) => Some(Codec::Opus),
            _ => None,
        }
    }

    /// Sample rate of the PCM the codec takes and gives.
    pub fn pcm_rate(self) -> u32 {
        match self {
            Codec::G711(_) => 8000,
            Codec::Opus => crate::opus::PCM_RATE,
        }
    }

    /// RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::G711(_) => 8000,
            Codec::Opus => crate::opus::RTP_CLOCK,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::G711(G711::Pcmu) => "PCMU",
            Codec::G711(G711::Pcma) => "PCMA",
            Codec::Opus => "opus",
        }
    }

    fn impairment(self) -> CodecImpairment {
        match self {
            Codec::G711(_) => CodecImpairment::G711_PLC,
            Codec::Opus => CodecImpairment::OPUS,
        }
    }
}

/// The sending half of a codec, with its state.
#[derive(Debug)]
enum Encoder {
    G711(G711),
    Opus(Box<OpusEncoder>),
}

impl Encoder {
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), MediaError> {
        match self {
            Encoder::G711(law) => law.encode(pcm, out),
            Encoder::Opus(enc) => enc.encode(pcm, out)?,
        }
        Ok(())
    }
}

/// The receiving half: G.711 is decoded as it arrives and concealed on PCM; Opus waits in the
/// jitter buffer encoded and is decoded at playout, so its own concealment and FEC can work.
#[derive(Debug)]
enum Playback {
    Pcm { law: G711, buffer: AudioJitterBuffer },
    Opus { buffer: JitterBuffer<Vec<u8>>, decoder: Box<OpusDecoder> },
}

impl Playback {
    fn stats(&self) -> &JitterStats {
        match self {
            Playback::Pcm { buffer, .. } => buffer.stats(),
            Playback::Opus { buffer, .. } => buffer.stats(),
        }
    }

    fn target_delay(&mut self) -> Duration {
        match self {
            Playback::Pcm { buffer, .. } => buffer.target_delay(),
            Playback::Opus { buffer, .. } => buffer.target_delay(),
        }
    }
}

/// Everything negotiated or chosen for one call's audio stream.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub codec: Codec,
    /// Payload type of the codec in this call (from the SDP answer).
    pub payload_type: u8,
    /// Payload type of telephone-event, if negotiated.
    pub telephone_event: Option<u8>,
    pub ptime: Duration,
    /// Our SSRC, first sequence number and first timestamp: random in production
    /// (RFC 3550 §5.1), chosen by the caller because this crate has no randomness.
    pub ssrc: u32,
    pub initial_sequence: u16,
    pub initial_timestamp: u32,
    /// RTCP CNAME (RFC 3550 §6.5.1), e.g. `user@host`.
    pub cname: String,
    /// How often a compound RTCP report goes out (RFC 3550 suggests 5 s for a two-party call).
    pub rtcp_interval: Duration,
    /// Jitter buffer limits; `clock_rate` and `frame_samples` are set from the codec.
    pub jitter: JitterConfig,
    /// The Opus encoder's settings, when the codec is Opus.
    pub opus: OpusSettings,
}

impl SessionConfig {
    /// A config with RFC 3550's defaults around the given codec choice.
    pub fn new(codec: Codec, payload_type: u8, telephone_event: Option<u8>, ssrc: u32) -> SessionConfig {
        SessionConfig {
            codec,
            payload_type,
            telephone_event,
            ptime: Duration::from_millis(20),
            ssrc,
            initial_sequence: (ssrc >> 16) as u16,
            initial_timestamp: ssrc.rotate_left(7),
            cname: format!("okno-{ssrc:08x}"),
            rtcp_interval: Duration::from_secs(5),
            jitter: JitterConfig::default(),
            opus: OpusSettings::default(),
        }
    }
}

/// Something the peer did that the call should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A complete RFC 4733 key press.
    Dtmf { key: char },
    /// The peer said RTCP BYE: it stopped sending.
    Bye,
}

/// What a received datagram was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Voice, queued for playout.
    Audio(PushOutcome),
    /// A telephone-event packet.
    Event,
    /// A compound RTCP packet.
    Rtcp,
    /// RTP with a payload type we did not negotiate (comfort noise, a stray stream).
    Ignored { payload_type: u8 },
}

/// Figures for the call record and the quality indicator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    pub codec: &'static str,
    pub packets_sent: u64,
    pub packets_received: u64,
    /// Packets the sequence numbers say should have arrived.
    pub packets_expected: u64,
    pub packets_lost: i64,
    /// Loss seen by us, 0–100.
    pub loss_percent: f64,
    /// Loss the peer reports about our stream (from its RTCP), 0–100.
    pub remote_loss_percent: Option<f64>,
    /// RFC 3550 interarrival jitter, in ms.
    pub jitter_ms: f64,
    /// Round-trip time from the peer's RTCP reports.
    pub rtt_ms: Option<f64>,
    /// Frames concealed and dropped late by the jitter buffer, and its current target delay.
    pub jitter_buffer: JitterStats,
    pub jitter_delay_ms: f64,
    pub dtmf_sent: u32,
    pub dtmf_received: u32,
    /// E-model MOS estimate for what we hear (1–4.5).
    pub mos: f64,
}

/// Sans-IO media of one call. See the module docs for the driving contract:
/// every `ptime`, call [`MediaSession::send_frame`] and [`MediaSession::playout`] once;
/// feed every datagram to [`MediaSession::receive`]; send whatever
/// [`MediaSession::poll_rtcp`] returns to the peer's RTCP address.
#[derive(Debug)]
pub struct MediaSession {
    cfg: SessionConfig,
    frame_samples: usize,
    sender: RtpSender,
    dtmf_out: DtmfSender,
    dtmf_in: DtmfReceiver,
    stats: ReceiverStats,
    encoder: Encoder,
    playback: Playback,
    /// RTP timestamp units per frame (`frame_samples` at the codec's RTP clock).
    frame_ticks: u32,
    remote_ssrc: Option<u32>,
    epoch: Instant,
    wall_epoch: Duration,
    next_rtcp: Instant,
    rtt: Option<Duration>,
    remote_fraction_lost: Option<u8>,
    events: VecDeque<MediaEvent>,
    dtmf_sent: u32,
    dtmf_received: u32,
    encoded: Vec<u8>,
    decoded: Vec<i16>,
}

impl MediaSession {
    /// `now` and `wall` are the same moment on the monotonic clock and as time since
    /// the Unix epoch; RTCP's NTP timestamps are derived from them. Fails only if the codec
    /// library refuses its settings.
    pub fn new(cfg: SessionConfig, now: Instant, wall: Duration) -> Result<MediaSession, MediaError> {
        let per_frame = |rate: u32| (rate as u128 * cfg.ptime.as_nanos() / 1_000_000_000) as usize;
        let frame_samples = per_frame(cfg.codec.pcm_rate());
        let frame_ticks = per_frame(cfg.codec.clock_rate()) as u32;
        let jitter_cfg =
            JitterConfig { clock_rate: cfg.codec.clock_rate(), frame_samples: frame_ticks, ..cfg.jitter.clone() };
        let (encoder, playback) = match cfg.codec {
            Codec::G711(law) => (Encoder::G711(law), Playback::Pcm { law, buffer: AudioJitterBuffer::new(jitter_cfg) }),
            Codec::Opus => (
                Encoder::Opus(Box::new(OpusEncoder::new(cfg.opus)?)),
                Playback::Opus {
                    buffer: JitterBuffer::new(jitter_cfg),
                    decoder: Box::new(OpusDecoder::new(frame_samples)?),
                },
            ),
        };
        Ok(MediaSession {
            sender: RtpSender::new(cfg.ssrc, cfg.initial_sequence, cfg.initial_timestamp),
            dtmf_out: DtmfSender::new(frame_ticks, 10),
            dtmf_in: DtmfReceiver::new(),
            stats: ReceiverStats::new(cfg.codec.clock_rate()),
            encoder,
            playback,
            frame_ticks,
            remote_ssrc: None,
            epoch: now,
            wall_epoch: wall,
            // The first report goes out after half an interval (RFC 3550 §6.2's initial delay).
            next_rtcp: now + cfg.rtcp_interval / 2,
            rtt: None,
            remote_fraction_lost: None,
            events: VecDeque::new(),
            dtmf_sent: 0,
            dtmf_received: 0,
            encoded: Vec::with_capacity(frame_samples),
            decoded: Vec::with_capacity(frame_samples),
            frame_samples,
            cfg,
        })
    }

    /// Samples per frame at the codec's PCM rate (160 for G.711 at 20 ms, 320 for Opus).
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    fn ntp(&self, now: Instant) -> NtpTime {
        NtpTime::from_unix(self.wall_epoch + now.saturating_duration_since(self.epoch))
    }

    /// Queues a key press; it replaces audio for `duration` from the next frame on.
    pub fn press_dtmf(&mut self, key: char, duration: Duration) -> Result<(), MediaError> {
        if self.cfg.telephone_event.is_none() {
            return Err(MediaError::NoTelephoneEvent);
        }
        let units = (duration.as_millis() as u64 * self.cfg.codec.clock_rate() as u64 / 1000) as u32;
        self.dtmf_out.press(key, units)?;
        self.dtmf_sent += 1;
        Ok(())
    }

    /// True while key presses are being sent or waiting.
    pub fn dtmf_busy(&self) -> bool {
        self.dtmf_out.is_busy()
    }

    /// The RTP datagram for this frame interval: `pcm` encoded, or a telephone-event packet
    /// while a key press is in progress. `pcm` must be exactly one frame.
    pub fn send_frame(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        if pcm.len() != self.frame_samples {
            return Err(MediaError::FrameSize { expected: self.frame_samples, got: pcm.len() });
        }
        let timestamp = self.sender.timestamp();
        let datagram = match (self.cfg.telephone_event, self.dtmf_out.tick(timestamp)) {
            (Some(pt), Some(ev)) => {
                let payload = ev.payload.to_bytes();
                self.sender.packet(pt, ev.marker, ev.timestamp, &payload).to_vec()?
            }
            _ => {
                self.encoded.clear();
                self.encoder.encode(pcm, &mut self.encoded)?;
                // The marker starts a talkspurt: the first packet of the stream (RFC 3551 §4.1).
                let marker = self.sender.packet_count() == 0;
                let payload = std::mem::take(&mut self.encoded);
                let d = self.sender.packet(self.cfg.payload_type, marker, timestamp, &payload).to_vec();
                self.encoded = payload;
                d?
            }
        };
        self.sender.advance(self.frame_ticks);
        Ok(datagram)
    }

    /// Takes one received datagram (RTP or RTCP, told apart by RFC 5761's rule).
    pub fn receive(&mut self, now: Instant, datagram: &[u8]) -> Result<Received, MediaError> {
        if is_rtcp(datagram) {
            self.receive_rtcp(now, datagram)?;
            return Ok(Received::Rtcp);
        }
        let packet = RtpPacket::parse(datagram)?;
        if self.remote_ssrc != Some(packet.ssrc) {
            if self.remote_ssrc.is_some() {
                // A new source (the peer restarted its stream, or a transfer
                // connected someone else): its numbering has nothing to do with the old one.
                self.stats = ReceiverStats::new(self.cfg.codec.clock_rate());
                self.dtmf_in = DtmfReceiver::new();
            }
            self.remote_ssrc = Some(packet.ssrc);
        }
        if Some(packet.payload_type) == self.cfg.telephone_event {
            self.stats.on_event_packet(packet.sequence);
            if let Some(digit) = self.dtmf_in.on_packet(packet.timestamp, packet.payload)?
                && let Some(key) = digit.key()
            {
                self.dtmf_received += 1;
                self.events.push_back(MediaEvent::Dtmf { key });
            }
            return Ok(Received::Event);
        }
        if packet.payload_type != self.cfg.payload_type {
            return Ok(Received::Ignored { payload_type: packet.payload_type });
        }
        self.stats.on_packet(now, packet.sequence, packet.timestamp);
        let outcome = match &mut self.playback {
            Playback::Pcm { law, buffer } => {
                self.decoded.clear();
                law.decode(packet.payload, &mut self.decoded);
                buffer.push(now, packet.sequence, packet.timestamp, self.decoded.clone())
            }
            Playback::Opus { buffer, .. } => {
                buffer.push(now, packet.sequence, packet.timestamp, packet.payload.to_vec())
            }
        };
        Ok(Received::Audio(outcome))
    }

    fn receive_rtcp(&mut self, now: Instant, datagram: &[u8]) -> Result<(), MediaError> {
        let arrival = self.ntp(now);
        for packet in RtcpPacket::parse_compound(datagram)? {
            let (reports, sr) = match &packet {
                RtcpPacket::SenderReport(sr) => (&sr.reports, Some(sr.ntp)),
                RtcpPacket::ReceiverReport(rr) => (&rr.reports, None),
                RtcpPacket::Bye(_) => {
                    self.events.push_back(MediaEvent::Bye);
                    continue;
                }
                _ => continue,
            };
            if let Some(ntp) = sr {
                self.stats.on_sender_report(now, ntp);
            }
            if let Some(block) = reports.iter().find(|b| b.ssrc == self.cfg.ssrc) {
                self.remote_fraction_lost = Some(block.fraction_lost);
                if let Some(rtt) = block.round_trip_time(arrival) {
                    self.rtt = Some(rtt);
                }
            }
        }
        Ok(())
    }

    /// The frame to play now; call once per frame interval.
    pub fn playout(&mut self, now: Instant) -> Frame {
        match &mut self.playback {
            Playback::Pcm { buffer, .. } => buffer.pop(now),
            Playback::Opus { buffer, decoder } => {
                let mut pcm = Vec::with_capacity(self.frame_samples);
                match buffer.pop(now) {
                    Playout::Frame(payload) => match decoder.decode(&payload, &mut pcm) {
                        Ok(()) => Frame::Audio(pcm),
                        Err(_) => {
                            // A corrupt packet is played as a lost one.
                            pcm.clear();
                            let _ = decoder.conceal(&mut pcm);
                            pcm.resize(self.frame_samples, 0);
                            Frame::Concealed(pcm)
                        }
                    },
                    Playout::Missing => {
                        // The next packet's FEC copy of this frame beats guessing.
                        let rebuilt = match buffer.peek_due() {
                            Some(next) => decoder.recover(next, &mut pcm),
                            None => decoder.conceal(&mut pcm),
                        };
                        if rebuilt.is_err() {
                            pcm.clear();
                        }
                        pcm.resize(self.frame_samples, 0);
                        Frame::Concealed(pcm)
                    }
                    Playout::Silence => Frame::Silence,
                }
            }
        }
    }

    /// A compound RTCP report (SR or RR, with SDES CNAME) when one is due.
    pub fn poll_rtcp(&mut self, now: Instant) -> Option<Vec<u8>> {
        if now < self.next_rtcp {
            return None;
        }
        self.next_rtcp = now + self.cfg.rtcp_interval;
        self.report(now, false)
    }

    /// When the next RTCP report is due.
    pub fn rtcp_deadline(&self) -> Instant {
        self.next_rtcp
    }

    /// The final compound report with a BYE, for the end of the call.
    pub fn bye(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.report(now, true)
    }

    fn report(&mut self, now: Instant, bye: bool) -> Option<Vec<u8>> {
        let blocks = match self.remote_ssrc {
            Some(ssrc) => vec![self.stats.report_block(now, ssrc)],
            None => Vec::new(),
        };
        let first: RtcpPacket = if self.sender.packet_count() > 0 {
            self.sender.sender_report(self.ntp(now), blocks).into()
        } else {
            ReceiverReport { ssrc: self.cfg.ssrc, reports: blocks, extension: Vec::new() }.into()
        };
        let mut packets =
            vec![first, RtcpPacket::SourceDescription(vec![SdesChunk::cname(self.cfg.ssrc, &self.cfg.cname)])];
        if bye {
            packets.push(RtcpPacket::Bye(crate::rtcp::Bye { sources: vec![self.cfg.ssrc], reason: None }));
        }
        RtcpPacket::write_compound(&packets).ok()
    }

    /// The next thing the peer did, oldest first.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// The call's figures so far.
    pub fn stats(&mut self) -> CallStats {
        let expected = self.stats.expected();
        let lost = self.stats.lost();
        let loss_percent = if expected == 0 { 0.0 } else { (100.0 * lost.max(0) as f64 / expected as f64).min(100.0) };
        let jitter_delay = self.playback.target_delay();
        let rtt_ms = self.rtt.map(|d| d.as_secs_f64() * 1000.0);
        // Mouth-to-ear estimate: half the RTT (or a LAN's few ms), one frame of packetization,
        // the jitter buffer's delay, and one frame each for capture and playout.
        let frame_ms = self.cfg.ptime.as_secs_f64() * 1000.0;
        let one_way = rtt_ms.map_or(5.0, |r| r / 2.0) + jitter_delay.as_secs_f64() * 1000.0 + 3.0 * frame_ms;
        let js = *self.playback.stats();
        // Late packets are lost for the listener even though the network delivered them.
        let heard_loss = if expected == 0 { 0.0 } else { loss_percent + 100.0 * js.late as f64 / expected as f64 };
        CallStats {
            codec: self.cfg.codec.name(),
            packets_sent: self.sender.packet_count() as u64,
            packets_received: self.stats.received(),
            packets_expected: expected,
            packets_lost: lost,
            loss_percent,
            remote_loss_percent: self.remote_fraction_lost.map(|f| f as f64 * 100.0 / 256.0),
            jitter_ms: self.stats.jitter_duration().as_secs_f64() * 1000.0,
            rtt_ms,
            jitter_buffer: js,
            jitter_delay_ms: jitter_delay.as_secs_f64() * 1000.0,
            dtmf_sent: self.dtmf_sent,
            dtmf_received: self.dtmf_received,
            mos: mos(&Conditions::new(one_way, heard_loss.min(100.0)), self.cfg.codec.impairment()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(now: Instant) -> (MediaSession, MediaSession) {
        let wall = Duration::from_secs(1_795_000_000);
        let codec = Codec::G711(G711::Pcma);
        let a = MediaSession::new(SessionConfig::new(codec, 8, Some(101), 0xA11CE), now, wall).unwrap();
        let b = MediaSession::new(SessionConfig::new(codec, 8, Some(101), 0xB0B), now, wall).unwrap();
        (a, b)
    }

    fn tone(frame: usize, n: usize) -> Vec<i16> {
        (0..n).map(|i| (((frame * n + i) as f64 * 0.3).sin() * 6000.0) as i16).collect()
    }

    #[test]
    fn audio_dtmf_and_rtcp_flow_between_two_sessions() {
        let t0 = Instant::now();
        let (mut a, mut b) = pair(t0);
        let mut heard = 0;
        for f in 0..300usize {
            let now = t0 + Duration::from_millis(20 * f as u64);
            if f == 50 {
                a.press_dtmf('7', Duration::from_millis(100)).unwrap();
                a.press_dtmf('#', Duration::from_millis(100)).unwrap();
            }
            let d = a.send_frame(&tone(f, a.frame_samples())).unwrap();
            // Every 10th packet is lost on the way.
            if f % 10 != 3 {
                b.receive(now + Duration::from_millis(10), &d).unwrap();
            }
            if let Some(r) = a.poll_rtcp(now) {
                b.receive(now + Duration::from_millis(10), &r).unwrap();
            }
            // B lives 10 ms downstream of A: it sends at the moment it receives.
            if let Some(r) = b.poll_rtcp(now + Duration::from_millis(10)) {
                a.receive(now + Duration::from_millis(20), &r).unwrap();
            }
            if b.playout(now + Duration::from_millis(15)).samples().is_some() {
                heard += 1;
            }
        }
        let keys: Vec<char> = std::iter::from_fn(|| b.poll_event())
            .filter_map(|e| match e {
                MediaEvent::Dtmf { key } => Some(key),
                MediaEvent::Bye => None,
            })
            .collect();
        assert_eq!(keys, ['7', '#']);
        let sb = b.stats();
        assert!((8.0..12.0).contains(&sb.loss_percent), "{sb:?}");
        assert!(heard > 280, "frames with sound {heard}");
        let sa = a.stats();
        assert_eq!(sa.packets_sent, 300);
        // B's receiver report reached A: A knows its stream loses about 10 % and the RTT (2 × 10 ms).
        assert!(sa.remote_loss_percent.is_some_and(|l| (5.0..15.0).contains(&l)), "{sa:?}");
        assert!(sa.rtt_ms.is_some_and(|r| (15.0..25.0).contains(&r)), "{sa:?}");
        // 10 % random loss with concealment: G.107 puts that near MOS 3.3, a clean call at 4.4.
        assert!((3.0..3.7).contains(&sb.mos), "{sb:?}");
        assert_eq!((sa.dtmf_sent, sb.dtmf_received), (2, 2));
    }

    #[test]
    fn bad_input_is_refused_without_harm() {
        let t0 = Instant::now();
        let (mut a, mut b) = pair(t0);
        assert!(matches!(b.receive(t0, b"\x80"), Err(MediaError::Rtp(_))));
        assert!(matches!(a.send_frame(&[0; 7]), Err(MediaError::FrameSize { expected: 160, got: 7 })));
        assert!(matches!(a.press_dtmf('x', Duration::from_millis(100)), Err(MediaError::Dtmf(_))));
        let mut no_events =
            MediaSession::new(SessionConfig::new(Codec::G711(G711::Pcmu), 0, None, 1), t0, Duration::ZERO).unwrap();
        assert_eq!(no_events.press_dtmf('1', Duration::from_millis(100)), Err(MediaError::NoTelephoneEvent));
        // A packet of another payload type is counted as ignored, not played.
        let cn = RtpPacket::new(13, 1, 1, 9, &[40]).to_vec().unwrap();
        assert_eq!(b.receive(t0, &cn).unwrap(), Received::Ignored { payload_type: 13 });
        let d = a.send_frame(&[0; 160]).unwrap();
        assert_eq!(b.receive(t0, &d).unwrap(), Received::Audio(PushOutcome::Accepted));
        let bye = a.bye(t0).unwrap();
        assert_eq!(b.receive(t0, &bye).unwrap(), Received::Rtcp);
        assert_eq!(b.poll_event(), Some(MediaEvent::Bye));
    }
}
