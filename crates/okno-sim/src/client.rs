//! One simulated desktop: the app's own sync (okno-sync-client's driver on a real okno-store
//! SQLite file, its HTTP transport and live socket) against real servers, with the faults the
//! run asks for injected where a request travels.
//!
//! What survives a crash is what a desktop has on disk: its store (outbox, cursor, pulled
//! rows), written as the app writes it. A crash throws away everything else (the driver's
//! engine, its in-flight request, the socket) and starts over from the store, as a restarted
//! app does.
//!
//! Faults, each decided by the client's own seeded generator: a request dropped before it is
//! sent, a response dropped after the server acted on it, a request sent twice at once, a
//! partition from the server for a while, a crash between two writes, and a crash while a push
//! is in flight (the server applies it, the desktop never hears).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use okno_core::{AgentState, Mutation, Role, TicketStatus};
use okno_store::Store;
use okno_store::sync::Rejection;
use okno_sync::{Config as EngineConfig, Input, Outcome, Request};
use okno_sync_client::{Driver, Exchange, HttpTransport, Link, ListenConfig, Live, listen};
use tokio::sync::{Notify, mpsc, watch};

use crate::ledger::{Counters, Ledger};
use crate::rng::Rng;

/// Fault probabilities; all zero without `--faults`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub drop_request: f64,
    pub drop_response: f64,
    pub duplicate_request: f64,
    pub partition: f64,
    pub crash: f64,
    pub crash_mid_push: f64,
}

impl Faults {
    pub fn standard() -> Self {
        Faults {
            drop_request: 0.05,
            drop_response: 0.05,
            duplicate_request: 0.05,
            partition: 0.01,
            crash: 0.01,
            crash_mid_push: 0.03,
        }
    }
}

/// State every client shares with the run.
#[derive(Debug)]
pub struct Shared {
    pub http: reqwest::Client,
    /// The trust for `https://` servers (their live sockets are `wss://`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub servers: Vec<String>,
    pub ledger: Ledger,
    pub counters: Counters,
    /// Cleared for the final phase: from then on the network is clean.
    pub faults_on: AtomicBool,
    /// The changelog head every client must reach, set once all writes are settled.
    pub target: std::sync::Mutex<Option<(u64, Instant)>>,
    pub target_set: Notify,
    /// How long a client may take to reach the target by pokes before it is forced to pull.
    pub settle: Duration,
}

impl Shared {
    fn target(&self) -> Option<(u64, Instant)> {
        *self.target.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub index: usize,
    pub operator_id: String,
    pub token: String,
    /// Index into `Shared::servers`.
    pub server: usize,
    pub seed: u64,
    pub mutations: usize,
    pub tickets: Vec<String>,
    pub faults: Faults,
    /// Mean pause between two writes.
    pub write_gap: Duration,
    /// The desktop's SQLite file.
    pub database: PathBuf,
}

/// What a client reports at the end: its store, to compare with the server's rows.
#[derive(Debug)]
pub struct Report {
    pub index: usize,
    pub store: Store,
    /// The client id the server numbers this desktop's writes under.
    pub client_id: String,
    /// The last outbox sequence number it wrote (0 for none).
    pub last_seq: u64,
    /// Writes the local store refused before they reached the outbox (a ticket not pulled yet).
    pub refused_locally: u64,
}

/// The in-memory part of a running desktop; a crash drops it.
struct Life {
    driver: Driver,
    live: mpsc::Receiver<Live>,
    socket: tokio::task::JoinHandle<()>,
    _access: watch::Sender<Option<String>>,
}

impl Drop for Life {
    fn drop(&mut self) {
        self.socket.abort();
    }
}

fn engine_config() -> EngineConfig {
    // The client id is the store's, set by the driver.
    let mut config = EngineConfig::new("");
    config.max_batch = 20;
    config.request_timeout = Duration::from_secs(5);
    // Long on purpose: a client that converges before this did so because of pokes.
    config.pull_interval = Duration::from_secs(120);
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(500);
    config
}

impl Life {
    async fn start(spec: &Spec, shared: &Shared, store: &Store) -> anyhow::Result<Life> {
        let driver = Driver::new(store.clone(), &spec.operator_id, engine_config()).await?;
        let (tx, live) = mpsc::channel(64);
        let (access, token) = watch::channel(Some(spec.token.clone()));
        // The sim's servers restart within a second: reconnect at a steady pace.
        let pace = ListenConfig { min_backoff: Duration::from_millis(200), max_backoff: Duration::from_millis(200) };
        let socket = tokio::spawn(listen(shared.servers[spec.server].clone(), shared.tls.clone(), token, tx, pace));
        Ok(Life { driver, live, socket, _access: access })
    }
}

/// The client's network: the app's transport with faults in front of it.
struct FaultyLink {
    index: usize,
    shared: Arc<Shared>,
    transport: HttpTransport,
    token: String,
    rng: Rng,
    faults: Faults,
    partitioned_until: Option<Instant>,
    /// Set when a push went out and this desktop "died" before reading the answer.
    crashed: bool,
}

impl Link for FaultyLink {
    async fn exchange(&mut self, request: &Request) -> Input {
        let is_push = matches!(request, Request::Push(_));
        let crash = is_push && self.rng.chance(self.faults.crash_mid_push);
        let input = self.faulty_exchange(request).await;
        if crash {
            // The server has the push; this desktop dies before reading the answer.
            Counters::inc(&self.shared.counters.crashes_mid_push);
            self.crashed = true;
            return Input::NetworkError;
        }
        input
    }

    fn acked(&mut self, seqs: &[u64]) {
        let now = Instant::now();
        for seq in seqs {
            self.shared.ledger.acked(self.index, *seq, now);
        }
    }

    fn rejected(&mut self, seq: u64, code: &str, _recorded: Option<Rejection>) {
        self.shared.ledger.rejected(self.index, seq, code);
    }
}

impl FaultyLink {
    /// Send one request over the faulty network; the engine's input for what came back.
    async fn faulty_exchange(&mut self, request: &Request) -> Input {
        let now = Instant::now();
        if self.partitioned_until.is_some_and(|t| now < t) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            return Input::NetworkError;
        }
        if self.rng.chance(self.faults.partition) {
            Counters::inc(&self.shared.counters.partitions);
            self.partitioned_until = Some(now + Duration::from_millis(200 + self.rng.below(800)));
            return Input::NetworkError;
        }
        if self.rng.chance(self.faults.drop_request) {
            Counters::inc(&self.shared.counters.dropped_requests);
            tokio::time::sleep(Duration::from_millis(2)).await;
            return Input::NetworkError;
        }
        let duplicate = self.rng.chance(self.faults.duplicate_request);
        let drop_response = self.rng.chance(self.faults.drop_response);
        let input = if duplicate {
            Counters::inc(&self.shared.counters.duplicated_requests);
            let (first, _second) = tokio::join!(self.send(request), self.send(request));
            first
        } else {
            self.send(request).await
        };
        if drop_response {
            Counters::inc(&self.shared.counters.dropped_responses);
            return Input::NetworkError;
        }
        input
    }

    /// One exchange; every `applied` verdict is recorded, whether the desktop gets it or not.
    async fn send(&self, request: &Request) -> Input {
        let exchange = self.transport.send(request, Some(&self.token)).await;
        if let Exchange::Answer(Input::PushResponse(push)) = &exchange {
            for r in &push.results {
                if matches!(r.outcome, Outcome::Applied { .. }) {
                    self.shared.ledger.applied_verdict(self.index, r.client_seq);
                }
            }
        }
        exchange.into_input()
    }
}

/// Run one desktop: once its first pull is in, write `spec.mutations` random mutations through
/// its store, then stay until it has converged with the server's head as of the end of all
/// writes.
pub async fn run(spec: Spec, shared: Arc<Shared>) -> anyhow::Result<Report> {
    let store = Store::open(&spec.database).await.with_context(|| format!("client {}: store", spec.index))?;
    store.set_me(&spec.operator_id, &spec.operator_id, Role::Operator).await?;
    let mut life = Life::start(&spec, &shared, &store).await?;
    let mut link = FaultyLink {
        index: spec.index,
        shared: shared.clone(),
        transport: HttpTransport::new(shared.http.clone(), shared.servers[spec.server].clone(), Duration::from_secs(5)),
        token: spec.token.clone(),
        rng: Rng::derive(spec.seed, spec.index as u64),
        faults: Faults::default(),
        partitioned_until: None,
        crashed: false,
    };
    let mut remaining = spec.mutations;
    let mut next_write = Instant::now() + gap(&mut link.rng, spec.write_gap);
    let mut last_seq = 0u64;
    let mut refused_locally = 0u64;
    let mut forced = false;
    let mut pulled = false;
    loop {
        link.faults = if shared.faults_on.load(Ordering::Relaxed) { spec.faults } else { Faults::default() };
        let now = Instant::now();
        // An operator acts on tickets the desk shows: nothing is written before the first pull.
        pulled = pulled || store.sync_cursor().await.unwrap_or(0) > 0;
        if remaining > 0 && pulled && now >= next_write {
            let n = (spec.mutations - remaining) as u64 + refused_locally;
            let mutation = random_mutation(&mut link.rng, &spec, &store, n).await;
            match store.apply(mutation.clone()).await {
                Ok(applied) => {
                    let seq = u64::try_from(applied.outbox_seq).unwrap_or(0);
                    last_seq = last_seq.max(seq);
                    shared.ledger.written(spec.index, seq, &applied.mutation_id, &mutation, now);
                    life.driver.feed_outbox().await;
                    remaining -= 1;
                }
                Err(e) => {
                    tracing::debug!(client = spec.index, error = %e, "the store refused a write");
                    refused_locally += 1;
                }
            }
            next_write = now + gap(&mut link.rng, spec.write_gap);
            if link.rng.chance(link.faults.crash) {
                Counters::inc(&shared.counters.crashes);
                life = Life::start(&spec, &shared, &store).await?;
            }
        }

        // Drain the driver (the engine's driving contract), the network's faults in between.
        let wake = life.driver.drain(&mut link).await;
        if std::mem::take(&mut link.crashed) {
            life = Life::start(&spec, &shared, &store).await?;
            continue;
        }

        // Never sleep long: the end of the writing phase is noticed by polling `target`.
        let mut until = wake.min(Instant::now() + Duration::from_millis(200));
        if remaining > 0 {
            until = until.min(next_write.max(Instant::now() + Duration::from_millis(5)));
        }
        if let Some((target, set_at)) = shared.target() {
            let now = Instant::now();
            let cursor = store.sync_cursor().await.unwrap_or(0);
            let unsent = store.unsent().await.unwrap_or(1);
            if unsent == 0 && life.driver.is_idle() && cursor >= target {
                let client_id = life.driver.client_id().to_owned();
                return Ok(Report { index: spec.index, store, client_id, last_seq, refused_locally });
            }
            if !forced && now >= set_at + shared.settle {
                // Pokes did not bring this client up to date: count it and pull anyway.
                forced = true;
                Counters::inc(&shared.counters.late);
                life.driver.poke(target);
                continue;
            }
            until = until.min(now + Duration::from_millis(50));
        }
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            Some(event) = life.live.recv() => match event {
                Live::Up { version } => {
                    life.driver.server_up(version).await;
                }
                Live::Poke(version) => {
                    Counters::inc(&shared.counters.pokes);
                    life.driver.poke(version);
                }
                Live::Down | Live::VisitorTyping(_) => {}
            },
            _ = shared.target_set.notified() => {}
        }
    }
}

fn gap(rng: &mut Rng, mean: Duration) -> Duration {
    let mean_us = mean.as_micros().max(1) as u64;
    Duration::from_micros(rng.below(2 * mean_us))
}

/// A plausible operator action on the run's tickets; its clock is the write's number `n`, so
/// runs repeat.
async fn random_mutation(rng: &mut Rng, spec: &Spec, store: &Store, n: u64) -> Mutation {
    let at = 1_700_000_000_000 + (spec.index as i64) * 1_000_000 + n as i64;
    let ticket_id = rng.pick(&spec.tickets).clone();
    match rng.below(100) {
        0..35 => Mutation::ReplyTicket {
            cc: Vec::new(),
            attachments: Vec::new(),
            ticket_id,
            message_id: okno_core::new_id(),
            body: format!("Simulated reply {} #{n}", spec.index),
            internal: rng.chance(0.3),
            at,
        },
        35..55 => Mutation::SetTicketStatus { ticket_id, status: *rng.pick(TicketStatus::ALL), at },
        55..75 => Mutation::AssignTicket { ticket_id, assignee_id: Some(spec.operator_id.clone()), at },
        75..83 => {
            // Let go of a ticket this desktop believes it owns (any ticket if none): the server
            // refuses it when someone else owns it now.
            let mut mine = Vec::new();
            for t in &spec.tickets {
                let owner = store.ticket_row(t).await.ok().and_then(|row| row.assignee_id);
                if owner.as_deref() == Some(spec.operator_id.as_str()) {
                    mine.push(t);
                }
            }
            let ticket_id = if mine.is_empty() { ticket_id } else { (*rng.pick(&mine)).clone() };
            Mutation::AssignTicket { ticket_id, assignee_id: None, at }
        }
        83..95 => {
            let pool = ["vip", "refund", "VIP", "callback", " sim "];
            let n = rng.below(4);
            let tags = (0..n).map(|_| (*rng.pick(&pool)).to_owned()).collect();
            Mutation::SetTicketTags { ticket_id, tags, at }
        }
        _ => Mutation::SetAgentState { operator_id: spec.operator_id.clone(), state: *rng.pick(AgentState::ALL), at },
    }
}
