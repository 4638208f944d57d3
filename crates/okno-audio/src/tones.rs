//! Ringtones: generated, not sampled, so there are no audio files to ship or license.
//!
//! [`ToneGenerator`] is pure (sample index in, samples out) and unit-tested; [`Ringer`] plays it
//! on the ring device through our own [`PlaybackStream`] rather than rodio: the ring device then
//! gets the same device choice, silent fallback and reopening as call audio, and no second audio
//! stack (rodio's mixer, decoders and its own cpal handling) comes in for two sine tones.

use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::stream::{DeviceStatus, PlaybackStream, StreamOptions};
use crate::{AudioError, DeviceChoice, FrameRate};

/// The tones Okno plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Incoming call: the European ring cadence, 425 Hz, 1 s on and 4 s off, until stopped.
    Ring,
    /// A new chat: two soft decaying notes, played once (0.4 s).
    Chime,
}

pub const RING_HZ: f64 = 425.0;
pub const RING_ON: Duration = Duration::from_secs(1);
pub const RING_PERIOD: Duration = Duration::from_secs(5);
/// Ring level: −12 dBFS peak; loud enough over a headset, not painful.
const RING_AMPLITUDE: f64 = 0.25;
/// Fade in and out, so the cadence does not click.
const RAMP: Duration = Duration::from_millis(5);
const CHIME_NOTES: [(f64, Duration); 2] = [(880.0, Duration::from_millis(150)), (1318.5, Duration::from_millis(250))];
const CHIME_AMPLITUDE: f64 = 0.12;

/// Generates a [`Tone`] at a sample rate, sample by sample.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    tone: Tone,
    rate: u32,
    n: u64,
}

impl ToneGenerator {
    pub fn new(tone: Tone, rate: u32) -> Self {
        ToneGenerator { tone, rate: rate.max(1), n: 0 }
    }

    /// A one-shot tone that has played to its end.
    pub fn finished(&self) -> bool {
        match self.tone {
            Tone::Ring => false,
            Tone::Chime => self.n >= self.samples(CHIME_NOTES[0].1 + CHIME_NOTES[1].1),
        }
    }

    fn samples(&self, d: Duration) -> u64 {
        (d.as_secs_f64() * self.rate as f64).round() as u64
    }

    fn sample(&self, n: u64) -> f64 {
        let t = n as f64 / self.rate as f64;
        match self.tone {
            Tone::Ring => {
                let pos = n % self.samples(RING_PERIOD);
                let on = self.samples(RING_ON);
                if pos >= on {
                    return 0.0;
                }
                let ramp = self.samples(RAMP) as f64;
                let gain = (pos as f64 / ramp).min((on - pos) as f64 / ramp).min(1.0);
                RING_AMPLITUDE * gain * (std::f64::consts::TAU * RING_HZ * t).sin()
            }
            Tone::Chime => {
                let mut start = 0;
                for (freq, length) in CHIME_NOTES {
                    let len = self.samples(length);
                    if n < start + len {
                        let local = (n - start) as f64 / self.rate as f64;
                        let attack = ((n - start) as f64 / self.samples(RAMP) as f64).min(1.0);
                        // A bell-like decay: down 40 dB over the note.
                        let decay = (-local / length.as_secs_f64() * 4.6).exp();
                        return CHIME_AMPLITUDE * attack * decay * (std::f64::consts::TAU * freq * local).sin();
                    }
                    start += len;
                }
                0.0
            }
        }
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            *s = (self.sample(self.n) * 32767.0).round() as i16;
            self.n += 1;
        }
    }
}

enum Command {
    Play(Tone),
    Stop,
}

/// Plays tones on the ring device (a second output, separate from the headset's call audio).
pub struct Ringer {
    commands: mpsc::Sender<Command>,
    status: Arc<Mutex<DeviceStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl Ringer {
    /// Opens the ring device; device trouble makes the ringer silent, not an error.
    pub fn open(choice: DeviceChoice, options: StreamOptions) -> Result<Self, AudioError> {
        let rate = FrameRate::Hz48000;
        let mut stream = PlaybackStream::open(choice, rate, options)?;
        let (commands, rx) = mpsc::channel();
        let status = Arc::new(Mutex::new(stream.status()));
        let thread_status = status.clone();
        let thread = thread::Builder::new()
            .name("okno-ringer".into())
            .spawn(move || {
                let mut playing: Option<ToneGenerator> = None;
                let mut frame = vec![0i16; rate.frame_samples()];
                loop {
                    match rx.recv_timeout(Duration::from_millis(10)) {
                        Ok(Command::Play(tone)) => playing = Some(ToneGenerator::new(tone, rate.hz())),
                        Ok(Command::Stop) => playing = None,
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                    if let Some(generator) = playing.as_mut() {
                        // Keep ~60 ms queued: enough to ride out a late wake-up, short enough that
                        // "stop" is heard at once.
                        while stream.queued() < Duration::from_millis(60) && !generator.finished() {
                            generator.fill(&mut frame);
                            stream.write_frame(&frame);
                        }
                        if generator.finished() {
                            playing = None;
                        }
                    }
                    if let Ok(mut s) = thread_status.lock() {
                        *s = stream.status();
                    }
                }
            })
            .map_err(|e| AudioError::Thread(e.to_string()))?;
        Ok(Ringer { commands, status, thread: Some(thread) })
    }

    /// Starts `tone`, replacing whatever was playing.
    pub fn play(&self, tone: Tone) {
        let _ = self.commands.send(Command::Play(tone));
    }

    /// Stops the tone (the ~60 ms already queued still plays).
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }

    /// The ring device's status.
    pub fn status(&self) -> DeviceStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or(DeviceStatus::Opening)
    }
}

impl Drop for Ringer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.commands, dead));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(tone: Tone, rate: u32, d: Duration) -> Vec<i16> {
        let mut g = ToneGenerator::new(tone, rate);
        let mut out = vec![0; (d.as_secs_f64() * rate as f64) as usize];
        g.fill(&mut out);
        out
    }

    #[test]
    fn ring_cadence_is_one_second_of_425_hz_then_four_of_silence() {
        let rate = 8000;
        let x = render(Tone::Ring, rate, Duration::from_secs(10));
        let loud = |from: f64, to: f64| {
            let block = &x[(from * rate as f64) as usize..(to * rate as f64) as usize];
            crate::convert::level(block).rms_dbfs
        };
        for cycle in [0.0, 5.0] {
            // 0.25 peak is −12 dBFS, −15 dBFS RMS.
            assert!((loud(cycle + 0.1, cycle + 0.9) + 15.05).abs() < 0.1, "ring on at {cycle}s");
            assert_eq!(loud(cycle + 1.0, cycle + 5.0), f64::NEG_INFINITY, "silence after {cycle}s");
        }
        // 425 Hz by rising zero crossings over the on part.
        let on = &x[800..7200];
        let rising = (1..on.len()).filter(|&i| on[i - 1] < 0 && on[i] >= 0).count();
        assert!((rising as f64 / 0.8 - 425.0).abs() < 2.0, "{rising} crossings in 0.8 s");
        // Fades: the first and last samples of the burst are near zero, so no click.
        assert!(x[0].abs() < 100 && x[7999].abs() < 100, "{} {}", x[0], x[7999]);
    }

    #[test]
    fn chime_is_soft_short_and_ends() {
        let mut g = ToneGenerator::new(Tone::Chime, 16000);
        let mut out = vec![0; 16000];
        g.fill(&mut out);
        assert!(g.finished());
        let l = crate::convert::level(&out[..6400]);
        assert!(l.peak_dbfs < -17.0 && l.peak_dbfs > -20.0, "{l:?}");
        assert!(out[6400..].iter().all(|&s| s == 0), "silent after 0.4 s");
        assert!(!ToneGenerator::new(Tone::Ring, 8000).finished());
    }
}
