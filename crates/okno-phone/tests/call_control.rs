//! Call control in virtual time: two or three phones' [`CallControl`]s, each with a media side
//! that records what it is told, stepped through okno-testkit's emulated network on a perfect
//! link and on lossy, duplicating, reordering ones. Hold and resume (re-INVITE, and both sides
//! at once), blind transfer (REFER, NOTIFY), a transfer the target refuses, and attended
//! transfer (REFER with Replaces), session timers (refreshed over lossy links, refused below
//! Min-SE): what each phone reports, what its media is told, and that
//! every call ends once with its media stopped once. No socket, no sleep: a run of a seed is
//! the same every time.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use okno_media::session::CallStats;
use okno_phone::engine::{
    CallControl, CallMedia, ControlOutput, EndReason, EngineConfig, ErrorCode, MediaStart, Party, PhoneCommand,
    PhoneEvent, StartedMedia,
};
use okno_sip::uri::Uri;
use okno_testkit::net::{Link, Network};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const NAMES: [&str; 3] = ["A", "B", "C"];

/// 10 % of datagrams lost, 5 % doubled, 20–120 ms apart: enough to reorder.
const LOSSY: Link = Link { loss: 100, dup: 50, delay: Duration::from_millis(20), jitter: Duration::from_millis(100) };

/// What one phone's media was told, call by call.
#[derive(Debug, Default)]
struct MediaLog {
    next_port: u16,
    reserved: Vec<String>,
    running: HashMap<String, Running>,
    /// How many times each call's media was stopped (or its ports released).
    stops: HashMap<String, u32>,
}

#[derive(Debug, Clone)]
struct Running {
    sending: bool,
    remote: SocketAddr,
}

struct RecordingMedia(Arc<Mutex<MediaLog>>);

impl CallMedia for RecordingMedia {
    fn reserve(&mut self, call_id: &str, _ip: IpAddr) -> Result<u16, String> {
        let mut log = self.0.lock().unwrap();
        log.next_port += 2;
        log.reserved.push(call_id.to_owned());
        Ok(40_000 + log.next_port)
    }

    fn start(&mut self, call_id: &str, _number: u32, start: MediaStart) -> Result<StartedMedia, String> {
        let mut log = self.0.lock().unwrap();
        assert!(log.reserved.iter().any(|r| r == call_id), "media started for {call_id} without ports");
        let running = Running { sending: start.sending, remote: start.plan.remote_rtp };
        assert!(log.running.insert(call_id.to_owned(), running).is_none(), "media of {call_id} started twice");
        Ok(StartedMedia { codec: start.plan.codec.encoding.clone() })
    }

    fn set_sending(&mut self, call_id: &str, sending: bool) {
        if let Some(r) = self.0.lock().unwrap().running.get_mut(call_id) {
            r.sending = sending;
        }
    }

    fn set_muted(&mut self, _call_id: &str, _muted: bool) {}

    fn dtmf(&mut self, _call_id: &str, _keys: &str) {}

    fn reopen_audio(&mut self) {}

    fn stats(&self, _call_id: &str) -> Option<CallStats> {
        None
    }

    fn stop(&mut self, call_id: &str) {
        let mut log = self.0.lock().unwrap();
        *log.stops.entry(call_id.to_owned()).or_default() += 1;
        log.running.remove(call_id);
    }
}

struct Phone {
    addr: SocketAddr,
    control: CallControl,
    events: Vec<PhoneEvent>,
    media: Arc<Mutex<MediaLog>>,
}

struct World {
    net: Network,
    phones: Vec<Phone>,
    seed: u64,
}

fn uri(phone: usize) -> Uri {
    Uri::parse(&format!("sip:{}@192.0.2.{}:5060", NAMES[phone].to_lowercase(), phone + 1)).unwrap()
}

impl World {
    fn new(phones: usize, link: Link, seed: u64) -> World {
        World::with_config(phones, link, seed, |_, _| {})
    }

    /// The same, with each phone's config adjusted by `configure(phone, config)`.
    fn with_config(phones: usize, link: Link, seed: u64, configure: impl Fn(usize, &mut EngineConfig)) -> World {
        let t0 = Instant::now();
        let mut net = Network::new(t0, link, seed);
        let phones = (0..phones)
            .map(|i| {
                let addr: SocketAddr = format!("192.0.2.{}:5060", i + 1).parse().unwrap();
                net.name(addr, NAMES[i]);
                let media = Arc::new(Mutex::new(MediaLog::default()));
                let mut config = EngineConfig::new(addr);
                configure(i, &mut config);
                let control = CallControl::new(
                    config,
                    addr,
                    format!("{}{seed}x", NAMES[i].to_lowercase()),
                    Box::new(RecordingMedia(media.clone())),
                    t0,
                )
                .unwrap();
                Phone { addr, control, events: Vec::new(), media }
            })
            .collect();
        World { net, phones, seed }
    }

    fn command(&mut self, phone: usize, command: PhoneCommand) {
        let now = self.net.now();
        self.phones[phone].control.handle_command(now, command);
        self.flush();
    }

    /// Puts what every phone has to send on the network and keeps what it reports.
    fn flush(&mut self) {
        for p in &mut self.phones {
            while let Some(out) = p.control.poll_output() {
                match out {
                    ControlOutput::Transmit { to, bytes } => self.net.send(p.addr, to, bytes),
                    ControlOutput::Event(e) => p.events.push(e),
                    ControlOutput::CloseConnection { .. } => {}
                }
            }
        }
    }

    /// Moves time to the next arrival or timer and hands each phone what is due.
    fn step(&mut self) {
        let next_timer = self.phones.iter().map(|p| p.control.poll_timeout()).min().unwrap();
        let next = self.net.next_arrival().map_or(next_timer, |a| a.min(next_timer));
        let arrived = self.net.advance(next);
        let now = self.net.now();
        for d in arrived {
            if let Some(p) = self.phones.iter_mut().find(|p| p.addr == d.to) {
                p.control.handle_datagram(now, d.from, &d.bytes);
            }
        }
        for p in &mut self.phones {
            if p.control.poll_timeout() <= now {
                p.control.handle_timeout(now);
            }
        }
        self.flush();
    }

    /// Steps until `done` holds; fails with the ladder if it does not within a minute of
    /// virtual time (a transaction gives up after 32 s).
    fn run_until(&mut self, what: &str, done: impl Fn(&World) -> bool) {
        let end = self.net.now() + Duration::from_secs(60);
        while !done(self) {
            assert!(
                self.net.now() < end,
                "seed {}: {what} did not happen\nevents: {:#?}\nladder:\n{}",
                self.seed,
                self.phones.iter().map(|p| &p.events).collect::<Vec<_>>(),
                self.net.trace.join("\n")
            );
            self.step();
        }
    }

    /// Lets `d` of virtual time pass (retransmissions, late duplicates).
    fn wait(&mut self, d: Duration) {
        let end = self.net.now() + d;
        while self.net.now() < end {
            self.step();
        }
    }

    fn has(&self, phone: usize, want: impl Fn(&PhoneEvent) -> bool) -> bool {
        self.phones[phone].events.iter().any(want)
    }

    fn count(&self, phone: usize, want: impl Fn(&PhoneEvent) -> bool) -> usize {
        self.phones[phone].events.iter().filter(|e| want(e)).count()
    }

    fn sending(&self, phone: usize, call_id: &str) -> bool {
        self.phones[phone]
            .media
            .lock()
            .unwrap()
            .running
            .get(call_id)
            .unwrap_or_else(|| panic!("no media for {call_id}"))
            .sending
    }

    fn ended(&self, phone: usize, call_id: &str) -> Option<EndReason> {
        self.phones[phone].events.iter().find_map(|e| match e {
            PhoneEvent::Ended { call_id: id, cause, .. } if id == call_id => Some(*cause),
            _ => None,
        })
    }

    /// `from` dials `to`, which answers: the call's id (the SIP Call-ID, the same on both).
    fn connect(&mut self, from: usize, to: usize) -> String {
        let before = self.count(from, |e| matches!(e, PhoneEvent::Calling { .. }));
        self.command(from, PhoneCommand::Dial { to: uri(to), display_name: None, call_info: Vec::new() });
        let call_id = self.phones[from]
            .events
            .iter()
            .filter_map(|e| match e {
                PhoneEvent::Calling { call_id, .. } => Some(call_id.clone()),
                _ => None,
            })
            .nth(before)
            .expect("a calling event");
        let id = call_id.clone();
        self.run_until("the call rings", |w| {
            w.has(to, |e| matches!(e, PhoneEvent::Incoming { call_id, .. } if *call_id == id))
        });
        self.command(to, PhoneCommand::Answer { call_id: call_id.clone() });
        let id = call_id.clone();
        self.run_until("both sides have media", |w| {
            [from, to].iter().all(|p| w.has(*p, |e| matches!(e, PhoneEvent::Media { call_id, .. } if *call_id == id)))
        });
        assert!(self.has(from, |e| matches!(e, PhoneEvent::Answered { call_id: c, .. } if *c == call_id)));
        call_id
    }

    /// Everyone hangs up what is left; then every call reported must have ended exactly once
    /// and its media (ports or task) been stopped exactly once.
    fn hang_up_all_and_check(&mut self) {
        for p in 0..self.phones.len() {
            for call_id in self.phones[p].control.call_ids() {
                self.command(p, PhoneCommand::Hangup { call_id });
            }
        }
        self.run_until("every call ends", |w| w.phones.iter().all(|p| p.control.call_ids().is_empty()));
        self.wait(Duration::from_secs(5));
        for (p, phone) in self.phones.iter().enumerate() {
            let mut reported: Vec<&String> = phone
                .events
                .iter()
                .filter_map(|e| match e {
                    PhoneEvent::Calling { call_id, .. } | PhoneEvent::Incoming { call_id, .. } => Some(call_id),
                    PhoneEvent::Replaced { call_id, .. } => Some(call_id),
                    _ => None,
                })
                .collect();
            reported.sort();
            reported.dedup();
            for call_id in reported {
                let ends = self.count(p, |e| matches!(e, PhoneEvent::Ended { call_id: c, .. } if c == call_id));
                assert_eq!(ends, 1, "seed {}: {} reported {call_id} ended {ends} times", self.seed, NAMES[p]);
            }
            let log = phone.media.lock().unwrap();
            for call_id in &log.reserved {
                assert_eq!(log.stops.get(call_id), Some(&1), "seed {}: {}'s media of {call_id}", self.seed, NAMES[p]);
            }
            assert!(log.running.is_empty(), "seed {}: {} still runs media {:?}", self.seed, NAMES[p], log.running);
        }
    }
}

/// The perfect link and a dozen seeds of the lossy one.
fn links() -> impl Iterator<Item = (Link, u64)> {
    std::iter::once((Link::PERFECT, 1)).chain((1..=12).map(|seed| (LOSSY, seed)))
}

#[test]
fn hold_and_resume_by_re_invite() {
    for (link, seed) in links() {
        let mut w = World::new(2, link, seed);
        let call = w.connect(A, B);
        assert!(w.sending(A, &call) && w.sending(B, &call));

        w.command(A, PhoneCommand::Hold { call_id: call.clone(), hold: true });
        w.run_until("both sides see the hold", |w| {
            w.has(A, |e| matches!(e, PhoneEvent::Held { by: Party::Local, .. }))
                && w.has(B, |e| matches!(e, PhoneEvent::Held { by: Party::Remote, .. }))
        });
        // A holds: it stops sending; B's peer does not receive (sendonly), so B stops too.
        assert!(!w.sending(A, &call) && !w.sending(B, &call), "seed {seed}: media still sends while held");

        w.command(A, PhoneCommand::Hold { call_id: call.clone(), hold: true });
        assert_eq!(
            w.count(A, |e| matches!(e, PhoneEvent::Held { by: Party::Local, .. })),
            2,
            "a second hold is a no-op"
        );

        w.command(A, PhoneCommand::Hold { call_id: call.clone(), hold: false });
        w.run_until("both sides see the resume", |w| {
            w.has(A, |e| matches!(e, PhoneEvent::Resumed { by: Party::Local, .. }))
                && w.has(B, |e| matches!(e, PhoneEvent::Resumed { by: Party::Remote, .. }))
        });
        assert!(w.sending(A, &call) && w.sending(B, &call), "seed {seed}: media silent after resume");

        w.command(A, PhoneCommand::Hangup { call_id: call.clone() });
        w.run_until("the call ends on both sides", |w| w.ended(A, &call).is_some() && w.ended(B, &call).is_some());
        assert_eq!(w.ended(A, &call), Some(EndReason::LocalBye));
        assert_eq!(w.ended(B, &call), Some(EndReason::RemoteBye));
        w.hang_up_all_and_check();
    }
}

#[test]
fn a_hold_before_the_answer_is_refused_and_the_call_goes_on() {
    let mut w = World::new(2, Link::PERFECT, 1);
    w.command(A, PhoneCommand::Dial { to: uri(B), display_name: None, call_info: Vec::new() });
    w.run_until("the call rings", |w| w.has(B, |e| matches!(e, PhoneEvent::Incoming { .. })));
    let call = w.phones[A].control.call_ids().remove(0);
    w.command(A, PhoneCommand::Hold { call_id: call.clone(), hold: true });
    assert!(w.has(A, |e| matches!(e, PhoneEvent::Error { code: ErrorCode::InvalidState, .. })));
    w.command(B, PhoneCommand::Answer { call_id: call.clone() });
    w.run_until("the call is answered", |w| w.has(A, |e| matches!(e, PhoneEvent::Answered { .. })));
    w.hang_up_all_and_check();
}

#[test]
fn both_sides_holding_at_once_collide_and_a_retry_goes_through() {
    let mut w = World::new(2, Link::PERFECT, 1);
    let call = w.connect(A, B);
    // The two re-INVITEs cross on the wire: each side answers the other's 491 (RFC 3261 §14.2).
    w.command(A, PhoneCommand::Hold { call_id: call.clone(), hold: true });
    w.command(B, PhoneCommand::Hold { call_id: call.clone(), hold: true });
    w.run_until("both holds fail", |w| {
        [A, B].iter().all(|p| w.has(*p, |e| matches!(e, PhoneEvent::Error { code: ErrorCode::HoldFailed, .. })))
    });
    assert!(!w.has(A, |e| matches!(e, PhoneEvent::Held { .. })) && !w.has(B, |e| matches!(e, PhoneEvent::Held { .. })));
    assert!(w.sending(A, &call) && w.sending(B, &call), "a failed hold leaves the media as it was");

    w.command(B, PhoneCommand::Hold { call_id: call.clone(), hold: true });
    w.run_until("B's retry holds the call", |w| {
        w.has(B, |e| matches!(e, PhoneEvent::Held { by: Party::Local, .. }))
            && w.has(A, |e| matches!(e, PhoneEvent::Held { by: Party::Remote, .. }))
    });
    assert!(!w.sending(A, &call) && !w.sending(B, &call));
    w.hang_up_all_and_check();
}

/// A talks to B; B transfers A to C (REFER), and C rings: the world and the calls A–B and A–C.
fn blind_transfer_to_c(link: Link, seed: u64) -> (World, String, String) {
    let mut w = World::new(3, link, seed);
    let ab = w.connect(A, B);
    w.command(B, PhoneCommand::Transfer { call_id: ab.clone(), to: uri(C) });
    w.run_until("C rings", |w| w.has(C, |e| matches!(e, PhoneEvent::Incoming { .. })));
    let ac = w.phones[C].control.call_ids().remove(0);
    (w, ab, ac)
}

/// B transfers A to C: A calls C, and B's call ends once C answered.
#[test]
fn blind_transfer_by_refer() {
    for (link, seed) in links() {
        let (mut w, ab, ac) = blind_transfer_to_c(link, seed);
        assert!(
            w.has(A, |e| matches!(e, PhoneEvent::Referred { call_id, new_call_id, .. } if *call_id == ab && *new_call_id == ac)),
            "seed {seed}: A did not report the REFER"
        );
        assert!(w.ended(B, &ab).is_none(), "B's call must stay up until C answers");

        w.command(C, PhoneCommand::Answer { call_id: ac.clone() });
        w.run_until("the transfer completes", |w| w.ended(B, &ab).is_some() && w.ended(A, &ab).is_some());
        assert!(w.has(B, |e| matches!(e, PhoneEvent::Transferring { .. })) || link.loss > 0, "seed {seed}");
        assert!(w.has(B, |e| matches!(e, PhoneEvent::Transferred { call_id, .. } if *call_id == ab)));
        assert_eq!(w.ended(B, &ab), Some(EndReason::Transferred));
        assert_eq!(w.ended(A, &ab), Some(EndReason::RemoteBye));
        assert!(w.has(A, |e| matches!(e, PhoneEvent::Answered { call_id, .. } if *call_id == ac)));
        assert_eq!(w.phones[A].control.call_ids(), vec![ac.clone()]);
        assert_eq!(w.phones[C].control.call_ids(), vec![ac.clone()]);
        assert!(w.sending(A, &ac) && w.sending(C, &ac), "seed {seed}: A and C talk");
        assert_eq!(w.phones[A].media.lock().unwrap().running[&ac].remote.ip().to_string(), "192.0.2.3");
        w.hang_up_all_and_check();
    }
}

#[test]
fn a_transfer_the_target_refuses_leaves_the_call_up() {
    for (link, seed) in links() {
        let (mut w, ab, ac) = blind_transfer_to_c(link, seed);
        w.command(C, PhoneCommand::Reject { call_id: ac.clone(), status: 486 });
        w.run_until("B hears the transfer failed", |w| w.has(B, |e| matches!(e, PhoneEvent::TransferFailed { .. })));
        assert!(
            w.has(B, |e| matches!(e, PhoneEvent::TransferFailed { status: Some(486), .. })),
            "seed {seed}: {:?}",
            w.phones[B].events
        );
        assert_eq!(w.ended(A, &ac), Some(EndReason::Status(486)));
        w.wait(Duration::from_secs(2));
        assert!(w.ended(A, &ab).is_none() && w.ended(B, &ab).is_none(), "seed {seed}: the call must stay up");
        assert!(w.sending(A, &ab) && w.sending(B, &ab));
        w.hang_up_all_and_check();
    }
}

/// B talks to A, consults C, then joins A to C: A calls C with Replaces naming B's consult
/// call, C takes it over without ringing, and both of B's calls end.
#[test]
fn attended_transfer_with_replaces() {
    for (link, seed) in links() {
        let mut w = World::new(3, link, seed);
        let ab = w.connect(A, B);
        w.command(B, PhoneCommand::Hold { call_id: ab.clone(), hold: true });
        w.run_until("A is on hold", |w| w.has(A, |e| matches!(e, PhoneEvent::Held { by: Party::Remote, .. })));
        let bc = w.connect(B, C);

        w.command(B, PhoneCommand::AttendedTransfer { call_id: ab.clone(), consult_call_id: bc.clone() });
        w.run_until("B's calls end", |w| w.ended(B, &ab).is_some() && w.ended(B, &bc).is_some());
        w.run_until("C's consult call ends", |w| w.ended(C, &bc).is_some());
        let ac = w.phones[C]
            .events
            .iter()
            .find_map(|e| match e {
                PhoneEvent::Replaced { call_id, replaces, .. } if *replaces == bc => Some(call_id.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("seed {seed}: C was not told of the takeover: {:?}", w.phones[C].events));
        assert_eq!(w.ended(B, &ab), Some(EndReason::Transferred));
        assert_eq!(w.ended(B, &bc), Some(EndReason::RemoteBye));
        assert_eq!(w.ended(C, &bc), Some(EndReason::Replaced));
        assert_eq!(w.ended(A, &ab), Some(EndReason::RemoteBye));
        // C answers the takeover itself: it never rang.
        assert_eq!(w.count(C, |e| matches!(e, PhoneEvent::Incoming { .. })), 1, "seed {seed}: only B's call rang C");
        w.run_until("A talks to C", |w| w.has(A, |e| matches!(e, PhoneEvent::Media { call_id, .. } if *call_id == ac)));
        assert_eq!(w.phones[A].control.call_ids(), vec![ac.clone()]);
        assert_eq!(w.phones[C].control.call_ids(), vec![ac.clone()]);
        assert!(w.sending(A, &ac) && w.sending(C, &ac), "seed {seed}: the new call is not held");
        w.hang_up_all_and_check();
    }
}

/// A asks for a 90 s session timer and refreshes it (B leaves that to the caller): over five
/// minutes of a lossy link the refreshes keep the call up on both sides, none shows as a hold,
/// and the media keeps sending.
#[test]
fn session_timer_refreshes_keep_a_call_up() {
    for (link, seed) in links() {
        let mut w = World::with_config(2, link, seed, |_, c| c.session_expires = Some(90));
        let call_id = w.connect(A, B);
        let invites_before = w.net.trace.iter().filter(|l| l.contains("A->B INVITE")).count();
        w.wait(Duration::from_secs(300));
        // One every 45 s: six in five minutes, more with retransmissions on the lossy link.
        let refreshes = w.net.trace.iter().filter(|l| l.contains("A->B INVITE")).count() - invites_before;
        assert!(refreshes >= 6, "seed {seed}: A refreshed {refreshes} times in five minutes");
        for p in [A, B] {
            assert_eq!(w.ended(p, &call_id), None, "seed {seed}: {} ended the refreshed call", NAMES[p]);
            assert!(!w.has(p, |e| matches!(e, PhoneEvent::Held { .. })), "seed {seed}: a refresh is no hold");
            assert!(w.sending(p, &call_id), "seed {seed}: {} still sends", NAMES[p]);
        }
        w.hang_up_all_and_check();
    }
}

/// A asks for a 30 s timer; B's minimum is RFC 4028's 90 s: B refuses the call with 422 (its
/// Min-SE), which A reports as the refusal, and neither side is left with a call.
#[test]
fn a_session_timer_below_min_se_is_refused_422() {
    let mut w = World::with_config(2, Link::PERFECT, 1, |p, c| {
        if p == A {
            c.session_expires = Some(30);
            c.min_se = 30;
        }
    });
    w.command(A, PhoneCommand::Dial { to: uri(B), display_name: None, call_info: Vec::new() });
    w.run_until("A's call is refused", |w| w.has(A, |e| matches!(e, PhoneEvent::Ended { .. })));
    assert!(w.has(A, |e| matches!(e, PhoneEvent::Rejected { status: 422, .. })), "{:?}", w.phones[A].events);
    assert!(w.net.trace.iter().any(|l| l.contains("B->A SIP/2.0 422")), "the 422 on the wire");
    assert!(!w.has(B, |e| matches!(e, PhoneEvent::Incoming { .. })), "B's operator never saw it ring");
    w.hang_up_all_and_check();
}
