//! A deterministic network emulator for stepping user agents in virtual time:
//! per-datagram loss, duplication and delay jitter (which reorders), driven by a
//! seeded xorshift generator so every run of a seed is identical.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use okno_sip::message::ParserConfig;
use okno_sip::message::typed::Transport;
use okno_sip::transaction::TimerConfig;
use okno_sip::ua::{Output, UaConfig, UaEvent, UserAgent};
use okno_sip::uri::Host;

#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Per mille of datagrams dropped.
    pub loss: u64,
    /// Per mille of datagrams delivered twice.
    pub dup: u64,
    pub delay: Duration,
    /// Extra random delay, up to this much; enough jitter reorders datagrams.
    pub jitter: Duration,
}

impl Link {
    pub const PERFECT: Link = Link { loss: 0, dup: 0, delay: Duration::from_millis(10), jitter: Duration::ZERO };
}

struct InFlight {
    at: Instant,
    seq: u64,
    from: usize,
    to: usize,
    bytes: Vec<u8>,
}

pub struct Sim {
    pub t0: Instant,
    pub now: Instant,
    pub agents: Vec<(SocketAddr, UserAgent)>,
    link: Link,
    rng: u64,
    seq: u64,
    flight: Vec<InFlight>,
    /// Ladder lines: "+ms from->to first-line".
    pub trace: Vec<String>,
    pub delivered: usize,
    pub dropped: usize,
}

pub fn agent(prefix: &str, ip: &str) -> UserAgent {
    UserAgent::new(UaConfig {
        via_host: Host::parse(ip).unwrap(),
        via_port: Some(5060),
        transport: Transport::Udp,
        timers: TimerConfig::default(),
        parser: ParserConfig::default(),
        id_prefix: prefix.into(),
        user_agent: None,
    })
}

impl Sim {
    pub fn new(t0: Instant, link: Link, seed: u64, agents: Vec<(SocketAddr, UserAgent)>) -> Sim {
        Sim {
            t0,
            now: t0,
            agents,
            link,
            rng: seed.max(1),
            seq: 0,
            flight: Vec::new(),
            trace: Vec::new(),
            delivered: 0,
            dropped: 0,
        }
    }

    fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn index_of(&self, addr: SocketAddr) -> Option<usize> {
        self.agents.iter().position(|(a, _)| *a == addr)
    }

    /// Drains every agent: schedules transmissions, returns events.
    pub fn drain(&mut self) -> Vec<(usize, UaEvent)> {
        let mut events = Vec::new();
        for i in 0..self.agents.len() {
            while let Some(o) = self.agents[i].1.poll_output() {
                match o {
                    Output::Event(e) => events.push((i, e)),
                    Output::Transmit { to, bytes } => {
                        let Some(j) = self.index_of(to) else { continue };
                        let copies = if self.rand() % 1000 < self.link.dup { 2 } else { 1 };
                        for _ in 0..copies {
                            if self.rand() % 1000 < self.link.loss {
                                self.dropped += 1;
                                continue;
                            }
                            let jitter_ms = self.link.jitter.as_millis() as u64;
                            let extra = if jitter_ms == 0 { 0 } else { self.rand() % (jitter_ms + 1) };
                            self.seq += 1;
                            self.flight.push(InFlight {
                                at: self.now + self.link.delay + Duration::from_millis(extra),
                                seq: self.seq,
                                from: i,
                                to: j,
                                bytes: bytes.clone(),
                            });
                        }
                    }
                }
            }
        }
        events
    }

    /// Advances to the next datagram arrival or timer. Returns false when
    /// nothing is pending.
    pub fn step(&mut self) -> bool {
        let next_flight = self.flight.iter().map(|f| f.at).min();
        let next_timer = self.agents.iter().filter_map(|(_, a)| a.poll_timeout()).min();
        let Some(next) = [next_flight, next_timer].into_iter().flatten().min() else { return false };
        self.now = self.now.max(next);
        let mut due: Vec<InFlight> = Vec::new();
        let mut i = 0;
        while i < self.flight.len() {
            if self.flight[i].at <= self.now {
                due.push(self.flight.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|f| (f.at, f.seq));
        for f in due {
            let first_line = String::from_utf8_lossy(&f.bytes).lines().next().unwrap_or_default().to_owned();
            let names = ["A", "B", "C", "D"];
            self.trace.push(format!(
                "{:>6}ms {}->{} {}",
                (self.now - self.t0).as_millis(),
                names[f.from],
                names[f.to],
                first_line
            ));
            let from_addr = self.agents[f.from].0;
            self.agents[f.to].1.handle_datagram(self.now, from_addr, &f.bytes);
            self.delivered += 1;
        }
        for (_, a) in &mut self.agents {
            if a.poll_timeout().is_some_and(|t| t <= self.now) {
                a.handle_timeout(self.now);
            }
        }
        true
    }
}
