//! Audio devices for Okno calls (issue 4): the I/O side of media, next to the sans-IO
//! `okno-media`.
//!
//! A call reads and writes 20 ms frames of mono `i16` at its codec's rate ([`FrameRate`]); the
//! devices run at whatever format, rate and channel count they like. This crate opens the devices
//! with cpal, converts channels and resamples inside the audio callbacks, and hands frames across
//! lock-free rings, so the audio thread never blocks on the call and the call never blocks on the
//! audio thread.
//!
//! Code map:
//! - [`devices`]: which backend (PulseAudio or ALSA), the device list, [`DeviceChoice`].
//! - [`stream`]: [`CaptureStream`] and [`PlaybackStream`] with their supervisor thread, which
//!   keeps a stream alive across unplugs and default-device changes and reports [`DeviceStatus`].
//! - [`convert`]: sample formats and channel conversion (pure).
//! - [`resampler`]: rubato's FFT resampler behind `okno_media::resample::Resampler`.
//! - [`tones`]: ring cadence and chat chime generators (pure) and the [`Ringer`] that plays them.
//! - [`loopback`]: "test my headset".
//!
//! Invariant: a missing or failing device never fails a call. Once a stream is open it carries on
//! silent (capture delivers silent frames, playback discards at real-time pace) and reports why;
//! only invalid arguments are returned as errors.
//! Invariant: the audio callbacks neither block nor allocate: they exchange frames through
//! pre-sized `rtrb` rings and take the shared state with `try_lock` only.

pub mod convert;
pub mod devices;
mod error;
pub mod loopback;
pub mod resampler;
pub mod stream;
pub mod tones;

pub use devices::{Backend, DeviceChoice, DeviceInfo, check_device, list_devices};
pub use error::AudioError;
pub use loopback::{HeadsetTestReport, headset_test};
pub use stream::{
    CaptureStats, CaptureStream, DeviceStatus, PlaybackStats, PlaybackStream, SilentReason, StreamOptions,
};
pub use tones::{Ringer, Tone, ToneGenerator};

use std::fmt;
use std::time::Duration;

/// The duration of one frame handed to or from the call.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);

/// The largest frame this crate hands out, in samples: 20 ms at 48 kHz.
pub const MAX_FRAME_SAMPLES: usize = 960;

/// Capture or playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Input,
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// The rates a call's frames can have: G.711 (8 kHz), wideband (16 kHz), Opus (48 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameRate {
    Hz8000,
    Hz16000,
    Hz48000,
}

impl FrameRate {
    pub fn hz(self) -> u32 {
        match self {
            FrameRate::Hz8000 => 8000,
            FrameRate::Hz16000 => 16000,
            FrameRate::Hz48000 => 48000,
        }
    }

    /// Samples in one 20 ms frame.
    pub fn frame_samples(self) -> usize {
        self.hz() as usize / 50
    }
}

impl TryFrom<u32> for FrameRate {
    type Error = AudioError;

    fn try_from(hz: u32) -> Result<Self, AudioError> {
        match hz {
            8000 => Ok(FrameRate::Hz8000),
            16000 => Ok(FrameRate::Hz16000),
            48000 => Ok(FrameRate::Hz48000),
            other => Err(AudioError::UnsupportedRate(other)),
        }
    }
}
