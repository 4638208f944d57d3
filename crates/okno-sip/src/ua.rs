//! A sans-IO SIP endpoint: owns the transactions of one user agent, matches
//! incoming messages to them (RFC 3261 §17.1.3, §17.2.3), answers malformed
//! requests, handles CANCEL, and hands everything else to the application as
//! [`UaEvent`]s. [`Registration`] (in `crate::registration`, re-exported here) keeps a REGISTER
//! binding alive on top of it.
//!
//! # Driving contract
//!
//! The driver owns the socket and the clock. After **every** call to
//! `handle_datagram`, `send_*`, `cancel` or `handle_timeout`, it drains
//! [`UserAgent::poll_output`] until `None` (sending each `Transmit`, acting on
//! each `Event`), then arms a timer for [`UserAgent::poll_timeout`] and calls
//! `handle_timeout(now)` when it expires.
//!
//! Branches, tags and client nonces are `id_prefix` plus a counter: the driver
//! supplies an unguessable prefix (this crate has no randomness).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use crate::message::typed::{Transport, Via};
use crate::message::{
    HeaderName, Message, Method, ParseError, Parser, ParserConfig, Request, Response, default_reason,
};
use crate::transaction::{
    ClientEvent, ClientTransaction, ServerEvent, ServerState, ServerTransaction, TimerConfig, TransactionError,
    TransactionKey, build_cancel,
};
use crate::uri::Host;

pub use crate::registration::{Registration, RegistrationConfig, RegistrationEvent};

/// Static configuration of a user agent.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// Address written in our Via headers.
    pub via_host: Host,
    pub via_port: Option<u16>,
    pub transport: Transport,
    pub timers: TimerConfig,
    pub parser: ParserConfig,
    /// Unique per process; branches and tags are this prefix plus a counter.
    pub id_prefix: String,
    pub user_agent: Option<String>,
}

/// What the user agent reports to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UaEvent {
    /// A new request; answer it with [`UserAgent::send_response`] and `key`.
    Request { key: TransactionKey, from: SocketAddr, request: Request },
    /// An ACK matching no transaction: the ACK for a 2xx (§13.3.1.4).
    Ack { from: SocketAddr, request: Request },
    /// A response to a request we sent.
    Response { key: TransactionKey, response: Response },
    /// No final response arrived (Timer B/F): treat as 408.
    ClientTimeout { key: TransactionKey },
    /// Timer H fired: our non-2xx final response was never acknowledged.
    ServerTimeout { key: TransactionKey },
    /// A CANCEL for a pending INVITE was accepted (200 already sent); the
    /// application must answer the INVITE with 487.
    Cancelled { invite: TransactionKey },
    /// A response that matched no transaction, e.g. a retransmitted 2xx to an
    /// INVITE whose ACK must be sent again.
    StrayResponse { from: SocketAddr, response: Response },
    /// A message that failed to parse or validate. `responded` says whether a
    /// 400 (or 505) was sent back.
    Malformed { from: SocketAddr, error: ParseError, responded: bool },
}

/// One thing for the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "events are moved once from queue to caller; boxing would add an allocation per message"
)]
pub enum Output {
    Transmit { to: SocketAddr, bytes: Vec<u8> },
    Event(UaEvent),
}

/// The endpoint.
#[derive(Debug)]
pub struct UserAgent {
    config: UaConfig,
    parser: Parser,
    counter: u64,
    clients: HashMap<TransactionKey, (ClientTransaction, SocketAddr)>,
    servers: HashMap<TransactionKey, (ServerTransaction, SocketAddr)>,
    outputs: VecDeque<Output>,
}

impl UserAgent {
    pub fn new(config: UaConfig) -> UserAgent {
        UserAgent {
            parser: Parser::new(config.parser),
            config,
            counter: 0,
            clients: HashMap::new(),
            servers: HashMap::new(),
            outputs: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &UaConfig {
        &self.config
    }

    /// A fresh token for tags, Call-IDs and client nonces.
    pub fn new_tag(&mut self) -> String {
        self.counter += 1;
        format!("{}{:x}", self.config.id_prefix, self.counter)
    }

    /// A fresh RFC 3261 branch.
    pub fn new_branch(&mut self) -> String {
        format!("z9hG4bK{}", self.new_tag())
    }

    /// A Via for a new request from this agent.
    pub fn new_via(&mut self) -> Via {
        let mut v = Via::new(
            self.config.transport.clone(),
            self.config.via_host.clone(),
            self.config.via_port,
            &self.new_branch(),
        );
        v.set_param("rport", None);
        // A TLS client has no port a proxy could open a connection to: ask it to send requests
        // for us back on the connection this one came on (RFC 5923).
        if self.config.transport == Transport::Tls {
            v.set_param("alias", None);
        }
        v
    }

    fn reliable(&self) -> bool {
        self.config.transport.is_reliable()
    }

    /// Feeds one received datagram (or one framed stream message as bytes).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let msg = match self.parser.parse_datagram(bytes) {
            Ok(m) => m,
            Err(error) => {
                let resp = error_response(bytes, &error);
                let responded = resp.is_some();
                if let Some(b) = resp {
                    self.outputs.push_back(Output::Transmit { to: from, bytes: b });
                }
                tracing::debug!(%error, responded, "malformed SIP message");
                self.outputs.push_back(Output::Event(UaEvent::Malformed { from, error, responded }));
                return;
            }
        };
        self.handle_message(now, from, msg);
    }

    /// Feeds one message already parsed, e.g. by the stream framer of a TCP connection, so it
    /// is not parsed twice.
    pub fn handle_message(&mut self, now: Instant, from: SocketAddr, msg: Message) {
        match msg {
            Message::Request(req) => self.handle_request(now, from, req),
            Message::Response(resp) => self.handle_response(now, from, resp),
        }
    }

    fn reject(&mut self, from: SocketAddr, req: &Request, error: ParseError) {
        let mut r = Response::for_request(req, error.status_code(), None);
        r.reason = format!("{} ({})", default_reason(r.status), sanitize(&error.to_string()));
        self.outputs.push_back(Output::Transmit { to: from, bytes: r.to_bytes() });
        self.outputs.push_back(Output::Event(UaEvent::Malformed { from, error, responded: true }));
    }

    fn handle_request(&mut self, now: Instant, from: SocketAddr, req: Request) {
        if let Err(e) = req.validate() {
            if req.method != Method::Ack {
                self.reject(from, &req, e);
            }
            return;
        }
        let key = match TransactionKey::for_request(&req) {
            Ok(k) => k,
            Err(e) => {
                if req.method != Method::Ack {
                    self.reject(from, &req, e);
                }
                return;
            }
        };
        if let Some((tx, _)) = self.servers.get_mut(&key) {
            tx.handle_request(now, &req);
            self.drain_server(&key);
            return;
        }
        match req.method {
            Method::Ack => {
                self.match_2xx_ack(now, &req);
                self.outputs.push_back(Output::Event(UaEvent::Ack { from, request: req }));
            }
            Method::Cancel => {
                let invite = TransactionKey { method: Method::Invite, ..key.clone() };
                let pending = self.servers.get(&invite).is_some_and(|(t, _)| t.state() == ServerState::Proceeding);
                let status = if pending { 200 } else { 481 };
                let mut tx = ServerTransaction::new(now, req.clone(), self.reliable(), self.config.timers);
                let to_tag = if pending { None } else { Some(self.new_tag()) };
                // A fresh server transaction always accepts its first response.
                let _ = tx.send_response(now, &Response::for_request(&req, status, to_tag.as_deref()));
                self.servers.insert(key.clone(), (tx, from));
                self.drain_server(&key);
                if pending {
                    self.outputs.push_back(Output::Event(UaEvent::Cancelled { invite }));
                }
            }
            _ => {
                let tx = ServerTransaction::new(now, req.clone(), self.reliable(), self.config.timers);
                self.servers.insert(key.clone(), (tx, from));
                self.drain_server(&key);
                self.outputs.push_back(Output::Event(UaEvent::Request { key, from, request: req }));
            }
        }
    }

    /// The ACK for a 2xx has its own branch (§17.1.1.3), so it is matched to
    /// the INVITE server transaction in Accepted state by Call-ID, From tag and
    /// CSeq number; that stops the 2xx retransmissions.
    fn match_2xx_ack(&mut self, now: Instant, ack: &Request) {
        let (Ok(cid), Ok(cseq), Ok(from)) = (ack.headers.call_id(), ack.headers.cseq(), ack.headers.from()) else {
            return;
        };
        let found = self.servers.iter().find_map(|(k, (t, _))| {
            let r = t.request();
            let same = t.awaits_2xx_ack()
                && r.headers.call_id().is_ok_and(|c| c == cid)
                && r.headers.cseq().is_ok_and(|c| c.seq == cseq.seq)
                && r.headers.from().is_ok_and(|f| f.tag() == from.tag());
            same.then(|| k.clone())
        });
        if let Some(k) = found {
            if let Some((t, _)) = self.servers.get_mut(&k) {
                t.handle_2xx_ack(now);
            }
            self.drain_server(&k);
        }
    }

    fn handle_response(&mut self, now: Instant, from: SocketAddr, resp: Response) {
        let key = TransactionKey::for_response(&resp).map(|k| k.client_view());
        match key {
            Ok(key) if self.clients.contains_key(&key) => {
                if let Some((tx, _)) = self.clients.get_mut(&key) {
                    tx.handle_response(now, resp);
                }
                self.drain_client(&key);
            }
            _ => self.outputs.push_back(Output::Event(UaEvent::StrayResponse { from, response: resp })),
        }
    }

    /// Sends a request in a new client transaction. A Via with a fresh branch
    /// is added on top; Max-Forwards and User-Agent are added when missing.
    pub fn send_request(&mut self, now: Instant, to: SocketAddr, mut req: Request) -> TransactionKey {
        let via = self.new_via();
        let branch = via.branch().unwrap_or_default().to_owned();
        req.headers.push_front(HeaderName::Via, via.to_string());
        self.start_client(now, to, req, branch)
    }

    fn start_client(&mut self, now: Instant, to: SocketAddr, mut req: Request, branch: String) -> TransactionKey {
        if req.headers.get(&HeaderName::MaxForwards).is_none() {
            req.headers.push(HeaderName::MaxForwards, "70");
        }
        if let Some(ua) = &self.config.user_agent
            && req.headers.get(&HeaderName::UserAgent).is_none()
        {
            req.headers.push(HeaderName::UserAgent, ua.clone());
        }
        let key = TransactionKey { branch, sent_by: String::new(), method: req.method.clone() };
        let tx = ClientTransaction::new(now, req, self.reliable(), self.config.timers);
        self.clients.insert(key.clone(), (tx, to));
        self.drain_client(&key);
        key
    }

    /// Sends a request whose top Via the caller built (e.g. from a
    /// [`crate::dialog::Dialog`]) in a new client transaction.
    pub fn send_request_with_via(
        &mut self,
        now: Instant,
        to: SocketAddr,
        req: Request,
    ) -> Result<TransactionKey, ParseError> {
        let branch = req.headers.top_via()?.branch().unwrap_or_default().to_owned();
        Ok(self.start_client(now, to, req, branch))
    }

    /// Cancels a pending INVITE client transaction (§9.1). Returns the key of
    /// the CANCEL transaction, or `None` if the INVITE is gone.
    pub fn cancel(&mut self, now: Instant, invite: &TransactionKey) -> Option<TransactionKey> {
        let (tx, to) = self.clients.get(invite)?;
        let cancel = build_cancel(tx.request());
        let to = *to;
        Some(self.start_client(now, to, cancel, invite.branch.clone()))
    }

    /// Sends a keep-alive ping (a double CRLF, RFC 5626 §4.4.1) on the connection to `to`; the
    /// peer answers with a single CRLF, which the driver's stream framer reports.
    pub fn send_keepalive_ping(&mut self, to: SocketAddr) {
        self.outputs.push_back(Output::Transmit { to, bytes: crate::message::KEEPALIVE_PING.to_vec() });
    }

    /// Sends bytes outside any transaction: the ACK for a 2xx, or a 2xx
    /// retransmission driven by the dialog layer.
    pub fn send_stateless(&mut self, to: SocketAddr, msg: &Message) {
        self.outputs.push_back(Output::Transmit { to, bytes: msg.to_bytes() });
    }

    /// Answers the request of server transaction `key`.
    pub fn send_response(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        resp: &Response,
    ) -> Result<(), TransactionError> {
        let (tx, _) = self.servers.get_mut(key).ok_or(TransactionError::Mismatch)?;
        tx.send_response(now, resp)?;
        self.drain_server(key);
        Ok(())
    }

    /// The connection to `peer` could not be opened or broke (RFC 3261 §18.4): every
    /// transaction with it ends now as if timed out, instead of after its timers.
    pub fn handle_transport_error(&mut self, peer: SocketAddr) {
        let clients: Vec<TransactionKey> =
            self.clients.iter().filter(|(_, (_, to))| *to == peer).map(|(k, _)| k.clone()).collect();
        for key in clients {
            if let Some((t, _)) = self.clients.get_mut(&key) {
                t.handle_transport_error();
            }
            self.drain_client(&key);
        }
        let servers: Vec<TransactionKey> =
            self.servers.iter().filter(|(_, (_, from))| *from == peer).map(|(k, _)| k.clone()).collect();
        for key in servers {
            if let Some((t, _)) = self.servers.get_mut(&key) {
                t.handle_transport_error();
            }
            self.drain_server(&key);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let ck: Vec<TransactionKey> =
            self.clients.iter().filter(|(_, (t, _))| due(t.poll_timeout())).map(|(k, _)| k.clone()).collect();
        for k in ck {
            if let Some((t, _)) = self.clients.get_mut(&k) {
                t.handle_timeout(now);
            }
            self.drain_client(&k);
        }
        let sk: Vec<TransactionKey> =
            self.servers.iter().filter(|(_, (t, _))| due(t.poll_timeout())).map(|(k, _)| k.clone()).collect();
        for k in sk {
            if let Some((t, _)) = self.servers.get_mut(&k) {
                t.handle_timeout(now);
            }
            self.drain_server(&k);
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.clients.values().filter_map(|(t, _)| t.poll_timeout());
        let s = self.servers.values().filter_map(|(t, _)| t.poll_timeout());
        c.chain(s).min()
    }

    /// Number of live transactions (client, server).
    pub fn transaction_count(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    fn drain_client(&mut self, key: &TransactionKey) {
        let Some((tx, to)) = self.clients.get_mut(key) else { return };
        let to = *to;
        while let Some(t) = tx.poll_transmit() {
            self.outputs.push_back(Output::Transmit { to, bytes: t.bytes });
        }
        let mut done = false;
        while let Some(e) = tx.poll_event() {
            let ev = match e {
                ClientEvent::Provisional(r) | ClientEvent::Final(r) => {
                    UaEvent::Response { key: key.clone(), response: r }
                }
                ClientEvent::Timeout | ClientEvent::TransportError => UaEvent::ClientTimeout { key: key.clone() },
                ClientEvent::Terminated => {
                    done = true;
                    continue;
                }
            };
            self.outputs.push_back(Output::Event(ev));
        }
        if done {
            self.clients.remove(key);
        }
    }

    fn drain_server(&mut self, key: &TransactionKey) {
        let Some((tx, to)) = self.servers.get_mut(key) else { return };
        let to = *to;
        while let Some(t) = tx.poll_transmit() {
            self.outputs.push_back(Output::Transmit { to, bytes: t.bytes });
        }
        let mut done = false;
        while let Some(e) = tx.poll_event() {
            match e {
                ServerEvent::Timeout | ServerEvent::TransportError => {
                    self.outputs.push_back(Output::Event(UaEvent::ServerTimeout { key: key.clone() }));
                }
                ServerEvent::AckReceived => {}
                ServerEvent::Terminated => done = true,
            }
        }
        if done {
            self.servers.remove(key);
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Builds a 400 (or 505) for a request that failed to parse, copying whatever
/// Via, From, To, Call-ID and CSeq lines can be found (§8.2, §16.3). Returns
/// `None` for responses, for input without a Via, or for non-SIP noise.
pub fn error_response(bytes: &[u8], error: &ParseError) -> Option<Vec<u8>> {
    let head_len = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..head_len]);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let start = lines.next()?.trim_start();
    if start.starts_with("SIP/") || !start.contains(" SIP/") {
        return None;
    }
    let mut kept: Vec<(HeaderName, String)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some(i) = current {
                kept[i].1.push(' ');
                kept[i].1.push_str(line.trim());
            }
            continue;
        }
        current = None;
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim();
        if !crate::syntax::is_token(name) {
            continue;
        }
        let hn = HeaderName::from_name(name);
        if matches!(hn, HeaderName::Via | HeaderName::From | HeaderName::To | HeaderName::CallId | HeaderName::CSeq) {
            kept.push((hn, value.trim().to_owned()));
            current = Some(kept.len() - 1);
        }
    }
    if !kept.iter().any(|(n, _)| *n == HeaderName::Via) {
        return None;
    }
    let mut resp = Response::new(error.status_code());
    resp.reason = format!("{} ({})", default_reason(resp.status), sanitize(&error.to_string()));
    for (n, v) in kept {
        resp.headers.push(n, v);
    }
    Some(resp.to_bytes())
}
