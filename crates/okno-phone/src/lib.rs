//! The Okno softphone service. Today: the media driver ([`media`]) that runs a call's RTP on
//! tokio sockets over `okno-media`'s sans-IO session; the headless `okno-phone` binary
//! (src/main.rs) drives `okno-sip` and this module. The desktop will use the same pieces.

pub mod media;
