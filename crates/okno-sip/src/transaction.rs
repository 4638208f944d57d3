//! Client and server transactions (RFC 3261 §17) as sans-IO state machines.
//!
//! # Driving contract
//!
//! A transaction never reads the clock and never touches a socket. Its owner:
//!
//! 1. creates it with `new(now, ...)` (the first transmission is queued),
//! 2. feeds input with `handle_*(now, ...)` and expired deadlines with
//!    [`ClientTransaction::handle_timeout`] / [`ServerTransaction::handle_timeout`],
//! 3. **after every call**, drains `poll_transmit()` and `poll_event()` until both
//!    return `None`, sends the bytes and acts on the events,
//! 4. then asks `poll_timeout()` for the next deadline and calls
//!    `handle_timeout(now)` once `now >= deadline` (calling it early is harmless).
//!
//! When `poll_event()` yields `Terminated`, the owner drops the transaction.
//!
//! Timers follow RFC 3261 table 4. On a reliable transport (TCP, TLS, ...) the
//! retransmission timers A, E and G are not used and D, I, J and K are zero.
//!
//! Deliberate choices:
//! - A `100 Trying` stops request retransmission but is absorbed: it is
//!   hop-by-hop and tells the TU nothing. Other provisionals are passed up.
//! - An INVITE server transaction answers with `100 Trying` as soon as it is
//!   created (§17.2.1 allows skipping it only if the TU answers within 200 ms,
//!   which a human-answered softphone cannot promise).
//! - 2xx to INVITE terminates the client transaction (RFC 3261); the TU sends
//!   the ACK and re-sends it for retransmitted 2xx (§13.2.2.4).
//! - On the server side, 2xx to INVITE moves to the *Accepted* state of
//!   RFC 6026: the transaction retransmits the 2xx (T1 doubling up to T2, on
//!   unreliable transports) until [`ServerTransaction::handle_2xx_ack`], absorbs
//!   INVITE retransmissions, and ends when Timer L (64*T1) fires.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::message::{HeaderName, Method, ParseError, Request, Response};

/// Timer values (RFC 3261 §17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE
    /// responses, default 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, default 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> TimerConfig {
        TimerConfig { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) }
    }
}

impl TimerConfig {
    /// Timers B, F, H and J: 64*T1.
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    #[error("cannot {0} in the current transaction state")]
    InvalidState(&'static str),
    #[error("message does not belong to this transaction")]
    Mismatch,
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Bytes to send to the transaction's peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub bytes: Vec<u8>,
}

/// Identifies a transaction (RFC 3261 §17.1.3 and §17.2.3): the branch of the
/// top Via, its sent-by, and the method, where ACK maps to INVITE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    pub branch: String,
    pub sent_by: String,
    pub method: Method,
}

impl TransactionKey {
    fn normalize(m: &Method) -> Method {
        if *m == Method::Ack { Method::Invite } else { m.clone() }
    }

    /// The key of the server transaction a request belongs to. Fails when the
    /// top Via lacks an RFC 3261 branch (RFC 2543 peers are not supported).
    pub fn for_request(req: &Request) -> Result<TransactionKey, ParseError> {
        let via = req.headers.top_via()?;
        let branch = via.branch().unwrap_or_default();
        if branch.len() <= crate::message::typed::BRANCH_MAGIC.len()
            || !branch.starts_with(crate::message::typed::BRANCH_MAGIC)
        {
            return Err(ParseError::InvalidHeader { name: "Via", reason: "missing RFC 3261 branch" });
        }
        let sent_by = match via.port {
            Some(p) => format!("{}:{p}", via.host),
            None => via.host.to_string(),
        };
        Ok(TransactionKey { branch: branch.to_owned(), sent_by, method: Self::normalize(&req.method) })
    }

    /// The key of the client transaction a response belongs to (branch and CSeq
    /// method; sent-by is ours, so it is not compared).
    pub fn for_response(resp: &Response) -> Result<TransactionKey, ParseError> {
        let via = resp.headers.top_via()?;
        let cseq = resp.headers.cseq()?;
        let branch = via.branch().ok_or(ParseError::InvalidHeader { name: "Via", reason: "missing branch" })?;
        Ok(TransactionKey { branch: branch.to_owned(), sent_by: String::new(), method: Self::normalize(&cseq.method) })
    }

    /// This key with the sent-by cleared, as used to look up client transactions.
    pub fn client_view(&self) -> TransactionKey {
        TransactionKey { sent_by: String::new(), ..self.clone() }
    }
}

/// What a client transaction reports to its TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A 101-199 response.
    Provisional(Response),
    /// The final response (only the first one; retransmissions are absorbed).
    Final(Response),
    /// Timer B or F fired: no final response. Treat as 408 (§8.1.3.1).
    Timeout,
    /// The owner reported a transport failure.
    TransportError,
    /// The transaction is over; drop it.
    Terminated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Calling (INVITE) or Trying (non-INVITE).
    Calling,
    Proceeding,
    Completed,
    Terminated,
}

/// A client transaction, INVITE or non-INVITE.
#[derive(Debug)]
pub struct ClientTransaction {
    request: Request,
    request_bytes: Vec<u8>,
    invite: bool,
    reliable: bool,
    timers: TimerConfig,
    state: ClientState,
    /// Timer A (INVITE) or E (non-INVITE) and its current interval.
    retransmit: Option<(Instant, Duration)>,
    /// Timer B or F.
    timeout: Option<Instant>,
    /// Timer D or K.
    linger: Option<Instant>,
    ack: Option<Vec<u8>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ClientEvent>,
}

impl ClientTransaction {
    /// Starts a transaction for `request` (which carries its own top Via with a
    /// fresh branch) and queues the first transmission.
    pub fn new(now: Instant, request: Request, reliable: bool, timers: TimerConfig) -> ClientTransaction {
        let invite = request.method == Method::Invite;
        let request_bytes = request.to_bytes();
        let mut t = ClientTransaction {
            invite,
            reliable,
            timers,
            state: ClientState::Calling,
            retransmit: (!reliable).then(|| (now + timers.t1, timers.t1)),
            timeout: Some(now + timers.timeout()),
            linger: None,
            ack: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            request,
            request_bytes,
        };
        t.transmits.push_back(Transmit { bytes: t.request_bytes.clone() });
        t
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientState::Terminated
    }

    /// Feeds a response already matched to this transaction (see
    /// [`TransactionKey::for_response`]).
    pub fn handle_response(&mut self, now: Instant, resp: Response) {
        let code = resp.status;
        match (self.state, code) {
            (ClientState::Terminated, _) => {}
            (ClientState::Completed, _) => {
                // Final response retransmitted: INVITE re-sends the ACK (§17.1.1.2).
                if self.invite
                    && code >= 300
                    && let Some(ack) = &self.ack
                {
                    self.transmits.push_back(Transmit { bytes: ack.clone() });
                }
            }
            (ClientState::Calling | ClientState::Proceeding, 100..=199) => {
                if self.state == ClientState::Calling {
                    self.state = ClientState::Proceeding;
                    if self.invite {
                        // INVITE: provisional stops retransmissions and Timer B.
                        self.retransmit = None;
                        self.timeout = None;
                    } else if self.retransmit.is_some() {
                        // Non-INVITE keeps retransmitting at T2 (§17.1.2.2).
                        self.retransmit = Some((now + self.timers.t2, self.timers.t2));
                    }
                }
                if code != 100 {
                    self.events.push_back(ClientEvent::Provisional(resp));
                }
            }
            (ClientState::Calling | ClientState::Proceeding, 200..=299) if self.invite => {
                self.events.push_back(ClientEvent::Final(resp));
                self.terminate();
            }
            (ClientState::Calling | ClientState::Proceeding, _) => {
                self.retransmit = None;
                self.timeout = None;
                if self.invite {
                    let ack = build_ack(&self.request, &resp).to_bytes();
                    self.transmits.push_back(Transmit { bytes: ack.clone() });
                    self.ack = Some(ack);
                }
                self.events.push_back(ClientEvent::Final(resp));
                self.state = ClientState::Completed;
                let linger = match (self.reliable, self.invite) {
                    (true, _) => Duration::ZERO,
                    // Timer D: at least 32 s; Timer K: T4.
                    (false, true) => Duration::from_secs(32).max(self.timers.timeout()),
                    (false, false) => self.timers.t4,
                };
                self.linger = Some(now + linger);
                if linger.is_zero() {
                    self.terminate();
                }
            }
        }
    }

    /// The transport could not deliver the request (§17.1.4).
    pub fn handle_transport_error(&mut self) {
        if self.state != ClientState::Terminated {
            self.events.push_back(ClientEvent::TransportError);
            self.terminate();
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((at, interval)) = self.retransmit
            && now >= at
        {
            self.transmits.push_back(Transmit { bytes: self.request_bytes.clone() });
            let next = if self.invite {
                interval.saturating_mul(2) // Timer A doubles without cap.
            } else if self.state == ClientState::Proceeding {
                self.timers.t2
            } else {
                interval.saturating_mul(2).min(self.timers.t2)
            };
            self.retransmit = Some((at + next, next));
        }
        if let Some(at) = self.timeout
            && now >= at
        {
            self.events.push_back(ClientEvent::Timeout);
            self.terminate();
        }
        if let Some(at) = self.linger
            && now >= at
        {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        if self.state != ClientState::Terminated {
            self.state = ClientState::Terminated;
            self.retransmit = None;
            self.timeout = None;
            self.linger = None;
            self.events.push_back(ClientEvent::Terminated);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The earliest pending deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit.map(|(t, _)| t), self.timeout, self.linger].into_iter().flatten().min()
    }
}

/// Builds the ACK for a non-2xx final response to `invite` (§17.1.1.3): same
/// Request-URI, Call-ID, From, top Via and CSeq number; To from the response;
/// Route copied from the INVITE.
pub fn build_ack(invite: &Request, resp: &Response) -> Request {
    let mut ack = build_ack_like(invite, Method::Ack);
    if let Some(v) = resp.headers.get(&HeaderName::To) {
        ack.headers.push(HeaderName::To, v);
    }
    let seq = invite.headers.cseq().map(|c| c.seq).unwrap_or_default();
    ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    for r in invite.headers.get_all(&HeaderName::Route) {
        ack.headers.push(HeaderName::Route, r);
    }
    ack
}

/// Builds a CANCEL for `invite` (§9.1): same Request-URI, top Via, From, To,
/// Call-ID, CSeq number and Route.
pub fn build_cancel(invite: &Request) -> Request {
    let mut c = build_ack_like(invite, Method::Cancel);
    if let Some(v) = invite.headers.get(&HeaderName::To) {
        c.headers.push(HeaderName::To, v);
    }
    let seq = invite.headers.cseq().map(|c| c.seq).unwrap_or_default();
    c.headers.push(HeaderName::CSeq, format!("{seq} CANCEL"));
    for r in invite.headers.get_all(&HeaderName::Route) {
        c.headers.push(HeaderName::Route, r);
    }
    c
}

fn build_ack_like(invite: &Request, method: Method) -> Request {
    let mut r = Request::new(method, invite.uri.clone());
    if let Some(v) = invite.headers.get(&HeaderName::Via) {
        let top = crate::syntax::split_list(v).next().unwrap_or_default();
        r.headers.push(HeaderName::Via, top);
    }
    r.headers.push(HeaderName::MaxForwards, "70");
    for name in [HeaderName::From, HeaderName::CallId] {
        if let Some(v) = invite.headers.get(&name) {
            r.headers.push(name, v);
        }
    }
    r
}

/// What a server transaction reports to its TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The ACK for a non-2xx final response arrived (INVITE only).
    AckReceived,
    /// Timer H fired (no ACK for our non-2xx final response), or Timer L fired
    /// without an ACK for our 2xx (§13.3.1.4: the UAS should end the dialog).
    Timeout,
    TransportError,
    /// The transaction is over; drop it.
    Terminated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Trying (non-INVITE, before any response).
    Trying,
    Proceeding,
    Completed,
    /// INVITE only: ACK received.
    Confirmed,
    /// INVITE only: 2xx sent (RFC 6026 §7.1).
    Accepted,
    Terminated,
}

/// A server transaction, INVITE or non-INVITE.
#[derive(Debug)]
pub struct ServerTransaction {
    request: Request,
    invite: bool,
    reliable: bool,
    timers: TimerConfig,
    state: ServerState,
    last_response: Option<Vec<u8>>,
    /// Timer G and its interval.
    retransmit: Option<(Instant, Duration)>,
    /// Timer H.
    timeout: Option<Instant>,
    /// Timer I, J or L.
    linger: Option<Instant>,
    /// Accepted state: the ACK for our 2xx arrived.
    acked: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ServerEvent>,
}

impl ServerTransaction {
    /// Creates the transaction for a new request. For INVITE a `100 Trying` is
    /// queued immediately.
    pub fn new(_now: Instant, request: Request, reliable: bool, timers: TimerConfig) -> ServerTransaction {
        let invite = request.method == Method::Invite;
        let mut t = ServerTransaction {
            invite,
            reliable,
            timers,
            state: if invite { ServerState::Proceeding } else { ServerState::Trying },
            last_response: None,
            retransmit: None,
            timeout: None,
            linger: None,
            acked: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            request,
        };
        if invite {
            let trying = Response::for_request(&t.request, 100, None).to_bytes();
            t.transmits.push_back(Transmit { bytes: trying.clone() });
            t.last_response = Some(trying);
        }
        t
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerState::Terminated
    }

    /// Feeds a retransmission of the request, or an ACK (already matched).
    pub fn handle_request(&mut self, now: Instant, req: &Request) {
        let is_ack = req.method == Method::Ack;
        match self.state {
            ServerState::Accepted if is_ack => self.handle_2xx_ack(now),
            ServerState::Proceeding | ServerState::Completed if !is_ack => {
                // Retransmitted request: repeat our last response (§17.2.1, §17.2.2).
                if let Some(b) = &self.last_response {
                    self.transmits.push_back(Transmit { bytes: b.clone() });
                }
            }
            ServerState::Completed if is_ack && self.invite => {
                self.state = ServerState::Confirmed;
                self.retransmit = None;
                self.timeout = None;
                self.events.push_back(ServerEvent::AckReceived);
                // Timer I absorbs further ACK retransmissions.
                let wait = if self.reliable { Duration::ZERO } else { self.timers.t4 };
                self.linger = Some(now + wait);
                if wait.is_zero() {
                    self.terminate();
                }
            }
            // Trying: absorbed; Confirmed: ACK retransmission absorbed.
            _ => {}
        }
    }

    /// Sends a response created by the TU.
    pub fn send_response(&mut self, now: Instant, resp: &Response) -> Result<(), TransactionError> {
        let code = resp.status;
        match self.state {
            ServerState::Trying | ServerState::Proceeding => {}
            // The TU may pass a 2xx again in Accepted (RFC 6026 §8.5).
            ServerState::Accepted if (200..300).contains(&code) => {}
            _ => return Err(TransactionError::InvalidState("send a response")),
        }
        let bytes = resp.to_bytes();
        self.transmits.push_back(Transmit { bytes: bytes.clone() });
        self.last_response = Some(bytes);
        if code < 200 {
            self.state = ServerState::Proceeding;
            return Ok(());
        }
        if self.invite && code < 300 {
            if self.state != ServerState::Accepted {
                self.state = ServerState::Accepted;
                self.acked = false;
                if !self.reliable {
                    self.retransmit = Some((now + self.timers.t1, self.timers.t1));
                }
                // Timer L.
                self.linger = Some(now + self.timers.timeout());
            }
            return Ok(());
        }
        self.state = ServerState::Completed;
        if self.invite {
            if !self.reliable {
                self.retransmit = Some((now + self.timers.t1, self.timers.t1));
            }
            self.timeout = Some(now + self.timers.timeout());
        } else {
            // Timer J absorbs request retransmissions.
            let wait = if self.reliable { Duration::ZERO } else { self.timers.timeout() };
            self.linger = Some(now + wait);
            if wait.is_zero() {
                self.terminate();
            }
        }
        Ok(())
    }

    /// The ACK for our 2xx arrived (matched by the TU or [`crate::ua`] through
    /// Call-ID and CSeq, since it carries a new branch): stop retransmitting.
    pub fn handle_2xx_ack(&mut self, _now: Instant) {
        if self.state == ServerState::Accepted && !self.acked {
            self.acked = true;
            self.retransmit = None;
            self.events.push_back(ServerEvent::AckReceived);
        }
    }

    /// True in the Accepted state before the ACK for the 2xx arrived.
    pub fn awaits_2xx_ack(&self) -> bool {
        self.state == ServerState::Accepted && !self.acked
    }

    pub fn handle_transport_error(&mut self) {
        if self.state != ServerState::Terminated {
            self.events.push_back(ServerEvent::TransportError);
            self.terminate();
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((at, interval)) = self.retransmit
            && now >= at
        {
            if let Some(b) = &self.last_response {
                self.transmits.push_back(Transmit { bytes: b.clone() });
            }
            let next = interval.saturating_mul(2).min(self.timers.t2);
            self.retransmit = Some((at + next, next));
        }
        if let Some(at) = self.timeout
            && now >= at
        {
            self.events.push_back(ServerEvent::Timeout);
            self.terminate();
        }
        if let Some(at) = self.linger
            && now >= at
        {
            if self.state == ServerState::Accepted && !self.acked {
                self.events.push_back(ServerEvent::Timeout);
            }
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        if self.state != ServerState::Terminated {
            self.state = ServerState::Terminated;
            self.retransmit = None;
            self.timeout = None;
            self.linger = None;
            self.events.push_back(ServerEvent::Terminated);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit.map(|(t, _)| t), self.timeout, self.linger].into_iter().flatten().min()
    }
}
