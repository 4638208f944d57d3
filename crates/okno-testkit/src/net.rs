//! A deterministic datagram network for stepping sans-IO peers in virtual time: per-datagram
//! loss, duplication and delay jitter (enough jitter reorders), decided by a seeded
//! [`okno_core::rng::Rng`] so every run of a seed is the same. The peers own their clocks'
//! input: a test asks [`Network::next_arrival`] and its peers' timers what happens next, moves
//! time there with [`Network::advance`], and hands each returned datagram to its peer.
//!
//! okno-sip's ladder and loss tests and okno-phone's call-control tests run through it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use okno_core::rng::Rng;

/// How a link treats each datagram.
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

/// A datagram as it arrives.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

struct InFlight {
    at: Instant,
    seq: u64,
    datagram: Datagram,
}

pub struct Network {
    t0: Instant,
    now: Instant,
    link: Link,
    rng: Rng,
    seq: u64,
    flight: Vec<InFlight>,
    names: Vec<(SocketAddr, String)>,
    /// Ladder lines as datagrams arrive: `+ms FROM->TO first-line`.
    pub trace: Vec<String>,
    pub delivered: usize,
    pub dropped: usize,
}

impl Network {
    pub fn new(t0: Instant, link: Link, seed: u64) -> Network {
        Network {
            t0,
            now: t0,
            link,
            rng: Rng::new(seed),
            seq: 0,
            flight: Vec::new(),
            names: Vec::new(),
            trace: Vec::new(),
            delivered: 0,
            dropped: 0,
        }
    }

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// What the trace calls `addr` (its address otherwise).
    pub fn name(&mut self, addr: SocketAddr, name: &str) {
        self.names.push((addr, name.to_owned()));
    }

    /// From now on datagrams cross this link (those in flight keep their arrival time).
    pub fn set_link(&mut self, link: Link) {
        self.link = link;
    }

    /// Sends a datagram now: it may be lost, doubled and delayed as the link says.
    pub fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        let copies = if self.rng.below(1000) < self.link.dup { 2 } else { 1 };
        for _ in 0..copies {
            if self.rng.below(1000) < self.link.loss {
                self.dropped += 1;
                continue;
            }
            let jitter_ms = self.link.jitter.as_millis() as u64;
            let extra = if jitter_ms == 0 { 0 } else { self.rng.below(jitter_ms + 1) };
            self.seq += 1;
            self.flight.push(InFlight {
                at: self.now + self.link.delay + Duration::from_millis(extra),
                seq: self.seq,
                datagram: Datagram { from, to, bytes: bytes.clone() },
            });
        }
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.flight.iter().map(|f| f.at).min()
    }

    /// Moves time to `to` (never back) and returns the datagrams that arrived by then, in
    /// arrival order.
    pub fn advance(&mut self, to: Instant) -> Vec<Datagram> {
        self.now = self.now.max(to);
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.flight.len() {
            if self.flight[i].at <= self.now {
                due.push(self.flight.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|f| (f.at, f.seq));
        let mut arrived = Vec::with_capacity(due.len());
        for f in due {
            let d = f.datagram;
            let first_line = String::from_utf8_lossy(&d.bytes).lines().next().unwrap_or_default().to_owned();
            self.trace.push(format!(
                "{:>6}ms {}->{} {}",
                (self.now - self.t0).as_millis(),
                self.name_of(d.from),
                self.name_of(d.to),
                first_line
            ));
            self.delivered += 1;
            arrived.push(d);
        }
        arrived
    }

    fn name_of(&self, addr: SocketAddr) -> String {
        self.names.iter().find(|(a, _)| *a == addr).map_or_else(|| addr.to_string(), |(_, n)| n.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_perfect_link_delivers_everything_once_in_order_after_its_delay() {
        let t0 = Instant::now();
        let mut net = Network::new(t0, Link::PERFECT, 7);
        net.name(addr("192.0.2.1:5060"), "A");
        net.name(addr("192.0.2.2:5060"), "B");
        for n in 0..5 {
            net.send(addr("192.0.2.1:5060"), addr("192.0.2.2:5060"), format!("msg {n}").into_bytes());
        }
        assert_eq!(net.next_arrival(), Some(t0 + Duration::from_millis(10)));
        assert!(net.advance(t0 + Duration::from_millis(9)).is_empty());
        let got: Vec<String> = net
            .advance(t0 + Duration::from_millis(10))
            .into_iter()
            .map(|d| String::from_utf8(d.bytes).unwrap())
            .collect();
        assert_eq!(got, ["msg 0", "msg 1", "msg 2", "msg 3", "msg 4"]);
        assert_eq!(net.trace[0], "    10ms A->B msg 0");
        assert_eq!(net.next_arrival(), None);
    }

    #[test]
    fn a_lossy_link_drops_and_doubles_about_as_often_as_it_says_and_the_same_each_run() {
        let run = |seed| {
            let t0 = Instant::now();
            let link = Link { loss: 200, dup: 100, delay: Duration::from_millis(5), jitter: Duration::from_millis(50) };
            let mut net = Network::new(t0, link, seed);
            for n in 0..10_000u32 {
                net.send(addr("192.0.2.1:1"), addr("192.0.2.2:1"), n.to_be_bytes().to_vec());
            }
            let order: Vec<Vec<u8>> = net.advance(t0 + Duration::from_secs(1)).into_iter().map(|d| d.bytes).collect();
            (net.dropped, order)
        };
        let (dropped, order) = run(3);
        // 10,000 sends, 10 % doubled: about 11,000 copies, 20 % of them dropped.
        assert!((1_900..2_500).contains(&dropped), "dropped {dropped}");
        assert!((8_300..9_300).contains(&order.len()), "delivered {}", order.len());
        assert!(order.windows(2).any(|w| w[0] > w[1]), "jitter should reorder");
        assert_eq!(run(3), (dropped, order), "the same seed gives the same run");
    }
}
