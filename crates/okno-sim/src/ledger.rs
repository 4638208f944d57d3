//! What the simulated desktops did and heard, shared by all of them: every mutation written
//! (with when), what became of it, and every `applied` verdict the server sent.
//!
//! The final checks compare this with the server's PostgreSQL: an acknowledged mutation must
//! have its effect there (else it was lost), and no mutation may be answered `applied` twice
//! (a retry or duplicated request must come back `duplicate`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use okno_core::Mutation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Pending,
    Acked,
    Rejected(String),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub client: usize,
    pub seq: u64,
    pub mutation_id: String,
    pub mutation: Mutation,
    pub written_at: Instant,
    pub fate: Fate,
    pub ack_latency: Option<Duration>,
    /// How many responses said `applied` for this (client, seq).
    pub applied_verdicts: u32,
}

#[derive(Debug, Default)]
pub struct Ledger {
    entries: Mutex<HashMap<(usize, u64), Entry>>,
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, u64), Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn written(&self, client: usize, seq: u64, mutation_id: &str, mutation: &Mutation, at: Instant) {
        let entry = Entry {
            client,
            seq,
            mutation_id: mutation_id.to_owned(),
            mutation: mutation.clone(),
            written_at: at,
            fate: Fate::Pending,
            ack_latency: None,
            applied_verdicts: 0,
        };
        self.lock().insert((client, seq), entry);
    }

    pub fn acked(&self, client: usize, seq: u64, now: Instant) {
        if let Some(e) = self.lock().get_mut(&(client, seq)) {
            e.fate = Fate::Acked;
            e.ack_latency = Some(now.duration_since(e.written_at));
        }
    }

    pub fn rejected(&self, client: usize, seq: u64, code: &str) {
        if let Some(e) = self.lock().get_mut(&(client, seq)) {
            e.fate = Fate::Rejected(code.to_owned());
        }
    }

    pub fn applied_verdict(&self, client: usize, seq: u64) {
        if let Some(e) = self.lock().get_mut(&(client, seq)) {
            e.applied_verdicts += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn snapshot(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self.lock().values().cloned().collect();
        all.sort_by_key(|e| (e.client, e.seq));
        all
    }
}

/// Fault and event counts for the summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub dropped_requests: AtomicU64,
    pub dropped_responses: AtomicU64,
    pub duplicated_requests: AtomicU64,
    pub partitions: AtomicU64,
    pub crashes: AtomicU64,
    pub crashes_mid_push: AtomicU64,
    pub pokes: AtomicU64,
    pub late: AtomicU64,
    pub restarts: AtomicU64,
}

impl Counters {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
