//! The one error type of this crate.

use crate::Direction;

/// What can go wrong opening or driving an audio device.
///
/// A stream never returns these once it is open: a device that disappears or fails later turns the
/// stream silent and is reported as [`crate::DeviceStatus::Silent`], whose reason is one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The caller asked for a frame rate this crate does not produce.
    #[error("unsupported frame rate {0} Hz: use 8000, 16000 or 48000")]
    UnsupportedRate(u32),
    /// No device of that name (for that direction) is known to the sound server.
    #[error("no {direction} device named {name:?}")]
    DeviceNotFound { name: String, direction: Direction },
    /// The sound server has no default device for that direction.
    #[error("no default {0} device")]
    NoDefaultDevice(Direction),
    /// The audio backend (ALSA, PulseAudio) could not be reached.
    #[error("audio backend unavailable: {0}")]
    BackendUnavailable(String),
    /// The device offers no sample format or configuration we can convert from.
    #[error("device {device:?} has no usable configuration: {detail}")]
    UnsupportedDevice { device: String, detail: String },
    /// The backend refused to open or start the stream.
    #[error("cannot open {direction} stream on {device:?}: {detail}")]
    OpenFailed { device: String, direction: Direction, detail: String },
    /// The stream failed after it was running (device unplugged, server gone).
    #[error("{direction} stream on {device:?} failed: {detail}")]
    StreamFailed { device: String, direction: Direction, detail: String },
    /// The device stopped calling back without reporting an error.
    #[error("{direction} stream on {device:?} stalled: no audio for {millis} ms")]
    Stalled { device: String, direction: Direction, millis: u64 },
    /// The resampler could not be built for these rates.
    #[error("cannot resample {from} Hz to {to} Hz: {detail}")]
    Resampler { from: u32, to: u32, detail: String },
    /// A thread for the stream's supervisor could not be started.
    #[error("cannot start audio thread: {0}")]
    Thread(String),
}
