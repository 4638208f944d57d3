//! The audio of one website call between its two legs, as 16 kHz mono PCM (Opus's wideband
//! rate, which okno-media's Opus speaks; libopus decodes the browser's 48 kHz stream to it).
//!
//! - Browser to desk: each Opus packet from the browser's track is decoded into a queue; the
//!   engine's media tick takes one 20 ms frame from it ([`BrowserSource`]). The queue is capped
//!   (a stalled tick must not grow the delay without bound) and an empty queue gives silence.
//! - Desk to browser: each 20 ms frame the engine received is encoded to Opus and queued for a
//!   task that writes it as RTP to the browser's track ([`BrowserSink`]).
//!
//! When the desk's leg uses another rate (PCMU: 8 kHz), both directions are resampled here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use okno_media::opus::{OpusDecoder, OpusEncoder, OpusSettings};
use okno_media::resample::{LinearResampler, Resampler};
use okno_phone::engine::MediaIo;
use okno_phone::media::{AudioSink, AudioSource, Discard, Silence};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use tokio::sync::mpsc;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// The PCM rate between the legs.
pub const RATE: u32 = 16_000;
/// One 20 ms frame at [`RATE`].
const FRAME: usize = 320;
/// Opus's RTP clock runs at 48 kHz whatever the audio (RFC 7587): 20 ms = 960 ticks.
const RTP_TICKS_PER_FRAME: u32 = 960;
/// At most this much of the browser's audio waits for the desk's leg (120 ms).
const MAX_QUEUED: usize = 6 * FRAME;
/// libopus's effort for both of the gateway's Opus encoders (toward the browser, and on the SIP
/// leg when the desk speaks Opus): 5 of 10 halves an encoder's CPU for a difference in speech
/// quality nobody hears at 24 kbit/s (docs/BENCHMARKS.md has the CPU per call).
pub(crate) const OPUS_COMPLEXITY: i32 = 5;
/// The payload type `MediaEngine::register_default_codecs` gives Opus.
const OPUS_PT: u8 = 111;

/// Finds a call's audio by the SIP call id the engine opens media for.
pub type AudioLookup = Arc<dyn Fn(&str) -> Option<Arc<CallAudio>> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
#[error("Opus: {0}")]
pub struct BridgeError(String);

/// One call's audio.
pub struct CallAudio {
    from_browser: Mutex<VecDeque<i16>>,
    to_browser: mpsc::UnboundedSender<Vec<u8>>,
    track: Arc<TrackLocalStaticRTP>,
    closed: AtomicBool,
    sip_call_id: Mutex<Option<String>>,
}

impl CallAudio {
    /// A call's audio with the Opus track the browser will receive; starts the task that sends
    /// to it (it ends with the call).
    pub fn new() -> Result<CallAudio, BridgeError> {
        let mut ssrc_bytes = [0u8; 4];
        getrandom::fill(&mut ssrc_bytes).map_err(|e| BridgeError(e.to_string()))?;
        let ssrc = u32::from_le_bytes(ssrc_bytes);
        let codec = RTCRtpCodec {
            mime_type: "audio/opus".into(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
            rtcp_feedback: Vec::new(),
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "okno-center".into(),
            "okno-center-audio".into(),
            "the operator".into(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec,
                ..Default::default()
            }],
        )));
        let (to_browser, mut packets) = mpsc::unbounded_channel::<Vec<u8>>();
        let sender = track.clone();
        tokio::spawn(async move {
            let (mut sequence, mut timestamp) = (0u16, 0u32);
            let mut first = true;
            while let Some(payload) = packets.recv().await {
                let packet = rtc::rtp::Packet {
                    header: rtc::rtp::Header {
                        version: 2,
                        marker: first,
                        payload_type: OPUS_PT,
                        sequence_number: sequence,
                        timestamp,
                        ssrc,
                        ..Default::default()
                    },
                    payload: payload.into(),
                };
                first = false;
                sequence = sequence.wrapping_add(1);
                timestamp = timestamp.wrapping_add(RTP_TICKS_PER_FRAME);
                // Before the browser's leg is connected the track is not bound: that frame is lost,
                // as it would be on the wire.
                let _ = sender.write_rtp(packet).await;
            }
        });
        Ok(CallAudio {
            from_browser: Mutex::new(VecDeque::with_capacity(MAX_QUEUED)),
            to_browser,
            track,
            closed: AtomicBool::new(false),
            sip_call_id: Mutex::new(None),
        })
    }

    pub fn browser_track(&self) -> Arc<dyn TrackLocal> {
        self.track.clone()
    }

    pub fn bind_sip(&self, call_id: &str) {
        *self.sip_call_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(call_id.to_owned());
    }

    /// The SIP call the visitor talks to now (none before the engine has placed it).
    pub fn sip_call_id(&self) -> Option<String> {
        self.sip_call_id.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether `call_id` is the SIP call the visitor talks to now (after a transfer the old call
    /// may linger a moment: it must neither take the visitor's audio nor speak to them).
    fn is_bound_to(&self, call_id: &str) -> bool {
        self.sip_call_id.lock().unwrap_or_else(|e| e.into_inner()).as_deref() == Some(call_id)
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Decode the browser's packets into the queue until its track ends or the call closes.
    pub async fn receive_from_browser(&self, track: Arc<dyn TrackRemote>) {
        let mut decoder = match OpusDecoder::new(FRAME) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "no Opus decoder: the visitor will not be heard");
                return;
            }
        };
        let mut pcm = Vec::with_capacity(FRAME * 6);
        while let Some(event) = track.poll().await {
            if self.closed.load(Ordering::Relaxed) {
                return;
            }
            match event {
                TrackRemoteEvent::OnRtpPacket(packet) => {
                    pcm.clear();
                    if decoder.decode(&packet.payload, &mut pcm).is_err() {
                        continue;
                    }
                    let mut queue = self.from_browser.lock().unwrap_or_else(|e| e.into_inner());
                    queue.extend(pcm.iter().copied());
                    if queue.len() > MAX_QUEUED {
                        let excess = queue.len() - 2 * FRAME;
                        queue.drain(..excess);
                    }
                }
                TrackRemoteEvent::OnEnded => return,
                _ => {}
            }
        }
    }

    fn take_frame(&self, frame: &mut [i16]) {
        let mut queue = self.from_browser.lock().unwrap_or_else(|e| e.into_inner());
        let n = frame.len().min(queue.len());
        for (out, sample) in frame.iter_mut().zip(queue.drain(..n)) {
            *out = sample;
        }
        frame[n..].fill(0);
    }
}

/// The engine's [`MediaIo`]: each call's audio is its website call's.
pub struct EngineAudio {
    lookup: AudioLookup,
}

impl EngineAudio {
    pub fn new(lookup: AudioLookup) -> Self {
        EngineAudio { lookup }
    }
}

impl MediaIo for EngineAudio {
    fn open(&mut self, call_id: &str, _number: u32, rate: u32) -> (Box<dyn AudioSource>, Box<dyn AudioSink>) {
        tracing::debug!(call_id, rate, "website call media opens");
        let Some(audio) = (self.lookup)(call_id) else {
            tracing::warn!(call_id, "media for a call the gateway does not know: silence");
            return (Box::new(Silence), Box::new(Discard));
        };
        let encoder =
            match OpusEncoder::new(OpusSettings { complexity: Some(OPUS_COMPLEXITY), ..OpusSettings::default() }) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "no Opus encoder: the visitor will not hear the operator");
                    return (Box::new(BrowserSource::new(audio, call_id, rate)), Box::new(Discard));
                }
            };
        (
            Box::new(BrowserSource::new(audio.clone(), call_id, rate)),
            Box::new(BrowserSink::new(audio, call_id, encoder, rate)),
        )
    }
}

/// What the desk hears: the browser's audio, one frame per tick.
pub struct BrowserSource {
    audio: Arc<CallAudio>,
    call_id: String,
    resampler: Option<LinearResampler>,
    buffer: Vec<i16>,
    resampled: Vec<i16>,
}

impl BrowserSource {
    fn new(audio: Arc<CallAudio>, call_id: &str, rate: u32) -> Self {
        let resampler = (rate != RATE).then(|| LinearResampler::new(RATE, rate));
        BrowserSource { audio, call_id: call_id.to_owned(), resampler, buffer: Vec::new(), resampled: Vec::new() }
    }
}

impl AudioSource for BrowserSource {
    fn read_frame(&mut self, frame: &mut [i16]) {
        if !self.audio.is_bound_to(&self.call_id) {
            frame.fill(0);
            return;
        }
        let Some(resampler) = &mut self.resampler else {
            self.audio.take_frame(frame);
            return;
        };
        // The same 20 ms at our rate, resampled to the leg's.
        let ours = frame.len() * RATE as usize / resampler.output_rate() as usize;
        self.buffer.resize(ours, 0);
        self.audio.take_frame(&mut self.buffer);
        self.resampled.clear();
        resampler.process(&self.buffer, &mut self.resampled);
        let n = frame.len().min(self.resampled.len());
        frame[..n].copy_from_slice(&self.resampled[..n]);
        frame[n..].fill(0);
    }
}

/// What the visitor hears: the desk's audio, encoded to Opus per 20 ms.
pub struct BrowserSink {
    audio: Arc<CallAudio>,
    call_id: String,
    encoder: OpusEncoder,
    resampler: Option<LinearResampler>,
    pending: Vec<i16>,
    packet: Vec<u8>,
}

impl BrowserSink {
    fn new(audio: Arc<CallAudio>, call_id: &str, encoder: OpusEncoder, rate: u32) -> Self {
        let resampler = (rate != RATE).then(|| LinearResampler::new(rate, RATE));
        let pending = Vec::with_capacity(FRAME * 2);
        BrowserSink { audio, call_id: call_id.to_owned(), encoder, resampler, pending, packet: Vec::new() }
    }
}

impl AudioSink for BrowserSink {
    fn write_frame(&mut self, frame: &[i16]) {
        if !self.audio.is_bound_to(&self.call_id) {
            return;
        }
        match &mut self.resampler {
            Some(r) => r.process(frame, &mut self.pending),
            None => self.pending.extend_from_slice(frame),
        }
        while self.pending.len() >= FRAME {
            self.packet.clear();
            if self.encoder.encode(&self.pending[..FRAME], &mut self.packet).is_ok() {
                let _ = self.audio.to_browser.send(self.packet.clone());
            }
            self.pending.drain(..FRAME);
        }
    }
}
