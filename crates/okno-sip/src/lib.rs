//! SIP and SDP for Okno: parser, serializer, digest authentication, transactions
//! and dialogs as sans-IO state machines (issue 3).
//!
//! Nothing in this crate performs I/O, spawns threads, takes locks or reads a
//! clock. Bytes come in through `handle_*` methods together with the current
//! time (`std::time::Instant`, supplied by the caller); bytes to send, events and
//! the next deadline come out through `poll_*` methods. A driver (a tokio task
//! in the desktop app, a loop over a virtual clock in tests) owns the sockets
//! and the timers.
//!
//! Code map:
//! - [`message`]: SIP messages (RFC 3261 §7, §20, §25), typed headers.
//! - [`uri`]: `sip:`, `sips:`, `tel:` and opaque URIs.
//! - [`sdp`]: SDP (RFC 4566) and offer/answer helpers (RFC 3264).
//! - [`auth`]: HTTP digest for SIP (RFC 2617, RFC 7616, RFC 8760).
//! - [`transaction`]: client and server transactions (RFC 3261 §17).
//! - [`dialog`]: dialog state and in-dialog requests (RFC 3261 §12).
//! - [`ua`]: an endpoint that matches messages to transactions and answers
//!   malformed requests.
//! - [`session_timer`]: session timers (RFC 4028) negotiated as UAS and UAC.
//! - [`registration`]: a REGISTER client with digest auth, refresh, keep-alives
//!   and recovery.
//!
//! Invariant: no function in this crate panics on bytes received from the
//! network; malformed input yields a typed error.
//! Invariant: no function in this crate reads the system clock.

pub mod auth;
pub mod dialog;
pub mod message;
pub mod registration;
pub mod sdp;
pub mod session_timer;
pub(crate) mod syntax;
pub mod transaction;
pub mod ua;
pub mod uri;

pub use message::{Message, Method, ParseError, Parser, ParserConfig, Request, Response};
pub use syntax::percent_decode;
pub use uri::{Host, SipUri, Uri};
