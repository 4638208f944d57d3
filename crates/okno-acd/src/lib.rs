//! Automatic call distribution (issue 19): the decisions of a hotline's call queue, with no
//! sockets, no media and no clock, so that every rule is tested in virtual time and the server's
//! SIP back-to-back agent only carries them out.
//!
//! - [`distributor`]: queued calls, agents and their states, offers with ring timeouts, the
//!   callback offer after a long wait; every decision an [`distributor::Action`] and every fact
//!   an [`distributor::AcdEvent`] for the reports.
//! - [`figures`]: a queue's wallboard figures (waiting, longest wait, service level, abandoned)
//!   recomputed from those raw events, so the wallboard and the reports cannot disagree.
//! - [`wire`]: what the server sends the team lead's wallboard.

pub mod distributor;
pub mod figures;
pub mod wire;

pub use distributor::{AcdEvent, AcdEventKind, Action, Agent, Distributor, QueueSpec};
pub use figures::{QueueFigures, agents_on_calls, figures, recorded_call_events, waiting_calls};
