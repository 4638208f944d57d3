//! The desk's short sounds outside calls (the ringtone belongs to the phone).

/// New work (a ticket assigned to the operator): a chime on the default output, off the
/// caller's thread. No sound device costs only the chime.
pub(crate) fn chime() {
    let chime = std::thread::Builder::new().name("okno-chime".into()).spawn(|| {
        match okno_audio::Ringer::open(okno_audio::DeviceChoice::Default, okno_audio::StreamOptions::default()) {
            Ok(ringer) => {
                ringer.play(okno_audio::Tone::Chime);
                // The chime plays out before the player closes.
                std::thread::sleep(std::time::Duration::from_millis(1500));
            }
            Err(e) => tracing::debug!(error = %e, "no sound device for the chime"),
        }
    });
    if let Err(e) = chime {
        tracing::warn!(error = %e, "cannot start the chime thread");
    }
}
