//! Call recording: both sides of a call mixed into one mono WAV, with a pause for the moments
//! that must not be kept (a customer reading out a card number, PCI DSS). While paused the file
//! gets silence, so it stays as long as the call and the pauses' times (kept in the call's
//! history) line up with it.
//!
//! A [`CallRecorder`] is shared by the taps on a call's two audio paths: [`CallRecorder::tap_source`]
//! wraps what we send (the microphone), [`CallRecorder::tap_sink`] what we play (the caller). The
//! media task reads and writes one frame per leg per 20 ms tick; frames are mixed pairwise. If one
//! leg stalls (a device being switched), the other is written on its own after a few frames so
//! nothing piles up. Taps can be replaced (new devices mid-call) and keep writing to the same file.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::media::{AudioSink, AudioSource, MediaDriverError};

/// Frames one leg may run ahead of the other before it is written without its partner.
const MAX_AHEAD: usize = 5;

struct Mix {
    writer: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
    paused: bool,
    sent: VecDeque<Vec<i16>>,
    heard: VecDeque<Vec<i16>>,
}

/// One call's recording. Cheap to share (`Arc`); the file is complete after [`CallRecorder::finish`]
/// (or when the last holder drops it).
pub struct CallRecorder {
    path: PathBuf,
    mix: Mutex<Mix>,
}

impl CallRecorder {
    /// Creates `path` (and its directory) as a mono 16-bit WAV at `rate`.
    pub fn create(path: &Path, rate: u32) -> Result<Arc<CallRecorder>, MediaDriverError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec)
            .map_err(|source| MediaDriverError::Wav { path: path.to_owned(), source })?;
        tracing::info!(path = %path.display(), "recording the call");
        Ok(Arc::new(CallRecorder {
            path: path.to_owned(),
            mix: Mutex::new(Mix { writer: Some(writer), paused: false, sent: VecDeque::new(), heard: VecDeque::new() }),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Mix> {
        self.mix.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on, silence goes to the file instead of the call (or the call again).
    pub fn set_paused(&self, paused: bool) {
        self.lock().paused = paused;
        tracing::info!(path = %self.path.display(), paused, "recording paused or resumed");
    }

    pub fn is_paused(&self) -> bool {
        self.lock().paused
    }

    /// Writes what is left and completes the file; later frames are ignored.
    pub fn finish(&self) {
        let mut mix = self.lock();
        let sent: Vec<Vec<i16>> = mix.sent.drain(..).collect();
        let heard: Vec<Vec<i16>> = mix.heard.drain(..).collect();
        for frame in sent.iter().chain(&heard) {
            mix.write(frame, None);
        }
        if let Some(writer) = mix.writer.take()
            && let Err(e) = writer.finalize()
        {
            tracing::warn!(path = %self.path.display(), error = %e, "the recording could not be completed");
        }
    }

    /// Wraps the microphone (what we send) so its frames are recorded too.
    pub fn tap_source(self: &Arc<Self>, inner: Box<dyn AudioSource>) -> Box<dyn AudioSource> {
        Box::new(SourceTap { inner, recorder: self.clone() })
    }

    /// Wraps the headset (what we hear) so its frames are recorded too.
    pub fn tap_sink(self: &Arc<Self>, inner: Box<dyn AudioSink>) -> Box<dyn AudioSink> {
        Box::new(SinkTap { inner, recorder: self.clone() })
    }

    fn push(&self, sent: bool, frame: &[i16]) {
        let mut mix = self.lock();
        if mix.writer.is_none() {
            return;
        }
        if sent {
            mix.sent.push_back(frame.to_vec())
        } else {
            mix.heard.push_back(frame.to_vec())
        }
        loop {
            match (mix.sent.front().is_some(), mix.heard.front().is_some()) {
                (true, true) => {
                    let (a, b) = (mix.sent.pop_front().unwrap_or_default(), mix.heard.pop_front().unwrap_or_default());
                    mix.write(&a, Some(&b));
                }
                _ if mix.sent.len() > MAX_AHEAD => {
                    let a = mix.sent.pop_front().unwrap_or_default();
                    mix.write(&a, None);
                }
                _ if mix.heard.len() > MAX_AHEAD => {
                    let b = mix.heard.pop_front().unwrap_or_default();
                    mix.write(&b, None);
                }
                _ => break,
            }
        }
    }
}

impl Drop for CallRecorder {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Mix {
    fn write(&mut self, a: &[i16], b: Option<&[i16]>) {
        let paused = self.paused;
        let Some(writer) = self.writer.as_mut() else { return };
        for (i, &x) in a.iter().enumerate() {
            let mixed = if paused {
                0
            } else {
                (x as i32 + b.and_then(|b| b.get(i)).map_or(0, |&y| y as i32)).clamp(-32768, 32767) as i16
            };
            if let Err(e) = writer.write_sample(mixed) {
                tracing::warn!(error = %e, "the recording stopped");
                self.writer = None;
                return;
            }
        }
    }
}

struct SourceTap {
    inner: Box<dyn AudioSource>,
    recorder: Arc<CallRecorder>,
}

impl AudioSource for SourceTap {
    fn read_frame(&mut self, frame: &mut [i16]) {
        self.inner.read_frame(frame);
        self.recorder.push(true, frame);
    }
}

struct SinkTap {
    inner: Box<dyn AudioSink>,
    recorder: Arc<CallRecorder>,
}

impl AudioSink for SinkTap {
    fn write_frame(&mut self, frame: &[i16]) {
        self.recorder.push(false, frame);
        self.inner.write_frame(frame);
    }

    fn finish(&mut self) {
        self.inner.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Discard, Silence};

    struct Constant(i16);

    impl AudioSource for Constant {
        fn read_frame(&mut self, frame: &mut [i16]) {
            frame.fill(self.0);
        }
    }

    #[test]
    fn both_legs_are_mixed_and_a_pause_records_silence() {
        let dir = std::env::temp_dir().join(format!("okno-rec-{}", std::process::id()));
        let path = dir.join("call.wav");
        let recorder = CallRecorder::create(&path, 8000).unwrap();
        let mut mic = recorder.tap_source(Box::new(Constant(1000)));
        let mut headset = recorder.tap_sink(Box::new(Discard));
        let mut frame = [0i16; 160];
        let heard = [300i16; 160];
        for tick in 0..30 {
            recorder.set_paused((10..20).contains(&tick));
            mic.read_frame(&mut frame);
            headset.write_frame(&heard);
        }
        // A device switch: new taps, same file; the old ones are gone.
        drop((mic, headset));
        let mut mic = recorder.tap_source(Box::new(Silence));
        mic.read_frame(&mut frame);
        for _ in 0..(MAX_AHEAD + 1) {
            mic.read_frame(&mut frame);
        }
        recorder.finish();
        let samples: Vec<i16> = hound::WavReader::open(&path).unwrap().samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples.len(), (30 + MAX_AHEAD + 2) * 160, "every frame of each leg, mixed in pairs");
        assert!(samples[..10 * 160].iter().all(|&s| s == 1300), "both sides mixed");
        assert!(samples[10 * 160..20 * 160].iter().all(|&s| s == 0), "silence while paused");
        assert!(samples[20 * 160..30 * 160].iter().all(|&s| s == 1300), "recording again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
