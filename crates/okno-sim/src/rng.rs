//! The simulator's seeded generator is okno-core's (one copy for every seeded test).

pub use okno_core::rng::Rng;
