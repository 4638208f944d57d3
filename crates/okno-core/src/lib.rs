//! Okno's domain: the nouns of a call center (customers, tickets, messages, calls, operators,
//! queues, orders) and the pure rules over them (SLA clocks, PII masking, service level).
//!
//! Invariant: this crate does no I/O and depends on no async runtime, database or UI toolkit
//! (a tidy test in `tests/tidy.rs` checks the manifest). Every other crate builds on these types.

pub mod domain;
pub mod email;
pub mod mention;
pub mod metrics;
pub mod mutation;
pub mod pii;
pub mod rng;
pub mod sla;

pub use domain::*;
pub use mutation::{
    CallQuality, InvalidMutation, Mutation, RecordingPause, normalize_tags, reply_attachments, reply_body, reply_cc,
};
