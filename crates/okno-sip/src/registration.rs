//! A REGISTER client (RFC 3261 §10.2) that keeps its binding alive: digest authentication,
//! refresh ahead of expiry, keep-alives toward the registrar while bound, and recovery as soon
//! as the registrar answers again.
//!
//! # Driving contract
//!
//! Drive it next to the [`UserAgent`] it sends through: pass every [`UaEvent`] to
//! [`Registration::handle_event`] (it returns true for the ones that were its own), a keep-alive
//! pong from the registrar's connection to [`Registration::handle_pong`], the loss of that
//! connection to [`Registration::handle_flow_closed`], and its deadline
//! ([`Registration::poll_timeout`]) to [`Registration::handle_timeout`]. After each call, drain
//! [`Registration::poll_event`] and then the user agent's output.
//!
//! # Keep-alives and recovery
//!
//! While bound, and with [`RegistrationConfig::keepalive`] set, it probes the registrar every
//! interval: over UDP with an OPTIONS request (any answer will do: a registrar that answers
//! 404 is there), over TCP and TLS with a CRLF ping that the registrar answers with a CRLF pong
//! (RFC 5626 §4.4.1). A probe unanswered within [`Registration::probe_timeout`] means the path to
//! the registrar is gone: it reports [`RegistrationEvent::Failed`] with no status and registers
//! again at once. Over UDP that REGISTER's own retransmissions (at most [`T2`] apart) are what
//! notices the network's return; over TCP and TLS the driver replaces the dead connection (see
//! `Failed`'s docs) and the REGISTER opens a new one.
//!
//! A REGISTER that got no answer is tried again after a backoff that doubles from one second
//! to [`Registration::MAX_BACKOFF`], scaled per phone by a factor between ½ and 1 taken from
//! its Call-ID, so that a thousand desks cut off by one registrar restart do not come back in
//! the same second. A final error status (a wrong password, a 403) waits
//! [`Registration::RETRY_AFTER`] instead: asking again at once would not change the answer.
//!
//! Invariants: at most one REGISTER is in flight; probes are sent only while bound and with no
//! REGISTER in flight; a lost probe is reported once, then the next attempt owns recovery.
//!
//! [`T2`]: crate::transaction::TimerConfig

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::auth::{Challenge, Credentials, authorize};
use crate::message::{HeaderName, Method, NameAddr, Request, Response};
use crate::transaction::TransactionKey;
use crate::ua::{UaEvent, UserAgent};
use crate::uri::Uri;

/// Registration settings.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// Request-URI of the REGISTER, e.g. `sip:example.com`.
    pub registrar: Uri,
    /// Where the REGISTER is sent.
    pub registrar_addr: SocketAddr,
    /// Address-of-record (To and From).
    pub aor: NameAddr,
    /// Our contact to bind.
    pub contact: NameAddr,
    /// Requested binding lifetime in seconds.
    pub expires: u32,
    pub credentials: Option<Credentials>,
    /// How often the registrar is probed while bound (`None`: never).
    pub keepalive: Option<Duration>,
}

/// What a registration reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationEvent {
    /// Bound for `expires` seconds; a refresh is scheduled.
    Registered { expires: u32 },
    /// The binding was removed (after `unregister`).
    Unregistered,
    /// Registration failed with this final status, or `None`: no answer (a REGISTER timed out,
    /// its connection could not be opened, or a keep-alive went unanswered). Over a connection,
    /// a `None` means the driver should close the connection to the registrar so that the next
    /// REGISTER opens a fresh one. A retry is scheduled (see the module docs).
    Failed { status: Option<u16> },
}

/// A keep-alive sent and not answered yet.
#[derive(Debug)]
struct Probe {
    answer_by: Instant,
    /// The OPTIONS transaction over UDP; `None` for a CRLF ping.
    options: Option<TransactionKey>,
}

/// A REGISTER client with digest authentication, refresh and keep-alives: see the module docs.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    pending: Option<TransactionKey>,
    /// Last challenge and whether it came in a 407 (Proxy-Authenticate).
    challenge: Option<(Challenge, bool)>,
    nc: u32,
    /// The request in flight already carried credentials for this nonce.
    answered_nonce: Option<String>,
    unregistering: bool,
    /// The registrar granted a binding and nothing since says it is gone.
    bound: bool,
    next_at: Option<Instant>,
    next_probe_at: Option<Instant>,
    probe: Option<Probe>,
    /// OPTIONS probes whose transactions may still report; their events are ours to swallow.
    probes_in_flight: HashSet<TransactionKey>,
    /// REGISTERs in a row that got no answer: the backoff's exponent.
    unanswered: u32,
    /// This phone's share of the backoff, in 1/256ths between 128 and 255.
    spread: u32,
    events: VecDeque<RegistrationEvent>,
}

impl Registration {
    /// Retry delay after a final error status.
    pub const RETRY_AFTER: Duration = Duration::from_secs(60);
    /// The longest wait between REGISTERs that get no answer.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
    /// How long a probe may go unanswered (RFC 5626 §4.4.1's ten seconds for a pong), or the
    /// keep-alive interval when that is shorter.
    const PROBE_WAIT: Duration = Duration::from_secs(10);

    pub fn new(config: RegistrationConfig, ua: &mut UserAgent) -> Registration {
        let call_id = format!("{}@{}", ua.new_tag(), ua.config().via_host);
        let spread =
            128 + call_id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193)) % 128;
        Registration {
            expires: config.expires,
            config,
            call_id,
            from_tag: ua.new_tag(),
            cseq: 0,
            pending: None,
            challenge: None,
            nc: 0,
            answered_nonce: None,
            unregistering: false,
            bound: false,
            next_at: None,
            next_probe_at: None,
            probe: None,
            probes_in_flight: HashSet::new(),
            unanswered: 0,
            spread,
            events: VecDeque::new(),
        }
    }

    /// Where the REGISTERs and probes go.
    pub fn registrar_addr(&self) -> SocketAddr {
        self.config.registrar_addr
    }

    /// How long a probe may go unanswered before the registrar counts as unreachable.
    pub fn probe_timeout(&self) -> Option<Duration> {
        self.config.keepalive.map(|every| every.min(Self::PROBE_WAIT))
    }

    /// Sends a REGISTER now (initial registration or manual refresh).
    pub fn register(&mut self, now: Instant, ua: &mut UserAgent) {
        self.unregistering = false;
        self.send(now, ua);
    }

    /// Removes the binding (Expires: 0).
    pub fn unregister(&mut self, now: Instant, ua: &mut UserAgent) {
        self.unregistering = true;
        self.stop_probing();
        self.send(now, ua);
    }

    fn send(&mut self, now: Instant, ua: &mut UserAgent) {
        self.cseq += 1;
        self.next_at = None;
        self.stop_probing();
        let mut req = Request::new(Method::Register, self.config.registrar.clone());
        req.headers.push(HeaderName::From, self.config.aor.clone().with_tag(&self.from_tag).to_string());
        req.headers.push(HeaderName::To, self.config.aor.to_string());
        req.headers.push(HeaderName::CallId, self.call_id.clone());
        req.headers.push(HeaderName::CSeq, format!("{} REGISTER", self.cseq));
        req.headers.push(HeaderName::Contact, self.config.contact.to_string());
        let expires = if self.unregistering { 0 } else { self.expires };
        req.headers.push(HeaderName::Expires, expires.to_string());
        self.answered_nonce = None;
        if let (Some((ch, proxy)), Some(creds)) = (&self.challenge, &self.config.credentials) {
            self.nc += 1;
            let cnonce = ua.new_tag();
            let uri = self.config.registrar.to_string();
            if let Ok(a) = authorize(ch, creds, "REGISTER", &uri, b"", &cnonce, self.nc) {
                let name = if *proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
                req.headers.push(name, a.to_string());
                self.answered_nonce = Some(ch.nonce.clone());
            }
        }
        self.pending = Some(ua.send_request(now, self.config.registrar_addr, req));
    }

    fn stop_probing(&mut self) {
        self.next_probe_at = None;
        self.probe = None;
    }

    /// Offers a user-agent event; returns true when it belonged to this
    /// registration (the caller then ignores it).
    pub fn handle_event(&mut self, now: Instant, ua: &mut UserAgent, ev: &UaEvent) -> bool {
        match ev {
            UaEvent::Response { key, response } if Some(key) == self.pending.as_ref() => {
                if response.status >= 200 {
                    self.pending = None;
                    self.handle_final(now, ua, response);
                }
                true
            }
            UaEvent::ClientTimeout { key } if Some(key) == self.pending.as_ref() => {
                self.pending = None;
                self.fail(now, None);
                true
            }
            UaEvent::Response { key, response } if self.probes_in_flight.contains(key) => {
                if response.status >= 200 {
                    self.probes_in_flight.remove(key);
                }
                if self.probe.as_ref().is_some_and(|p| p.options.as_ref() == Some(key)) {
                    self.probe_answered(now);
                }
                true
            }
            UaEvent::ClientTimeout { key } if self.probes_in_flight.remove(key) => true,
            _ => false,
        }
    }

    /// The registrar answered a CRLF ping on its connection.
    pub fn handle_pong(&mut self, now: Instant) {
        if self.probe.as_ref().is_some_and(|p| p.options.is_none()) {
            self.probe_answered(now);
        }
    }

    /// The connection to `peer` is gone. When it was the registrar's and we were bound, nothing
    /// can reach us any more (over TLS the registrar sends our calls on that connection): register
    /// again at once, on a new connection.
    pub fn handle_flow_closed(&mut self, now: Instant, ua: &mut UserAgent, peer: SocketAddr) {
        if peer == self.config.registrar_addr && self.bound && self.pending.is_none() && !self.unregistering {
            self.bound = false;
            self.send(now, ua);
        }
    }

    fn probe_answered(&mut self, now: Instant) {
        self.probe = None;
        self.next_probe_at = self.config.keepalive.map(|every| now + every);
    }

    fn fail(&mut self, now: Instant, status: Option<u16>) {
        self.bound = false;
        self.stop_probing();
        self.events.push_back(RegistrationEvent::Failed { status });
        let wait = match status {
            Some(_) => Self::RETRY_AFTER,
            None => {
                self.unanswered = self.unanswered.saturating_add(1);
                self.backoff()
            }
        };
        self.next_at = Some(now + wait);
    }

    /// The wait before the next REGISTER after `unanswered` that got no answer.
    fn backoff(&self) -> Duration {
        let doubled = Duration::from_secs(1).saturating_mul(1 << self.unanswered.saturating_sub(1).min(16));
        doubled.min(Self::MAX_BACKOFF) * self.spread / 256
    }

    fn handle_final(&mut self, now: Instant, ua: &mut UserAgent, resp: &Response) {
        self.unanswered = 0;
        match resp.status {
            200..=299 => {
                if self.unregistering {
                    self.bound = false;
                    self.events.push_back(RegistrationEvent::Unregistered);
                    return;
                }
                let granted = self.granted_expires(resp).unwrap_or(self.expires);
                if granted == 0 {
                    // The registrar dropped the binding; refreshing at once would loop.
                    self.bound = false;
                    self.events.push_back(RegistrationEvent::Unregistered);
                    return;
                }
                self.bound = true;
                self.events.push_back(RegistrationEvent::Registered { expires: granted });
                // Refresh ahead of expiry: halfway for short bindings, a minute
                // early for long ones.
                let lead = (granted / 2).min(60);
                self.next_at = Some(now + Duration::from_secs(u64::from(granted - lead)));
                self.next_probe_at = self.config.keepalive.map(|every| now + every);
            }
            401 | 407 => {
                let proxy = resp.status == 407;
                let mut values = if proxy {
                    resp.headers.proxy_authenticate().collect::<Vec<_>>()
                } else {
                    resp.headers.www_authenticate().collect()
                };
                let ch = values.drain(..).find_map(|v| Challenge::parse(v).ok());
                match (ch, &self.config.credentials) {
                    (Some(ch), Some(_)) => {
                        // Same nonce rejected again without `stale`: wrong password.
                        if self.answered_nonce.as_deref() == Some(ch.nonce.as_str()) && !ch.stale {
                            self.fail(now, Some(resp.status));
                            return;
                        }
                        self.nc = 0;
                        self.challenge = Some((ch, proxy));
                        self.send(now, ua);
                    }
                    _ => self.fail(now, Some(resp.status)),
                }
            }
            423 => match resp.headers.min_expires() {
                Ok(Some(min)) if min > self.expires => {
                    self.expires = min;
                    self.send(now, ua);
                }
                _ => self.fail(now, Some(423)),
            },
            s => self.fail(now, Some(s)),
        }
    }

    fn granted_expires(&self, resp: &Response) -> Option<u32> {
        let ours = self.config.contact.uri.to_string();
        let contacts = resp.headers.contacts().ok()?;
        let from_contact = contacts
            .iter()
            .filter_map(|c| c.addr())
            .find(|a| a.uri.to_string() == ours)
            .and_then(|a| a.param("expires")?.value.as_deref()?.parse().ok());
        from_contact.or_else(|| resp.headers.expires().ok().flatten())
    }

    /// Refreshes, retries, probes, and notices an unanswered probe.
    pub fn handle_timeout(&mut self, now: Instant, ua: &mut UserAgent) {
        if self.pending.is_some() {
            return;
        }
        if self.probe.as_ref().is_some_and(|p| p.answer_by <= now) {
            tracing::info!(registrar = %self.config.registrar_addr, "the registrar stopped answering keep-alives");
            self.bound = false;
            self.stop_probing();
            self.events.push_back(RegistrationEvent::Failed { status: None });
            // Sent at the next timeout rather than now, so the driver closes a dead connection
            // (on seeing the event) before this REGISTER is queued on it.
            self.next_at = Some(now);
            return;
        }
        if self.next_at.is_some_and(|t| t <= now) {
            self.send(now, ua);
            return;
        }
        if self.next_probe_at.is_some_and(|t| t <= now) && self.bound {
            self.send_probe(now, ua);
        }
    }

    fn send_probe(&mut self, now: Instant, ua: &mut UserAgent) {
        let Some(wait) = self.probe_timeout() else { return };
        self.next_probe_at = None;
        let options = if ua.config().transport.is_reliable() {
            ua.send_keepalive_ping(self.config.registrar_addr);
            None
        } else {
            let mut req = Request::new(Method::Options, self.config.registrar.clone());
            req.headers.push(HeaderName::From, self.config.aor.clone().with_tag(&ua.new_tag()).to_string());
            req.headers.push(HeaderName::To, NameAddr::new(self.config.registrar.clone()).to_string());
            req.headers.push(HeaderName::CallId, format!("{}@{}", ua.new_tag(), ua.config().via_host));
            req.headers.push(HeaderName::CSeq, "1 OPTIONS");
            let key = ua.send_request(now, self.config.registrar_addr, req);
            self.probes_in_flight.insert(key.clone());
            Some(key)
        };
        self.probe = Some(Probe { answer_by: now + wait, options });
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.pending.is_some() {
            return None;
        }
        [self.next_at, self.next_probe_at, self.probe.as_ref().map(|p| p.answer_by)].into_iter().flatten().min()
    }

    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }
}
