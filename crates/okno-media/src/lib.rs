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

/// A tiny deterministic PRNG (splitmix64) for tests: loss and jitter patterns,
/// random packets. Tests only; the crate itself uses no randomness.
#[cfg(test)]
pub(crate) mod test_rng {
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        pub(crate) fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Uniform in [0, n).
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }
}
