//! "Test my headset": what the microphone hears is played back to the headset for a few seconds,
//! and the input level is reported, so an operator can check both ends before taking calls.

use std::time::{Duration, Instant};

use crate::convert::{Level, level};
use crate::stream::{CaptureStream, DeviceStatus, PlaybackStream, StreamOptions};
use crate::{AudioError, DeviceChoice, FrameRate};

/// The outcome of a headset test.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadsetTestReport {
    /// Level of everything captured. RMS below about −50 dBFS means the microphone is muted or dead.
    pub input: Level,
    /// The loudest 20 ms frame's RMS, dBFS.
    pub loudest_frame_dbfs: f64,
    pub frames: u64,
    pub capture_status: DeviceStatus,
    pub playback_status: DeviceStatus,
}

/// Plays `capture` back to `playback` for `duration`, calling `on_level` with each frame's level
/// (for a live meter). Device trouble shows in the report's statuses, not as an error.
pub fn headset_test(
    capture: DeviceChoice,
    playback: DeviceChoice,
    duration: Duration,
    options: StreamOptions,
    mut on_level: impl FnMut(Level),
) -> Result<HeadsetTestReport, AudioError> {
    let rate = FrameRate::Hz16000;
    let mut mic = CaptureStream::open(capture, rate, options.clone())?;
    let mut out = PlaybackStream::open(playback, rate, options)?;
    let mut frame = vec![0i16; rate.frame_samples()];
    let (mut sum_sq, mut samples, mut peak, mut loudest, mut frames) = (0.0f64, 0u64, 0.0f64, f64::NEG_INFINITY, 0);
    let end = Instant::now() + duration;
    while Instant::now() < end {
        if mic.read_frame(&mut frame, Duration::from_millis(100)).is_none() {
            continue;
        }
        out.write_frame(&frame);
        let l = level(&frame);
        on_level(l);
        loudest = loudest.max(l.rms_dbfs);
        frames += 1;
        sum_sq += frame.iter().map(|&s| (s as f64).powi(2)).sum::<f64>();
        samples += frame.len() as u64;
        peak = peak.max(frame.iter().map(|&s| (s as f64).abs()).fold(0.0, f64::max));
    }
    let rms = if samples == 0 { 0.0 } else { (sum_sq / samples as f64).sqrt() / 32768.0 };
    Ok(HeadsetTestReport {
        input: Level { rms_dbfs: 20.0 * rms.log10(), peak_dbfs: 20.0 * (peak / 32768.0).log10() },
        loudest_frame_dbfs: loudest,
        frames,
        capture_status: mic.status(),
        playback_status: out.status(),
    })
}
