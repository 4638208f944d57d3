//! The client sync engine: a sans-IO state machine (no sockets, no tasks, no clock).
//!
//! # Driving contract
//!
//! The driver (a tokio task on the desktop, or a test stepping virtual time) owns the HTTP
//! client, the local store and the clock:
//!
//! 1. Feed every event with [`Engine::handle_input`]: the outbox's pending entries (at start
//!    and after every local write), each HTTP response, each failed request, each poke.
//! 2. After any input, and whenever a [`Output::Timeout`] instant is reached, drain
//!    [`Engine::poll_output`] until it returns [`Output::Timeout`]; then sleep until that
//!    instant or the next input, whichever comes first.
//! 3. Act on outputs: send each [`Output::Transmit`] (one request is in flight at a time) and
//!    feed its answer back; delete acknowledged entries from the outbox on [`Output::Acked`];
//!    on [`Output::Rejected`] delete the entry and roll back its optimistic local effect,
//!    showing the reason; on [`Output::ApplyBatch`] write the changes AND the new cursor to the
//!    local store in one transaction.
//! 4. Serialize local writes with the engine: a write's outbox entry must be fed in
//!    ([`Input::Outbox`]) before the next `poll_output`, and an [`Output::ApplyBatch`] must be
//!    written before the next local write is accepted (one driver task owns both), otherwise a
//!    batch could overwrite an optimistic effect the engine did not know about.
//!
//! Invariant: server changes are applied locally only when no local mutation is pending (every
//! pushed mutation is acknowledged and a pull after the last acknowledgement has finished), so
//! a pulled row never overwrites an optimistic local effect the server has not yet seen, and the
//! batch already contains the server's verdict on every mutation the client made.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::protocol::{
    Change, Outcome, PullRequest, PullResponse, PushItem, PushRequest, PushResponse, SCHEMA_VERSION, codes,
};

/// Tuning of one engine; the defaults suit a desktop on an office network.
#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: String,
    /// Mutations per push request.
    pub max_batch: usize,
    /// Changes per pull page.
    pub pull_limit: u32,
    /// A request without an answer by then counts as failed.
    pub request_timeout: Duration,
    /// Pull this often even without a poke (pokes may be lost; WebSocket reconnects).
    pub pull_interval: Duration,
    /// First retry delay after a failure; doubles per consecutive failure up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Config {
    pub fn new(client_id: impl Into<String>) -> Self {
        Config {
            client_id: client_id.into(),
            max_batch: 100,
            pull_limit: 500,
            request_timeout: Duration::from_secs(30),
            pull_interval: Duration::from_secs(30),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The outbox's pending entries, oldest first. Entries the engine already has (by
    /// `client_seq`) are ignored, so passing the whole outbox each time is fine.
    Outbox(Vec<PushItem>),
    PushResponse(PushResponse),
    PullResponse(PullResponse),
    /// The request in flight failed: connection error, HTTP 5xx, or an undecodable body.
    NetworkError,
    /// The server announced a change at `version` (a data-free poke).
    Poke {
        version: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Push(PushRequest),
    Pull(PullRequest),
}

impl Request {
    /// Where the request is POSTed, and its JSON body.
    pub fn path_and_body(&self) -> (&'static str, Result<serde_json::Value, serde_json::Error>) {
        match self {
            Request::Push(p) => (crate::PUSH_PATH, serde_json::to_value(p)),
            Request::Pull(p) => (crate::PULL_PATH, serde_json::to_value(p)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this request and feed its answer back.
    Transmit(Request),
    /// Apply these changes (in order) and store `cursor`, in one local transaction.
    ApplyBatch { changes: Vec<Change>, cursor: u64 },
    /// These outbox entries are on the server (applied or duplicates): delete them (keeping
    /// them in the store's journal, with the version each was applied at).
    Acked(Vec<Ack>),
    /// The server refused this entry: delete it and roll back its local effect.
    Rejected { seq: u64, code: String, reason: String },
    /// Nothing more to do until this instant (or the next input).
    Timeout(Instant),
}

/// An outbox entry the server has: `version` is the changelog version its changes were
/// committed at, `None` when it was a duplicate (applied earlier, at a version not told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub version: Option<u64>,
}

impl Ack {
    /// The sequences of `acks`.
    pub fn seqs(acks: &[Ack]) -> Vec<u64> {
        acks.iter().map(|a| a.seq).collect()
    }
}

#[derive(Debug)]
enum InFlight {
    Push { seqs: Vec<u64>, deadline: Instant },
    Pull { deadline: Instant },
}

impl InFlight {
    fn deadline(&self) -> Instant {
        match self {
            InFlight::Push { deadline, .. } | InFlight::Pull { deadline } => *deadline,
        }
    }
}

/// See the module docs for how to drive it.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    /// Outbox entries not yet acknowledged, in sequence order.
    pending: VecDeque<PushItem>,
    /// The highest `client_seq` received through [`Input::Outbox`].
    last_seq: u64,
    in_flight: Option<InFlight>,
    /// What the local store has applied.
    cursor: u64,
    /// What has been fetched into `buffered` (>= `cursor`).
    fetched: u64,
    buffered: Vec<Change>,
    /// A pull round is wanted: at start, after a poke, after acknowledgements, on `has_more`.
    want_pull: bool,
    next_pull_at: Option<Instant>,
    /// The current retry delay; `None` after a success.
    backoff: Option<Duration>,
    retry_at: Option<Instant>,
    out: VecDeque<Output>,
}

impl Engine {
    /// `cursor` is the version the local store last applied (0 for an empty store).
    pub fn new(config: Config, cursor: u64) -> Self {
        Engine {
            config,
            pending: VecDeque::new(),
            last_seq: 0,
            in_flight: None,
            cursor,
            fetched: cursor,
            buffered: Vec::new(),
            want_pull: true,
            next_pull_at: None,
            backoff: None,
            retry_at: None,
            out: VecDeque::new(),
        }
    }

    /// The version the local store has applied, as far as the engine knows.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Outbox entries not yet acknowledged.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing is pending, in flight, buffered or wanted: the client has converged
    /// with the server as of its last pull.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
            && self.in_flight.is_none()
            && self.buffered.is_empty()
            && !self.want_pull
            && self.fetched == self.cursor
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Outbox(items) => {
                for item in items {
                    if item.client_seq > self.last_seq {
                        self.last_seq = item.client_seq;
                        self.pending.push_back(item);
                    }
                }
            }
            Input::PushResponse(resp) => self.on_push_response(now, resp),
            Input::PullResponse(resp) => self.on_pull_response(now, resp),
            Input::NetworkError => {
                if self.in_flight.take().is_some() {
                    self.fail(now);
                }
            }
            Input::Poke { version } => {
                if version > self.fetched {
                    self.want_pull = true;
                }
            }
        }
    }

    fn on_push_response(&mut self, now: Instant, resp: PushResponse) {
        let Some(InFlight::Push { seqs, .. }) = &self.in_flight else {
            return; // late answer to a request already given up on: the resend covers it
        };
        let seqs = seqs.clone();
        self.in_flight = None;
        let mut acked = Vec::new();
        let mut failed = false;
        for result in resp.results {
            if !seqs.contains(&result.client_seq) {
                continue;
            }
            // Results must come in order; anything else is a protocol error, retried later.
            if self.pending.front().map(|p| p.client_seq) != Some(result.client_seq) {
                failed = true;
                break;
            }
            match result.outcome {
                Outcome::Applied { version } => {
                    self.pending.pop_front();
                    acked.push(Ack { seq: result.client_seq, version: Some(version) });
                }
                Outcome::Duplicate => {
                    self.pending.pop_front();
                    acked.push(Ack { seq: result.client_seq, version: None });
                }
                Outcome::Rejected { code, .. } if code == codes::SEQUENCE_GAP => {
                    // The server lost track of earlier entries; resending is all we can do, and a
                    // persistent gap shows as growing backoff in the logs.
                    failed = true;
                    break;
                }
                Outcome::Rejected { code, reason } => {
                    self.pending.pop_front();
                    if !acked.is_empty() {
                        self.out.push_back(Output::Acked(std::mem::take(&mut acked)));
                    }
                    self.out.push_back(Output::Rejected { seq: result.client_seq, code, reason });
                    self.want_pull = true;
                }
            }
        }
        if !acked.is_empty() {
            self.out.push_back(Output::Acked(acked));
            self.want_pull = true;
        }
        if failed {
            self.fail(now);
        } else {
            self.backoff = None;
        }
    }

    fn on_pull_response(&mut self, now: Instant, resp: PullResponse) {
        if !matches!(self.in_flight, Some(InFlight::Pull { .. })) {
            return;
        }
        self.in_flight = None;
        self.backoff = None;
        let fetched = self.fetched;
        self.buffered.extend(resp.changes.into_iter().filter(|c| c.version > fetched));
        let last = self.buffered.last().map_or(0, |c| c.version);
        self.fetched = self.fetched.max(resp.cursor).max(last);
        if resp.has_more {
            self.want_pull = true;
        } else {
            self.want_pull = false;
            self.next_pull_at = Some(now + self.config.pull_interval);
        }
    }

    /// Decided when polled, not when the pull answer arrives: a local write fed in between
    /// must hold the batch back.
    fn take_batch(&mut self) -> Option<Output> {
        let round_done = !self.want_pull && self.in_flight.is_none();
        if round_done && self.pending.is_empty() && (self.fetched > self.cursor || !self.buffered.is_empty()) {
            self.cursor = self.fetched;
            let changes = std::mem::take(&mut self.buffered);
            return Some(Output::ApplyBatch { changes, cursor: self.cursor });
        }
        None
    }

    fn fail(&mut self, now: Instant) {
        let delay = match self.backoff {
            None => self.config.backoff_min,
            Some(d) => (d * 2).min(self.config.backoff_max),
        };
        self.backoff = Some(delay);
        self.retry_at = Some(now + delay);
    }

    /// The next thing to do. Call until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self, now: Instant) -> Output {
        if let Some(out) = self.out.pop_front() {
            return out;
        }
        if let Some(batch) = self.take_batch() {
            return batch;
        }
        if self.in_flight.as_ref().is_some_and(|f| f.deadline() <= now) {
            self.in_flight = None;
            self.fail(now);
        }
        if let Some(f) = &self.in_flight {
            return Output::Timeout(f.deadline());
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return Output::Timeout(at);
            }
            self.retry_at = None;
        }
        if self.next_pull_at.is_some_and(|at| at <= now) {
            self.want_pull = true;
        }
        let deadline = now + self.config.request_timeout;
        if !self.pending.is_empty() {
            let mutations: Vec<PushItem> = self.pending.iter().take(self.config.max_batch).cloned().collect();
            let seqs = mutations.iter().map(|m| m.client_seq).collect();
            self.in_flight = Some(InFlight::Push { seqs, deadline });
            return Output::Transmit(Request::Push(PushRequest {
                client_id: self.config.client_id.clone(),
                schema_version: SCHEMA_VERSION,
                mutations,
            }));
        }
        if self.want_pull {
            self.in_flight = Some(InFlight::Pull { deadline });
            return Output::Transmit(Request::Pull(PullRequest {
                cursor: self.fetched,
                limit: self.config.pull_limit,
            }));
        }
        Output::Timeout(self.next_pull_at.unwrap_or(now + self.config.pull_interval))
    }
}
