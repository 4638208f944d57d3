//! One simulated desktop: okno-sync's engine driven over real HTTP and a real WebSocket, with
//! the faults the run asks for.
//!
//! What survives a crash is what a desktop has on disk: [`Durable`] (the outbox, the next
//! sequence number, the pulled rows and their cursor; each changed as the engine's driving
//! contract says, as if in one SQLite transaction). A crash throws away everything else (the
//! engine, its in-flight request, the socket) and starts over from it, as a restarted app would.
//!
//! Faults, each decided by the client's own seeded generator: a request dropped before it is
//! sent, a response dropped after the server acted on it, a request sent twice at once, a
//! partition from the server for a while, a crash between two writes, and a crash while a push
//! is in flight (the server applies it, the desktop never hears).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use okno_core::{AgentState, Mutation, TicketStatus};
use okno_sync::{
    Config as EngineConfig, Engine, Input, LIVE_PATH, LiveEvent, Outcome, Output, PullResponse, PushItem, PushResponse,
    Request,
};
use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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
}

/// What a desktop has on disk.
#[derive(Debug, Clone, Default)]
pub struct Durable {
    pub outbox: Vec<PushItem>,
    pub next_seq: u64,
    pub cursor: u64,
    /// (entity, id) -> row, as pulled.
    pub rows: BTreeMap<(String, String), Value>,
}

/// What a client reports at the end.
#[derive(Debug)]
pub struct Report {
    pub index: usize,
    pub durable: Durable,
    pub written: u64,
}

/// The in-memory part of a running desktop; a crash drops it.
struct Life {
    engine: Engine,
    pokes: mpsc::Receiver<u64>,
    socket: tokio::task::JoinHandle<()>,
}

impl Drop for Life {
    fn drop(&mut self) {
        self.socket.abort();
    }
}

fn engine_config(client_id: &str) -> EngineConfig {
    let mut config = EngineConfig::new(client_id);
    config.max_batch = 20;
    config.request_timeout = Duration::from_secs(5);
    // Long on purpose: a client that converges before this did so because of pokes.
    config.pull_interval = Duration::from_secs(120);
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(500);
    config
}

fn client_id(spec: &Spec) -> String {
    format!("{}-desk", spec.operator_id)
}

impl Life {
    fn start(spec: &Spec, shared: &Arc<Shared>, durable: &Durable) -> Life {
        let mut engine = Engine::new(engine_config(&client_id(spec)), durable.cursor);
        if !durable.outbox.is_empty() {
            engine.handle_input(Instant::now(), Input::Outbox(durable.outbox.clone()));
        }
        let (tx, pokes) = mpsc::channel(64);
        let socket = tokio::spawn(listen(shared.clone(), spec.server, spec.token.clone(), tx));
        Life { engine, pokes, socket }
    }
}

/// Keep a live socket open to the client's server, forwarding poke versions; reconnect after
/// any failure (a restarted server, a socket closed for being slow).
async fn listen(shared: Arc<Shared>, server: usize, token: String, pokes: mpsc::Sender<u64>) {
    let url = format!("{}{LIVE_PATH}", shared.servers[server].replacen("http", "ws", 1));
    loop {
        if let Ok(mut req) = url.as_str().into_client_request()
            && let Ok(auth) = format!("Bearer {token}").parse()
        {
            req.headers_mut().insert("authorization", auth);
            if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(req).await {
                while let Some(Ok(msg)) = socket.next().await {
                    let Message::Text(text) = msg else { continue };
                    let Ok(event) = serde_json::from_str::<LiveEvent>(&text) else { continue };
                    if let Some(version) = event.poke_version() {
                        Counters::inc(&shared.counters.pokes);
                        // A full queue already holds a poke that makes the engine pull.
                        let _ = pokes.try_send(version);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Run one desktop: write `spec.mutations` random mutations, then stay until it has converged
/// with the server's head as of the end of all writes.
pub async fn run(spec: Spec, shared: Arc<Shared>) -> Report {
    let mut rng = Rng::derive(spec.seed, spec.index as u64);
    let mut durable = Durable { next_seq: 1, ..Durable::default() };
    let mut life = Life::start(&spec, &shared, &durable);
    let mut remaining = spec.mutations;
    let mut next_write = Instant::now() + gap(&mut rng, spec.write_gap);
    let mut partitioned_until: Option<Instant> = None;
    let mut forced = false;
    loop {
        let faults = if shared.faults_on.load(Ordering::Relaxed) { spec.faults } else { Faults::default() };
        let now = Instant::now();
        if remaining > 0 && now >= next_write {
            let seq = durable.next_seq;
            durable.next_seq += 1;
            let mutation = random_mutation(&mut rng, &spec, &durable, seq);
            let item = PushItem { client_seq: seq, mutation_id: okno_core::new_id(), mutation };
            shared.ledger.written(spec.index, seq, &item.mutation_id, &item.mutation, now);
            durable.outbox.push(item);
            life.engine.handle_input(now, Input::Outbox(durable.outbox.clone()));
            remaining -= 1;
            next_write = now + gap(&mut rng, spec.write_gap);
            if rng.chance(faults.crash) {
                Counters::inc(&shared.counters.crashes);
                life = Life::start(&spec, &shared, &durable);
            }
        }

        // Drain the engine (its driving contract), doing the I/O it asks for.
        let wake = loop {
            match life.engine.poll_output(Instant::now()) {
                Output::Transmit(request) => {
                    let is_push = matches!(request, Request::Push(_));
                    let crash = is_push && rng.chance(faults.crash_mid_push);
                    let input = exchange(&spec, &shared, &mut rng, faults, &mut partitioned_until, request).await;
                    if crash {
                        // The server has the push; this desktop dies before reading the answer.
                        Counters::inc(&shared.counters.crashes_mid_push);
                        life = Life::start(&spec, &shared, &durable);
                        continue;
                    }
                    life.engine.handle_input(Instant::now(), input);
                }
                Output::Acked(seqs) => {
                    let now = Instant::now();
                    for seq in &seqs {
                        shared.ledger.acked(spec.index, *seq, now);
                    }
                    durable.outbox.retain(|m| !seqs.contains(&m.client_seq));
                }
                Output::Rejected { seq, code, .. } => {
                    shared.ledger.rejected(spec.index, seq, &code);
                    durable.outbox.retain(|m| m.client_seq != seq);
                }
                Output::ApplyBatch { changes, cursor } => {
                    for change in changes {
                        let key = (change.entity, change.id);
                        match change.op {
                            okno_sync::Op::Upsert => durable.rows.insert(key, change.data),
                            okno_sync::Op::Delete => durable.rows.remove(&key),
                        };
                    }
                    durable.cursor = cursor;
                }
                Output::Timeout(at) => break at,
            }
        };

        // Never sleep long: the end of the writing phase is noticed by polling `target`.
        let mut until = wake.min(Instant::now() + Duration::from_millis(200));
        if remaining > 0 {
            until = until.min(next_write);
        }
        if let Some((target, set_at)) = shared.target() {
            let now = Instant::now();
            if durable.outbox.is_empty() && life.engine.is_idle() && durable.cursor >= target {
                return Report { index: spec.index, durable, written: durable_written(&spec, remaining) };
            }
            if !forced && now >= set_at + shared.settle {
                // Pokes did not bring this client up to date: count it and pull anyway.
                forced = true;
                Counters::inc(&shared.counters.late);
                life.engine.handle_input(now, Input::Poke { version: target });
                continue;
            }
            until = until.min(now + Duration::from_millis(50));
        }
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            Some(version) = life.pokes.recv() => life.engine.handle_input(Instant::now(), Input::Poke { version }),
            _ = shared.target_set.notified() => {}
        }
    }
}

fn durable_written(spec: &Spec, remaining: usize) -> u64 {
    (spec.mutations - remaining) as u64
}

fn gap(rng: &mut Rng, mean: Duration) -> Duration {
    let mean_us = mean.as_micros().max(1) as u64;
    Duration::from_micros(rng.below(2 * mean_us))
}

/// A plausible operator action. The clock of `at` is the sequence number, so runs repeat.
fn random_mutation(rng: &mut Rng, spec: &Spec, durable: &Durable, seq: u64) -> Mutation {
    let at = 1_700_000_000_000 + (spec.index as i64) * 1_000_000 + seq as i64;
    let ticket_id = rng.pick(&spec.tickets).clone();
    match rng.below(100) {
        0..35 => Mutation::ReplyTicket {
            cc: Vec::new(),
            attachments: Vec::new(),
            ticket_id,
            message_id: okno_core::new_id(),
            body: format!("Simulated reply {} #{seq}", spec.index),
            internal: rng.chance(0.3),
            at,
        },
        35..55 => Mutation::SetTicketStatus { ticket_id, status: *rng.pick(TicketStatus::ALL), at },
        55..75 => Mutation::AssignTicket { ticket_id, assignee_id: Some(spec.operator_id.clone()), at },
        75..83 => {
            // Let go of a ticket this desktop believes it owns (any ticket if none): the server
            // refuses it when someone else owns it now.
            let mine: Vec<&String> = spec
                .tickets
                .iter()
                .filter(|t| {
                    durable.rows.get(&("ticket".to_owned(), (*t).clone())).and_then(|r| r["assignee_id"].as_str())
                        == Some(spec.operator_id.as_str())
                })
                .collect();
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

/// Send one request over the faulty network; the engine's input for what came back.
async fn exchange(
    spec: &Spec,
    shared: &Shared,
    rng: &mut Rng,
    faults: Faults,
    partitioned_until: &mut Option<Instant>,
    request: Request,
) -> Input {
    let now = Instant::now();
    if partitioned_until.is_some_and(|t| now < t) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        return Input::NetworkError;
    }
    if rng.chance(faults.partition) {
        Counters::inc(&shared.counters.partitions);
        *partitioned_until = Some(now + Duration::from_millis(200 + rng.below(800)));
        return Input::NetworkError;
    }
    if rng.chance(faults.drop_request) {
        Counters::inc(&shared.counters.dropped_requests);
        tokio::time::sleep(Duration::from_millis(2)).await;
        return Input::NetworkError;
    }
    let duplicate = rng.chance(faults.duplicate_request);
    let drop_response = rng.chance(faults.drop_response);
    let input = if duplicate {
        Counters::inc(&shared.counters.duplicated_requests);
        let (first, _second) = tokio::join!(send(spec, shared, &request), send(spec, shared, &request));
        first
    } else {
        send(spec, shared, &request).await
    };
    if drop_response {
        Counters::inc(&shared.counters.dropped_responses);
        return Input::NetworkError;
    }
    input
}

/// One HTTP exchange; every `applied` verdict is recorded, whether the desktop gets it or not.
async fn send(spec: &Spec, shared: &Shared, request: &Request) -> Input {
    let base = &shared.servers[spec.server];
    let (path, body) = request.path_and_body();
    let Ok(body) = body else { return Input::NetworkError };
    let resp = shared.http.post(format!("{base}{path}")).bearer_auth(&spec.token).json(&body).send().await;
    let Ok(resp) = resp else { return Input::NetworkError };
    if !resp.status().is_success() {
        tracing::debug!(status = %resp.status(), path, "request failed");
        return Input::NetworkError;
    }
    let Ok(bytes) = resp.bytes().await else { return Input::NetworkError };
    match request {
        Request::Push(_) => match serde_json::from_slice::<PushResponse>(&bytes) {
            Ok(push) => {
                for r in &push.results {
                    if matches!(r.outcome, Outcome::Applied { .. }) {
                        shared.ledger.applied_verdict(spec.index, r.client_seq);
                    }
                }
                Input::PushResponse(push)
            }
            Err(_) => Input::NetworkError,
        },
        Request::Pull(_) => match serde_json::from_slice::<PullResponse>(&bytes) {
            Ok(pull) => Input::PullResponse(pull),
            Err(_) => Input::NetworkError,
        },
    }
}
