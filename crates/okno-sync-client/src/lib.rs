//! A desk's sync over the network, one copy for the app and for `okno-sim`'s simulated desks, so
//! the sim's faults (dropped requests, crashes mid-push, restarts) hit the code operators run.
//!
//! - [`transport`]: `POST /v1/push` and `/v1/pull` over HTTP(S) and the `/v1/live` WebSocket
//!   that brings pokes, with reconnect and backoff.
//! - [`driver`]: the loop between okno-sync's sans-IO [`okno_sync::Engine`] and the local
//!   [`okno_store::Store`]: it feeds the engine the outbox, carries out its outputs in the store
//!   (acknowledged, refused, pulled batches) and recovers from a server restored from backup.
//!   How a request travels and what the window is told are the caller's, through [`driver::Link`].
//! - [`tls`]: the trust in the server (public roots plus a provisioned CA).
//!
//! Invariant: the store is the only state that outlives a [`driver::Driver`]. Dropping one and
//! calling [`driver::Driver::restart`] (a crashed and restarted desk) loses nothing: the engine
//! is rebuilt from the store's cursor and outbox.

pub mod driver;
pub mod tls;
pub mod transport;

pub use driver::{Driver, Link};
pub use tls::{TlsError, tls_client};
pub use transport::{Exchange, HttpTransport, ListenConfig, Live, listen};
