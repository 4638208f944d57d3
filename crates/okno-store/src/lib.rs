//! Okno's local store: one SQLite file per desktop (WAL mode, via sqlx) that the window reads
//! from without touching the network.
//!
//! Invariant: every operator write that must reach the server is applied to the local tables
//! and appended to the `outbox` in ONE transaction (see [`Store::apply`]), so nothing the UI
//! confirmed is ever lost, even on a crash.
//! Invariant: opening never modifies a file that is not an Okno store, and a migration either
//! completes or leaves the previous schema (and a backup copy) intact.

mod db;
pub mod demo;
mod error;
pub mod journal;
mod reads;
mod search;
pub mod sync;
pub mod views;
mod writes;

pub use db::{APPLICATION_ID, SCHEMA_VERSION, Store};
pub use error::StoreError;
pub use writes::Applied;
