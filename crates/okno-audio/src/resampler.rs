//! A band-limited resampler for the device path: rubato's FFT resampler behind okno-media's
//! [`Resampler`] trait, so the media pipeline sees the same interface as in its tests.
//!
//! rubato works on fixed chunks (10 ms of input here); this adapter buffers input until a chunk is
//! complete, so callers may pass blocks of any size. Every buffer is sized when the resampler is
//! built: `process` does not allocate as long as `output` has room for what one call produces
//! (see [`RubatoResampler::max_output`]).

use okno_media::resample::Resampler;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use crate::AudioError;

/// Mono `i16` resampling with rubato's [`Fft`] resampler; a plain copy when the rates are equal.
pub struct RubatoResampler {
    input_rate: u32,
    output_rate: u32,
    inner: Option<Fft<f32>>,
    /// Input waiting for a full chunk.
    pending: Vec<f32>,
    /// Output of one chunk.
    chunk_out: Vec<f32>,
}

impl std::fmt::Debug for RubatoResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RubatoResampler")
            .field("input_rate", &self.input_rate)
            .field("output_rate", &self.output_rate)
            .finish_non_exhaustive()
    }
}

impl RubatoResampler {
    pub fn new(input_rate: u32, output_rate: u32) -> Result<Self, AudioError> {
        let err = |detail: String| AudioError::Resampler { from: input_rate, to: output_rate, detail };
        if input_rate == 0 || output_rate == 0 {
            return Err(err("rate of zero".into()));
        }
        if input_rate == output_rate {
            return Ok(RubatoResampler {
                input_rate,
                output_rate,
                inner: None,
                pending: Vec::new(),
                chunk_out: Vec::new(),
            });
        }
        let chunk = (input_rate as usize / 100).max(1);
        let inner = Fft::<f32>::new(input_rate as usize, output_rate as usize, chunk, 1, FixedSync::Input)
            .map_err(|e| err(e.to_string()))?;
        let pending = Vec::with_capacity(inner.input_frames_max());
        let chunk_out = vec![0.0; inner.output_frames_max()];
        Ok(RubatoResampler { input_rate, output_rate, inner: Some(inner), pending, chunk_out })
    }

    /// Delay the resampler adds, in output samples (the FFT window plus a partly filled chunk).
    pub fn delay_samples(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// The most output one `process` call over `input_len` samples can produce; reserve this much
    /// in `output` to keep `process` allocation-free.
    pub fn max_output(&self, input_len: usize) -> usize {
        match &self.inner {
            None => input_len,
            Some(r) => {
                let chunks = (input_len + self.pending.len()) / r.input_frames_next().max(1) + 1;
                chunks * r.output_frames_max()
            }
        }
    }
}

impl Resampler for RubatoResampler {
    fn input_rate(&self) -> u32 {
        self.input_rate
    }

    fn output_rate(&self) -> u32 {
        self.output_rate
    }

    fn process(&mut self, input: &[i16], output: &mut Vec<i16>) {
        let Some(inner) = self.inner.as_mut() else {
            output.extend_from_slice(input);
            return;
        };
        let mut rest = input;
        while !rest.is_empty() {
            let need = inner.input_frames_next();
            let take = (need - self.pending.len()).min(rest.len());
            self.pending.extend(rest[..take].iter().map(|&s| s as f32 / 32768.0));
            rest = &rest[take..];
            if self.pending.len() < need {
                break;
            }
            let produced = match (
                InterleavedSlice::new(&self.pending[..], 1, need),
                InterleavedSlice::new_mut(&mut self.chunk_out[..], 1, inner.output_frames_max()),
            ) {
                (Ok(input), Ok(mut out)) => inner.process_into_buffer(&input, &mut out, None).map(|(_, n)| n).ok(),
                _ => None,
            };
            // The sizes come from the resampler itself, so this cannot fail; should it ever, the
            // chunk becomes silence of the right length rather than a gap that shifts the stream.
            let produced = produced.unwrap_or_else(|| {
                let n = inner.output_frames_next();
                self.chunk_out[..n].fill(0.0);
                n
            });
            output.extend(
                self.chunk_out[..produced].iter().map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
            );
            self.pending.clear();
        }
    }

    fn reset(&mut self) {
        self.pending.clear();
        if let Some(inner) = self.inner.as_mut() {
            inner.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, amplitude: f64, n: usize) -> Vec<i16> {
        (0..n).map(|i| ((i as f64 * freq * std::f64::consts::TAU / rate as f64).sin() * amplitude) as i16).collect()
    }

    fn tone_power(x: &[i16], rate: u32, freq: f64) -> f64 {
        crate::convert::tone_share(x, rate, freq)
    }

    #[test]
    fn device_rates_to_call_rates_keep_length_and_tone() {
        for (from, to) in [(44100, 8000), (48000, 16000), (44100, 48000), (8000, 48000), (16000, 44100), (48000, 48000)]
        {
            let mut r = RubatoResampler::new(from, to).unwrap();
            let input = sine(from, 1000.0, 12_000.0, from as usize); // one second
            let mut out = Vec::with_capacity(r.max_output(input.len()));
            // Uneven blocks, as device callbacks deliver them.
            for block in input.chunks(523) {
                r.process(block, &mut out);
            }
            let expected = to as usize;
            assert!(out.len() <= expected && out.len() + to as usize / 100 >= expected, "{from}→{to}: {}", out.len());
            // Skip the resampler's start-up delay, then the 1 kHz tone must carry nearly all power.
            let steady = &out[r.delay_samples() + 10..];
            let share = tone_power(steady, to, 1000.0);
            assert!(share > 0.99, "{from}→{to}: 1 kHz holds {share:.4} of the power");
        }
    }

    #[test]
    fn downsampling_removes_what_the_new_rate_cannot_carry() {
        // 6 kHz is above 8 kHz's Nyquist limit: a linear interpolator folds it to 2 kHz, a
        // band-limited resampler removes it.
        let mut r = RubatoResampler::new(48000, 8000).unwrap();
        let input = sine(48000, 6000.0, 12_000.0, 48000);
        let mut out = Vec::new();
        r.process(&input, &mut out);
        let steady = &out[r.delay_samples() + 10..];
        let l = crate::convert::level(steady);
        assert!(l.rms_dbfs < -60.0, "aliased energy left: {l:?}");
    }

    #[test]
    fn reset_forgets_pending_input_and_process_within_capacity_does_not_grow() {
        let mut r = RubatoResampler::new(44100, 16000).unwrap();
        let mut out = Vec::new();
        r.process(&[1000; 100], &mut out);
        assert!(out.is_empty(), "less than a chunk stays pending");
        r.reset();
        let mut out = Vec::with_capacity(r.max_output(441));
        let capacity = out.capacity();
        r.process(&[0; 441], &mut out);
        assert_eq!(out.len(), 160);
        assert_eq!(out.capacity(), capacity);
        assert!(RubatoResampler::new(0, 8000).is_err());
    }
}
