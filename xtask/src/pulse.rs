//! A PulseAudio server with a null sink for the audio device tests (issue 4).
//!
//! xtask only installs the packages. The daemon is started by the tests themselves
//! (`crates/okno-audio/tests/common/mod.rs`), each test binary its own in a private runtime
//! directory, so `cargo test -p okno-audio` works the same with or without xtask.

use anyhow::Result;

/// PulseAudio, `pactl`, the ALSA pulse plugin (ALSA's `default` → PulseAudio) and ALSA's tools.
const APT_PULSE: &[&str] = &["pulseaudio", "pulseaudio-utils", "libasound2-plugins", "alsa-utils"];

/// Installs what the audio tests need; they start their own daemon with a null sink.
pub(crate) fn ensure_pulseaudio() -> Result<()> {
    crate::ensure_system_packages(APT_PULSE)
}
