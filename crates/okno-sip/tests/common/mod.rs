//! User agents stepped in virtual time through okno-testkit's emulated network (per-datagram
//! loss, duplication and delay jitter, seeded, so every run of a seed is identical).

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Instant;

use okno_sip::message::ParserConfig;
use okno_sip::message::typed::Transport;
use okno_sip::transaction::TimerConfig;
use okno_sip::ua::{Output, UaConfig, UaEvent, UserAgent};
use okno_sip::uri::Host;
pub use okno_testkit::net::Link;
use okno_testkit::net::Network;

pub struct Sim {
    pub t0: Instant,
    pub now: Instant,
    pub agents: Vec<(SocketAddr, UserAgent)>,
    net: Network,
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
        let mut net = Network::new(t0, link, seed);
        for ((addr, _), name) in agents.iter().zip(["A", "B", "C", "D"]) {
            net.name(*addr, name);
        }
        Sim { t0, now: t0, agents, net }
    }

    /// Ladder lines, one per datagram delivered: "+ms from->to first-line".
    pub fn into_trace(self) -> Vec<String> {
        self.net.trace
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
                        if self.index_of(to).is_some() {
                            self.net.send(self.agents[i].0, to, bytes);
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
        let next_timer = self.agents.iter().filter_map(|(_, a)| a.poll_timeout()).min();
        let Some(next) = [self.net.next_arrival(), next_timer].into_iter().flatten().min() else { return false };
        let arrived = self.net.advance(next);
        self.now = self.net.now();
        for d in arrived {
            let Some(j) = self.index_of(d.to) else { continue };
            self.agents[j].1.handle_datagram(self.now, d.from, &d.bytes);
        }
        for (_, a) in &mut self.agents {
            if a.poll_timeout().is_some_and(|t| t <= self.now) {
                a.handle_timeout(self.now);
            }
        }
        true
    }
}
