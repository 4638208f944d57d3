//! The sync protocol between desktops and the server (ARCHITECTURE.md, "Data flow").
//!
//! - [`protocol`]: the JSON wire types of push and pull, shared by the desktop and the server.
//! - [`live`]: the server-to-client events of the WebSocket (pokes, presence, agent states).
//! - [`engine`]: the client side as a sans-IO state machine; the desktop drives it with its
//!   HTTP client and local store, tests drive it in virtual time.
//!
//! Invariant: this crate does no I/O, reads no clock and spawns nothing.

pub mod engine;
pub mod live;
pub mod protocol;

#[cfg(test)]
mod engine_tests;

pub use engine::{Ack, Config, Engine, Input, Output, Request};
pub use live::{LIVE_PATH, LiveEvent};
pub use protocol::*;
