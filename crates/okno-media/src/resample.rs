//! Sample-rate conversion between the codec clock (8 kHz for G.711, 48 kHz for
//! Opus) and the audio device's rate.
//!
//! [`Resampler`] is the interface the media pipeline uses. [`LinearResampler`]
//! is a dependency-free linear interpolator for tests and as a fallback; it
//! aliases audibly when downsampling, so the device path will use a
//! band-limited implementation (rubato) behind the same trait.

/// Converts a stream of mono i16 samples from one rate to another, block by block.
pub trait Resampler {
    fn input_rate(&self) -> u32;
    fn output_rate(&self) -> u32;
    /// Appends the output for `input` to `output`. State carries across calls,
    /// so splitting a stream into blocks does not change the result.
    fn process(&mut self, input: &[i16], output: &mut Vec<i16>);
    /// Forgets the stream so far (after a resync or a device change).
    fn reset(&mut self);
}

/// Linear interpolation between neighbouring input samples.
#[derive(Debug, Clone)]
pub struct LinearResampler {
    input_rate: u32,
    output_rate: u32,
    /// Last input sample of the previous block, which is index 0 of the next one.
    last: Option<i16>,
    /// Position of the next output sample, in 1/`output_rate` input samples,
    /// relative to `last` (or to the block start when there is no `last`).
    position: u64,
}

impl LinearResampler {
    /// Rates of zero are treated as 1 Hz rather than dividing by zero.
    pub fn new(input_rate: u32, output_rate: u32) -> Self {
        LinearResampler { input_rate: input_rate.max(1), output_rate: output_rate.max(1), last: None, position: 0 }
    }
}

impl Resampler for LinearResampler {
    fn input_rate(&self) -> u32 {
        self.input_rate
    }

    fn output_rate(&self) -> u32 {
        self.output_rate
    }

    fn process(&mut self, input: &[i16], output: &mut Vec<i16>) {
        let Some(&newest) = input.last() else { return };
        let offset = self.last.is_some() as usize;
        let len = input.len() + offset;
        let at = |i: usize| -> i64 {
            match self.last {
                Some(last) if i == 0 => last as i64,
                _ => input[i - offset] as i64,
            }
        };
        let out_rate = self.output_rate as u64;
        output.reserve((input.len() as u64 * out_rate / self.input_rate as u64) as usize + 1);
        loop {
            let i = (self.position / out_rate) as usize;
            if i + 1 >= len {
                break;
            }
            let frac = (self.position % out_rate) as i64;
            let (a, b) = (at(i), at(i + 1));
            output.push((a + (b - a) * frac / out_rate as i64) as i16);
            self.position += self.input_rate as u64;
        }
        // Re-anchor on this block's last sample, which becomes index 0 next time.
        self.position -= (len as u64 - 1) * out_rate;
        self.last = Some(newest);
    }

    fn reset(&mut self) {
        self.last = None;
        self.position = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, n: usize) -> Vec<i16> {
        (0..n).map(|i| ((i as f64 * freq * std::f64::consts::TAU / rate as f64).sin() * 10_000.0) as i16).collect()
    }

    #[test]
    fn upsampling_doubles_length_and_keeps_the_waveform() {
        let mut r = LinearResampler::new(8000, 16000);
        let input = sine(8000, 400.0, 8000);
        let mut out = Vec::new();
        for block in input.chunks(160) {
            r.process(block, &mut out);
        }
        assert!((15_998..=16_000).contains(&out.len()), "{}", out.len());
        let ideal = sine(16000, 400.0, out.len());
        let worst = out.iter().zip(&ideal).map(|(a, b)| (*a as i32 - *b as i32).abs()).max().unwrap();
        // Linear interpolation's error at a midpoint is about A·(ωT)²/8 ≈ 123 here.
        assert!(worst <= 130, "worst {worst}");
    }

    #[test]
    fn blocks_give_the_same_result_as_one_call() {
        for (from, to) in [(8000, 48000), (48000, 8000), (44100, 16000), (16000, 44100)] {
            let input = sine(from, 300.0, 4410);
            let mut whole = Vec::new();
            LinearResampler::new(from, to).process(&input, &mut whole);
            let mut r = LinearResampler::new(from, to);
            let mut pieces = Vec::new();
            for block in input.chunks(97) {
                r.process(block, &mut pieces);
            }
            assert_eq!(whole, pieces, "{from} → {to}");
            let expected = input.len() as u64 * to as u64 / from as u64;
            assert!(whole.len() as u64 + 6 >= expected && whole.len() as u64 <= expected + 1);
        }
    }

    #[test]
    fn dc_is_preserved_and_reset_forgets() {
        let mut r = LinearResampler::new(48000, 8000);
        let mut out = Vec::new();
        r.process(&[1234; 960], &mut out);
        assert_eq!(out.len(), 160);
        assert!(out.iter().all(|&s| s == 1234));
        r.reset();
        out.clear();
        r.process(&[-5; 6], &mut out);
        assert_eq!(out, [-5]);
        r.process(&[], &mut out);
        assert_eq!((r.input_rate(), r.output_rate()), (48000, 8000));
    }
}
