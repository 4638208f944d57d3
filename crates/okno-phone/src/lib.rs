//! The Okno softphone service: the phone [`engine`] (one tokio task driving `okno-sip` and the
//! calls' media; commands in, events out) and the media driver ([`media`]) that runs a call's
//! RTP on tokio sockets over `okno-media`'s sans-IO session. The headless `okno-phone` binary
//! (src/main.rs) and the desktop app are both thin clients of the engine. [`recording`] mixes a
//! call's two sides into a WAV with pause and resume; [`bridge`] joins two calls into a
//! three-way conference on the desk; [`context`] is what a call says about itself for the
//! desk's screen pop.

pub mod bridge;
pub mod context;
pub mod engine;
pub mod media;
pub mod recording;
