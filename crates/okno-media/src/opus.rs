//! Opus (RFC 6716) for calls, through libopus: mono speech with 16 kHz PCM on our side, RTP at
//! 48 kHz as RFC 7587 requires (960 timestamp units per 20 ms whatever the audio bandwidth).
//!
//! In-band FEC is on: each packet also carries a coarse copy of the previous frame, so when one
//! packet is lost and the next one is already in the jitter buffer, [`OpusDecoder::recover`]
//! rebuilds the lost frame from it instead of guessing. With no next packet,
//! [`OpusDecoder::conceal`] runs libopus's own concealment. DTX (nothing sent in silence but a
//! packet every 400 ms) is a switch, off by default: some PBXes take a silent stream for a
//! dead one.
//!
//! The codec state lives here, not in [`crate::session::Codec`], which only names the choice.

/// The RTP clock of Opus, always (RFC 7587 §4.1).
pub const RTP_CLOCK: u32 = 48_000;

/// The PCM rate calls use: wideband speech, a third of the work of fullband.
pub const PCM_RATE: u32 = 16_000;

/// Largest packet we produce; 20 ms at our bit rates is far below it (RFC 6716 allows 1275).
const MAX_PACKET: usize = 1275;

/// Why libopus refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("opus: {0}")]
pub struct OpusError(String);

impl From<opus::Error> for OpusError {
    fn from(e: opus::Error) -> Self {
        OpusError(e.to_string())
    }
}

/// How the encoder is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Target bit rate; 24 kbit/s is transparent wideband speech with FEC room.
    pub bitrate: i32,
    /// The loss the encoder plans FEC for, in percent (libopus only adds FEC when > 0).
    pub expected_loss_percent: u8,
    pub dtx: bool,
    /// libopus's effort, 0 to 10 (`None`: its default, 9 or 10). Lower costs less CPU for a
    /// slightly worse sound at the same bit rate; a gateway encoding for many calls may choose it.
    pub complexity: Option<i32>,
}

impl Default for OpusSettings {
    fn default() -> Self {
        OpusSettings { bitrate: 24_000, expected_loss_percent: 10, dtx: false, complexity: None }
    }
}

#[derive(Debug)]
pub struct OpusEncoder {
    inner: opus::Encoder,
    buffer: Vec<u8>,
}

impl OpusEncoder {
    pub fn new(settings: OpusSettings) -> Result<OpusEncoder, OpusError> {
        let mut inner = opus::Encoder::new(PCM_RATE, opus::Channels::Mono, opus::Application::Voip)?;
        inner.set_bitrate(opus::Bitrate::Bits(settings.bitrate))?;
        // Speech mode (SILK): it is what carries the FEC copies (CELT frames have none).
        inner.set_signal(opus::Signal::Voice)?;
        inner.set_inband_fec(true)?;
        inner.set_packet_loss_perc(i32::from(settings.expected_loss_percent.min(100)))?;
        inner.set_dtx(settings.dtx)?;
        if let Some(complexity) = settings.complexity {
            inner.set_complexity(complexity.clamp(0, 10))?;
        }
        Ok(OpusEncoder { inner, buffer: vec![0; MAX_PACKET] })
    }

    /// Appends the packet for one frame of PCM (20 ms: 320 samples) to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), OpusError> {
        let n = self.inner.encode(pcm, &mut self.buffer)?;
        out.extend_from_slice(&self.buffer[..n]);
        Ok(())
    }
}

#[derive(Debug)]
pub struct OpusDecoder {
    inner: opus::Decoder,
    frame_samples: usize,
    buffer: Vec<i16>,
}

impl OpusDecoder {
    /// `frame_samples`: PCM samples per frame (320 for 20 ms at 16 kHz).
    pub fn new(frame_samples: usize) -> Result<OpusDecoder, OpusError> {
        let inner = opus::Decoder::new(PCM_RATE, opus::Channels::Mono)?;
        // Room for the longest packet Opus allows (120 ms), so a peer's long ptime still decodes.
        Ok(OpusDecoder { inner, frame_samples, buffer: vec![0; PCM_RATE as usize * 120 / 1000] })
    }

    /// The frame in `payload`, exactly `frame_samples` long (a longer packet is cut, a shorter
    /// one padded: the jitter buffer plays one frame per interval).
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), OpusError> {
        let n = self.inner.decode(payload, &mut self.buffer, false)?;
        self.emit(n, out);
        Ok(())
    }

    /// The frame before `next`, rebuilt from `next`'s FEC data (or concealed, if it has none).
    pub fn recover(&mut self, next: &[u8], out: &mut Vec<i16>) -> Result<(), OpusError> {
        let n = self.inner.decode(next, &mut self.buffer[..self.frame_samples], true)?;
        self.emit(n, out);
        Ok(())
    }

    /// libopus's concealment of a lost frame.
    pub fn conceal(&mut self, out: &mut Vec<i16>) -> Result<(), OpusError> {
        let n = self.inner.decode(&[], &mut self.buffer[..self.frame_samples], false)?;
        self.emit(n, out);
        Ok(())
    }

    fn emit(&self, decoded: usize, out: &mut Vec<i16>) {
        let n = decoded.min(self.frame_samples);
        out.extend_from_slice(&self.buffer[..n]);
        out.resize(out.len() + (self.frame_samples - n), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The speech fixture of the intelligibility test, interpolated to 16 kHz, in 20 ms frames.
    /// Real speech matters here: SILK only spends FEC on frames its voice detector calls speech.
    fn speech_frames() -> Vec<Vec<i16>> {
        let bytes = include_bytes!("../tests/data/speech-8k.wav");
        let at = bytes.windows(4).position(|w| w == b"data").expect("data chunk") + 8;
        let narrow: Vec<i16> = bytes[at..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        let wide: Vec<i16> = (0..narrow.len() * 2)
            .map(|i| {
                let (k, odd) = (i / 2, i % 2 == 1);
                let next = *narrow.get(k + 1).unwrap_or(&narrow[k]);
                if odd { ((narrow[k] as i32 + next as i32) / 2) as i16 } else { narrow[k] }
            })
            .collect();
        wide.chunks_exact(320).map(<[i16]>::to_vec).collect()
    }

    fn distance(a: &[i16], b: &[i16]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>()
    }

    #[test]
    fn speech_round_trips_and_lost_frames_are_rebuilt_better_from_fec_than_by_concealment() {
        let frames = speech_frames();
        let mut enc = OpusEncoder::new(OpusSettings::default()).unwrap();
        let packets: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                let mut p = Vec::new();
                enc.encode(f, &mut p).unwrap();
                p
            })
            .collect();
        assert!(packets.iter().all(|p| !p.is_empty() && p.len() < 200), "24 kbit/s is ~60 bytes per 20 ms");
        // What a loss-free receiver decodes: the yardstick for the rebuilt frames.
        let mut clean = OpusDecoder::new(320).unwrap();
        let reference: Vec<Vec<i16>> = packets
            .iter()
            .map(|p| {
                let mut out = Vec::new();
                clean.decode(p, &mut out).unwrap();
                out
            })
            .collect();
        assert!(reference.iter().all(|f| f.len() == 320));
        // Lose every 10th frame of speech; rebuild it once from FEC and once by concealment.
        let (mut with_fec, mut with_plc) = (0.0, 0.0);
        let (mut fec_dec, mut plc_dec) = (OpusDecoder::new(320).unwrap(), OpusDecoder::new(320).unwrap());
        let mut lost = 0;
        for (i, p) in packets.iter().enumerate().take(packets.len() - 1) {
            let speaking = reference[i].iter().map(|&s| (s as f64).abs()).sum::<f64>() / 320.0 > 500.0;
            if i % 10 == 5 && speaking {
                lost += 1;
                let (mut a, mut b) = (Vec::new(), Vec::new());
                fec_dec.recover(&packets[i + 1], &mut a).unwrap();
                plc_dec.conceal(&mut b).unwrap();
                with_fec += distance(&a, &reference[i]);
                with_plc += distance(&b, &reference[i]);
            } else {
                fec_dec.decode(p, &mut Vec::new()).unwrap();
                plc_dec.decode(p, &mut Vec::new()).unwrap();
            }
        }
        assert!(lost > 20, "enough speech frames were lost: {lost}");
        assert!(
            with_fec < with_plc * 0.8,
            "FEC rebuilds lost speech closer than concealment: {with_fec:.3e} vs {with_plc:.3e}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut dec = OpusDecoder::new(320).unwrap();
        let mut out = Vec::new();
        // A TOC byte for a 2-frame packet with an invalid length.
        let result = dec.decode(&[0xff, 0xff, 0xff], &mut out);
        assert!(result.is_err() || out.len() == 320);
    }
}
