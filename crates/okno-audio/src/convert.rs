//! Sample formats and channel conversion between a device's interleaved buffers and the call's
//! mono `i16`. Pure functions, used inside the audio callbacks: nothing here allocates.

/// A sample type a device may use. Conversions go through `f32` in [-1, 1].
pub trait DeviceSample: Copy + Send + 'static {
    fn to_f32(self) -> f32;
    fn from_f32(value: f32) -> Self;
}

impl DeviceSample for i16 {
    fn to_f32(self) -> f32 {
        self as f32 / 32768.0
    }

    fn from_f32(value: f32) -> Self {
        // `as` saturates, so a full-scale overshoot clips instead of wrapping.
        (value * 32768.0).round().clamp(-32768.0, 32767.0) as i16
    }
}

impl DeviceSample for i32 {
    fn to_f32(self) -> f32 {
        self as f32 / 2_147_483_648.0
    }

    fn from_f32(value: f32) -> Self {
        (value as f64 * 2_147_483_648.0).round().clamp(-2_147_483_648.0, 2_147_483_647.0) as i32
    }
}

impl DeviceSample for f32 {
    fn to_f32(self) -> f32 {
        self
    }

    fn from_f32(value: f32) -> Self {
        value.clamp(-1.0, 1.0)
    }
}

/// Mixes interleaved frames of `channels` channels down to mono by averaging them, appending to
/// `out`. Averaging (rather than taking the left channel) keeps a one-sided headset microphone
/// audible, at the cost of 6 dB for a signal present on one channel of two.
pub fn downmix_to_mono<T: DeviceSample>(interleaved: &[T], channels: usize, out: &mut Vec<i16>) {
    let channels = channels.max(1);
    if channels == 1 {
        out.extend(interleaved.iter().map(|s| i16::from_f32(s.to_f32())));
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(interleaved.chunks_exact(channels).map(|frame| {
        let sum: f32 = frame.iter().map(|s| s.to_f32()).sum();
        i16::from_f32(sum * scale)
    }));
}

/// Writes mono samples to every channel of interleaved `out`; returns how many frames were written
/// (the shorter of `mono` and `out`'s frames).
pub fn upmix_from_mono<T: DeviceSample>(mono: &[i16], channels: usize, out: &mut [T]) -> usize {
    let channels = channels.max(1);
    let mut written = 0;
    for (frame, &sample) in out.chunks_exact_mut(channels).zip(mono) {
        frame.fill(T::from_f32(sample.to_f32()));
        written += 1;
    }
    written
}

/// Level of a block of samples, in dB relative to full scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Root mean square, dBFS (a full-scale sine is -3 dBFS). `-inf` for digital silence.
    pub rms_dbfs: f64,
    /// Largest absolute sample, dBFS.
    pub peak_dbfs: f64,
}

/// Measures the RMS and peak level of `samples`.
pub fn level(samples: &[i16]) -> Level {
    if samples.is_empty() {
        return Level { rms_dbfs: f64::NEG_INFINITY, peak_dbfs: f64::NEG_INFINITY };
    }
    let sum_sq: f64 = samples.iter().map(|&s| (s as f64) * (s as f64)).sum();
    let rms = (sum_sq / samples.len() as f64).sqrt() / 32768.0;
    let peak = samples.iter().map(|&s| (s as i32).unsigned_abs()).max().unwrap_or(0) as f64 / 32768.0;
    Level { rms_dbfs: 20.0 * rms.log10(), peak_dbfs: 20.0 * peak.log10() }
}

/// The share of the power of `samples` (at `rate` Hz) that is a sinusoid at `freq` Hz, 0 to 1
/// (Goertzel): how a tone test, a level meter or a test tells "the right tone came through"
/// from noise, silence or a wrong frequency. 0 for digital silence.
pub fn tone_share(samples: &[i16], rate: u32, freq: f64) -> f64 {
    let w = std::f64::consts::TAU * freq / rate as f64;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in samples {
        let s = v as f64 + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    // |X(f)|² · 2 / N² is the mean power of a sinusoid at f.
    let power = (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) * 2.0 / (samples.len() as f64).powi(2);
    let total = samples.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / samples.len() as f64;
    if total == 0.0 { 0.0 } else { power / total }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_share_tells_the_tone_from_another_tone_and_silence() {
        let sine: Vec<i16> =
            (0..8000).map(|i| (8000.0 * (std::f64::consts::TAU * 1000.0 * i as f64 / 8000.0).sin()) as i16).collect();
        assert!(tone_share(&sine, 8000, 1000.0) > 0.99);
        assert!(tone_share(&sine, 8000, 425.0) < 0.01);
        assert_eq!(tone_share(&[0; 160], 8000, 1000.0), 0.0);
    }

    #[test]
    fn stereo_downmix_averages_channels() {
        let stereo: [i16; 6] = [1000, 3000, -2000, -2000, 32767, 32767];
        let mut mono = Vec::new();
        downmix_to_mono(&stereo, 2, &mut mono);
        assert_eq!(mono, [2000, -2000, 32767]);
    }

    #[test]
    fn float_and_i32_devices_convert_to_the_same_i16() {
        let mut from_f32 = Vec::new();
        downmix_to_mono(&[0.5f32, 0.5, -1.0, -1.0, 2.0, 2.0], 2, &mut from_f32);
        assert_eq!(from_f32, [16384, -32768, 32767], "an overshooting float clips, never wraps");
        let mut from_i32 = Vec::new();
        downmix_to_mono(&[1i32 << 30, -(1 << 30)], 1, &mut from_i32);
        assert_eq!(from_i32, [16384, -16384]);
    }

    #[test]
    fn six_channel_downmix_and_upmix_round_trip() {
        let surround: Vec<f32> = (0..12).map(|i| if i < 6 { 0.25 } else { -0.5 }).collect();
        let mut mono = Vec::new();
        downmix_to_mono(&surround, 6, &mut mono);
        assert_eq!(mono, [8192, -16384]);
        let mut out = [0f32; 12];
        assert_eq!(upmix_from_mono(&mono, 6, &mut out), 2);
        assert!(out[..6].iter().all(|&s| s == 0.25) && out[6..].iter().all(|&s| s == -0.5));
    }

    #[test]
    fn upmix_stops_at_the_shorter_side() {
        let mut out = [7i16; 5];
        // Two full stereo frames fit; the trailing odd sample is left alone.
        assert_eq!(upmix_from_mono(&[1, 2, 3], 2, &mut out), 2);
        assert_eq!(out, [1, 1, 2, 2, 7]);
    }

    #[test]
    fn level_of_a_full_scale_square_and_silence() {
        let l = level(&[32767, -32768, 32767, -32768]);
        assert!(l.rms_dbfs.abs() < 0.01 && l.peak_dbfs.abs() < 0.01, "{l:?}");
        assert_eq!(level(&[0; 10]).rms_dbfs, f64::NEG_INFINITY);
    }
}
