//! Media for Okno calls (issue 4): RTP and RTCP, G.711, RFC 4733 DTMF, an
//! adaptive jitter buffer with packet-loss concealment, and a call-quality
//! estimate, SRTP, and [`session::MediaSession`] tying them into one call. Devices live in
//! okno-audio; sockets in the drivers (okno-phone).
//!
//! Everything here is sans-IO: no sockets, threads, locks, randomness or clock
//! reads. Packets come in as byte slices; time comes in as an argument
//! (`std::time::Instant` from the caller, or RTP/NTP timestamps); SSRCs and
//! initial sequence numbers are chosen by the caller. A driver (the audio
//! thread and a tokio task in the app, a loop over a virtual clock in tests)
//! owns the sockets, the devices and the timers.
//!
//! Code map:
//! - [`rtp`]: RTP packets (RFC 3550 §5.1), sequence extension and receive statistics (Appendix A).
//! - [`rtcp`]: SR, RR, SDES, BYE and compound packets; round-trip time from LSR/DLSR.
//! - [`g711`]: PCMU and PCMA.
//! - [`dtmf`]: RFC 4733 telephone events, sender and receiver.
//! - [`jitter`]: adaptive jitter buffer and concealment.
//! - [`quality`]: E-model (ITU-T G.107) MOS estimate.
//! - [`resample`]: the resampler interface, with a linear implementation for tests.
//! - [`session`]: one call's media as a single state machine over all of the above.
//! - [`srtp`]: SRTP/SRTCP (RFC 3711) protect and unprotect with SDES keys, around the session.
//!
//! Invariant: no function in this crate panics on bytes received from the
//! network; malformed input yields a typed error.
//! Invariant: no function in this crate reads the system clock or a random source.

pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod opus;
pub mod quality;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod session;
pub mod srtp;

/// The tests' seeded generator: okno-core's, so loss and jitter patterns and random packets are
/// the same on every run. Tests only; the crate itself uses no randomness.
#[cfg(test)]
pub(crate) mod test_rng {
    pub(crate) use okno_core::rng::Rng;
}
