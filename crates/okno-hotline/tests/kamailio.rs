//! The hotline behind a real Kamailio: callers and operators' desks are okno-phone engines (the
//! same engine as the desks and the headless phone) registered there, the hotline registers as
//! `hotline` and rings the desks through it. Each test checks what the people on the call would:
//! the caller hears music while waiting and the operator after, each hears the other's voice
//! (a tone), the right desk rings, a desk that does not answer is skipped, and the report events
//! say what happened. Kamailio must be installed (`cargo xtask setup`).

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use okno_acd::{AcdEventKind, QueueSpec};
use okno_core::AgentState;
use okno_hotline::{AgentLine, Hotline, HotlineConfig, Report};
use okno_phone::context::CallContext;
use okno_phone::engine::{self, EngineConfig, MediaIo, PhoneCommand, PhoneEvent, PhoneHandle};
use okno_phone::media::{AudioSink, AudioSource};
use okno_sip::Uri;
use okno_sip::message::CallInfo;
use okno_testkit::sip::Kamailio;
use tokio::sync::mpsc;

const PASSWORD: &str = "hotline-test-only";
const CALLER_HZ: f64 = 1000.0;
const OPERATOR_HZ: f64 = 700.0;
const WAIT: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A tone to send and everything received, for every call of one phone.
#[derive(Clone)]
struct ToneAndTape {
    hz: f64,
    heard: Arc<Mutex<Vec<i16>>>,
}

struct Tone {
    hz: f64,
    rate: u32,
    at: u64,
}

impl AudioSource for Tone {
    fn read_frame(&mut self, frame: &mut [i16]) {
        for s in frame.iter_mut() {
            let t = self.at as f64 / f64::from(self.rate);
            *s = (0.3 * 32767.0 * (std::f64::consts::TAU * self.hz * t).sin()) as i16;
            self.at += 1;
        }
    }
}

struct Tape(Arc<Mutex<Vec<i16>>>);

impl AudioSink for Tape {
    fn write_frame(&mut self, frame: &[i16]) {
        self.0.lock().unwrap().extend_from_slice(frame);
    }
}

impl MediaIo for ToneAndTape {
    fn open(&mut self, _call_id: &str, _number: u32, rate: u32) -> (Box<dyn AudioSource>, Box<dyn AudioSink>) {
        (Box::new(Tone { hz: self.hz, rate, at: 0 }), Box::new(Tape(self.heard.clone())))
    }
}

/// A phone registered at Kamailio as `user`, sending a tone at `hz`.
struct Phone {
    handle: PhoneHandle,
    events: mpsc::UnboundedReceiver<PhoneEvent>,
    heard: Arc<Mutex<Vec<i16>>>,
    seen: Vec<PhoneEvent>,
}

impl Phone {
    async fn start(kamailio: &Kamailio, user: &str, hz: f64) -> Phone {
        let mut config = EngineConfig::new(SocketAddr::from(([127, 0, 0, 1], free_port())));
        config.account = Some(Uri::parse(&format!("sip:{user}@127.0.0.1")).unwrap());
        config.registrar = Some(kamailio.addr().parse().unwrap());
        config.password = Some(PASSWORD.into());
        let heard = Arc::new(Mutex::new(Vec::new()));
        let (tx, events) = mpsc::unbounded_channel();
        let (handle, _) = engine::spawn(config, Box::new(ToneAndTape { hz, heard: heard.clone() }), tx).await.unwrap();
        let mut phone = Phone { handle, events, heard, seen: Vec::new() };
        phone.wait(&format!("{user} registered"), |e| matches!(e, PhoneEvent::Registered { .. })).await;
        phone
    }

    /// Waits for an event `what` describes; returns it.
    async fn wait(&mut self, what: &str, mut wanted: impl FnMut(&PhoneEvent) -> bool) -> PhoneEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if wanted(&event) {
                        return event;
                    }
                }
                _ => panic!("{what}: not within {WAIT:?}; seen {:#?}", self.seen),
            }
        }
    }

    /// Calls the hotline's number through Kamailio.
    fn dial_hotline(&self) {
        self.dial_hotline_as(None, Vec::new());
    }

    /// Calls the hotline with a display name and Call-Info, as the website's gateway does.
    fn dial_hotline_as(&self, display_name: Option<&str>, call_info: Vec<CallInfo>) {
        let to = Uri::parse("sip:hotline@127.0.0.1").unwrap();
        self.send(PhoneCommand::Dial { to, display_name: display_name.map(str::to_owned), call_info });
    }

    fn send(&self, command: PhoneCommand) {
        self.handle.send(command).unwrap();
    }

    /// The largest share of the received power at `hz` in any `window` samples (of 8 kHz audio).
    fn heard_share(&self, hz: f64, window: usize) -> f64 {
        let heard = self.heard.lock().unwrap();
        heard
            .chunks_exact(window)
            .filter(|x| okno_audio::convert::level(x).rms_dbfs > -50.0)
            .map(|x| okno_audio::convert::tone_share(x, 8000, hz))
            .fold(0.0, f64::max)
    }

    fn heard_len(&self) -> usize {
        self.heard.lock().unwrap().len()
    }

    /// The largest share of power at `hz` in any 0.2 s of what was heard since sample `from`.
    fn share_since(&self, from: usize, hz: f64) -> f64 {
        let heard = self.heard.lock().unwrap();
        heard[from.min(heard.len())..]
            .chunks_exact(1600)
            .map(|x| okno_audio::convert::tone_share(x, 8000, hz))
            .fold(0.0, f64::max)
    }

    /// Waits until `samples` more were heard.
    async fn hear(&self, samples: usize) -> usize {
        let start = self.heard_len();
        until("audio keeps coming", || self.heard_len() >= start + samples).await;
        start
    }

    fn call_id(&self) -> String {
        self.seen
            .iter()
            .find_map(|e| match e {
                PhoneEvent::Calling { call_id, .. } | PhoneEvent::Incoming { call_id, .. } => Some(call_id.clone()),
                _ => None,
            })
            .expect("a call")
    }
}

fn queue(id: &str, ring_timeout_ms: u64) -> QueueSpec {
    QueueSpec {
        id: id.into(),
        skill: None,
        ring_timeout_ms,
        callback_after_ms: None,
        announce_every_ms: 30_000,
        wrap_up_ms: 0,
    }
}

async fn hotline(kamailio: &Kamailio, queues: Vec<QueueSpec>, agents: &[&str]) -> (Hotline, okno_hotline::Reports) {
    hotline_with_leads(kamailio, queues, agents, &[]).await
}

fn sip_line(id: &str) -> AgentLine {
    AgentLine { id: id.into(), uri: Uri::parse(&format!("sip:{id}@127.0.0.1")).unwrap(), skills: Vec::new() }
}

async fn hotline_with_leads(
    kamailio: &Kamailio,
    queues: Vec<QueueSpec>,
    agents: &[&str],
    leads: &[&str],
) -> (Hotline, okno_hotline::Reports) {
    let numbers = vec![("hotline".into(), queues[0].id.clone())];
    let config = HotlineConfig {
        registrar: Some(kamailio.addr().parse().unwrap()),
        account: Some(Uri::parse("sip:hotline@127.0.0.1").unwrap()),
        password: Some(PASSWORD.into()),
        agents: agents.iter().map(|id| sip_line(id)).collect(),
        supervisors: leads.iter().map(|id| sip_line(id)).collect(),
        announce_monitoring: !leads.is_empty(),
        ..HotlineConfig::new(SocketAddr::from(([127, 0, 0, 1], free_port())), numbers, queues)
    };
    let started = Hotline::start(config).await.unwrap();
    // Its REGISTER goes first; give Kamailio a moment to have bound it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    started
}

/// The report events so far, as (kind, agent).
fn drain(reports: &mut okno_hotline::Reports, into: &mut Vec<Report>) -> Vec<(AcdEventKind, Option<String>)> {
    while let Ok(report) = reports.try_recv() {
        into.push(report);
    }
    into.iter()
        .filter_map(|r| match r {
            Report::Event(e) => Some((e.kind, e.agent_id.clone())),
            Report::AgentNotResponding { .. } => None,
        })
        .collect()
}

/// The reports until the conversation's end is among them: their kinds in order, and all.
async fn reported_until_ended(reports: &mut okno_hotline::Reports) -> (Vec<AcdEventKind>, Vec<Report>) {
    let mut all = Vec::new();
    until("the conversation's end is reported", || {
        drain(reports, &mut all).iter().any(|(kind, _)| *kind == AcdEventKind::Ended)
    })
    .await;
    let kinds = drain(reports, &mut all).into_iter().map(|(k, _)| k).collect();
    (kinds, all)
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < WAIT, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hears_music_while_waiting_then_talks_with_the_operator_who_became_free() {
    let kamailio = Kamailio::start(PASSWORD);
    let (hotline, mut reports) = hotline(&kamailio, vec![queue("support", 20_000)], &["alice"]).await;
    let mut alice = Phone::start(&kamailio, "alice", OPERATOR_HZ).await;
    let mut caller = Phone::start(&kamailio, "carol", CALLER_HZ).await;

    let page = CallInfo::new("https://shop.example/cart", Some("info")).unwrap();
    // A caller claiming a queue and a wait of their own: the desk must not get them.
    let forged = CallContext { queue_id: Some("vip".into()), waited_ms: Some(999_000), ..CallContext::default() };
    caller.dial_hotline_as(Some("Carol Petrova"), [vec![page.clone()], forged.to_call_info()].concat());
    caller.wait("the hotline answers the caller", |e| matches!(e, PhoneEvent::Answered { .. })).await;
    // Nobody is available: the caller waits, hearing music on hold.
    until("two seconds of music", || caller.heard_len() >= 16_000).await;
    let status = hotline.status().await.unwrap();
    assert_eq!(status.waiting.len(), 1, "{status:?}");
    // The default music is an arpeggio of half-second notes: some half second is mostly one.
    let music =
        okno_hotline::DEFAULT_MUSIC_HZ.iter().map(|&hz| caller.heard_share(f64::from(hz), 4000)).fold(0.0, f64::max);
    assert!(music > 0.3, "the waiting caller hears music: {music}");

    // Alice becomes available: her desk rings with the queue's call, she answers.
    hotline.agent_state("alice", AgentState::Available).unwrap();
    let incoming = alice.wait("alice's desk rings", |e| matches!(e, PhoneEvent::Incoming { .. })).await;
    let PhoneEvent::Incoming { call_id, display_name, call_info, .. } = incoming else { unreachable!() };
    let shown = display_name.unwrap_or_default();
    assert!(shown.starts_with("support · Carol Petrova · "), "the desk shows the queue and the caller: {shown}");
    let context = CallContext::from_call_info(&call_info);
    assert_eq!(context.page.as_deref(), Some("https://shop.example/cart"), "the caller's page reaches the desk");
    assert_eq!(context.queue_id.as_deref(), Some("support"), "the hotline's queue, not the caller's: {call_info:?}");
    let desk_waited = context.waited_ms.expect("the wait reaches the desk");
    let before = caller.heard_len();
    alice.send(PhoneCommand::Answer { call_id: call_id.clone() });
    alice.wait("alice talks", |e| matches!(e, PhoneEvent::Media { .. })).await;
    until("two seconds of conversation", || caller.heard_len() >= before + 20_000 && alice.heard_len() >= 20_000).await;

    let share_at_alice = alice.heard_share(CALLER_HZ, 8000);
    assert!(share_at_alice > 0.5, "alice hears the caller: {share_at_alice}");
    let after: Vec<i16> = caller.heard.lock().unwrap()[before..].to_vec();
    let share_at_caller =
        after.chunks_exact(8000).map(|x| okno_audio::convert::tone_share(x, 8000, OPERATOR_HZ)).fold(0.0, f64::max);
    assert!(share_at_caller > 0.5, "the caller hears alice: {share_at_caller}");

    // The caller hangs up: alice's call ends too.
    caller.send(PhoneCommand::Hangup { call_id: caller.call_id() });
    alice.wait("alice's call ends with the caller's", |e| matches!(e, PhoneEvent::Ended { .. })).await;

    let (kinds, all) = reported_until_ended(&mut reports).await;
    assert_eq!(
        kinds,
        [AcdEventKind::Queued, AcdEventKind::Offered, AcdEventKind::Answered, AcdEventKind::Ended],
        "{all:#?}"
    );
    let waited = all.iter().find_map(|r| match r {
        Report::Event(e) if e.kind == AcdEventKind::Answered => e.waited_ms,
        _ => None,
    });
    // Two seconds of received audio (the music) can arrive in a little less wall time.
    assert!(waited.is_some_and(|w| w >= 1_500), "the caller waited while hearing music: {waited:?}");
    // The desk was told the hotline's wait at the offer, before the answer: never the caller's.
    assert!(
        waited.is_some_and(|w| desk_waited > 0 && desk_waited <= w),
        "the desk was told {desk_waited} ms; the caller waited {waited:?} until the answer"
    );
    // Both legs are over: the hotline holds no audio for them any more.
    let started = Instant::now();
    while hotline.status().await.unwrap().legs > 0 {
        assert!(started.elapsed() < WAIT, "the legs' audio is never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_that_does_not_answer_is_skipped_and_a_caller_who_gives_up_is_abandoned() {
    let kamailio = Kamailio::start(PASSWORD);
    let (hotline, mut reports) = hotline(&kamailio, vec![queue("sales", 1_500)], &["alice", "bob"]).await;
    let mut alice = Phone::start(&kamailio, "alice", OPERATOR_HZ).await;
    let mut bob = Phone::start(&kamailio, "bob", OPERATOR_HZ).await;
    let first = Phone::start(&kamailio, "carol", CALLER_HZ).await;
    let mut second = Phone::start(&kamailio, "dave", CALLER_HZ).await;
    hotline.agent_state("alice", AgentState::Available).unwrap();
    hotline.agent_state("bob", AgentState::Available).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Alice has been free longest: she is rung first, and lets it ring.
    first.dial_hotline();
    alice.wait("alice's desk rings first", |e| matches!(e, PhoneEvent::Incoming { .. })).await;
    alice.wait("the ring times out and alice's ringing stops", |e| matches!(e, PhoneEvent::Ended { .. })).await;
    let incoming = bob.wait("bob's desk rings next", |e| matches!(e, PhoneEvent::Incoming { .. })).await;
    let PhoneEvent::Incoming { call_id, .. } = incoming else { unreachable!() };
    bob.send(PhoneCommand::Answer { call_id });
    bob.wait("bob talks", |e| matches!(e, PhoneEvent::Media { .. })).await;

    // Alice is not responding and bob is busy: the second caller waits, then gives up.
    second.dial_hotline();
    let answered =
        second.wait("the hotline answers the second caller", |e| matches!(e, PhoneEvent::Answered { .. })).await;
    let PhoneEvent::Answered { call_id: second_call, .. } = answered else { unreachable!() };
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    second.send(PhoneCommand::Hangup { call_id: second_call });
    second.wait("the second caller's call ends", |e| matches!(e, PhoneEvent::Ended { .. })).await;

    let mut all = Vec::new();
    until("the abandoned call is reported", || {
        drain(&mut reports, &mut all).iter().any(|(kind, _)| *kind == AcdEventKind::Abandoned)
    })
    .await;
    let events = drain(&mut reports, &mut all);
    let of = |kind| events.iter().filter(|(k, _)| *k == kind).map(|(_, a)| a.clone()).collect::<Vec<_>>();
    assert_eq!(of(AcdEventKind::Queued).len(), 2, "{all:#?}");
    assert_eq!(of(AcdEventKind::Offered), [Some("alice".into()), Some("bob".into())], "{all:#?}");
    assert_eq!(of(AcdEventKind::NotAnswered), [Some("alice".into())], "{all:#?}");
    assert_eq!(of(AcdEventKind::Answered), [Some("bob".into())], "{all:#?}");
    assert_eq!(of(AcdEventKind::Abandoned).len(), 1, "{all:#?}");
    assert!(all.contains(&Report::AgentNotResponding { agent_id: "alice".into() }), "{all:#?}");
    let abandoned_wait = all.iter().find_map(|r| match r {
        Report::Event(e) if e.kind == AcdEventKind::Abandoned => e.waited_ms,
        _ => None,
    });
    assert!(abandoned_wait.is_some_and(|w| w >= 1_000), "{abandoned_wait:?}");
    // Alice was never offered the second call: a desk that rang out gets no offers.
    assert_eq!(alice.seen.iter().filter(|e| matches!(e, PhoneEvent::Incoming { .. })).count(), 1);
    let status = hotline.status().await.unwrap();
    assert!(status.waiting.is_empty(), "{status:?}");
    assert!(status.agents.iter().any(|a| a.id == "alice" && a.not_responding), "{status:?}");
}

/// Malformed SIP at the hotline's port while a caller waits (garbage, a request without its
/// headers, a BYE for the waiting call with a broken CSeq, a response to nothing, a body
/// shorter than its length): the waiting call is kept, the caller goes on hearing the music,
/// and an operator who becomes free takes the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sip_at_the_hotline_leaves_the_waiting_caller_waiting() {
    let kamailio = Kamailio::start(PASSWORD);
    let (hotline, mut reports) = hotline(&kamailio, vec![queue("sales", 15_000)], &["alice"]).await;
    let mut alice = Phone::start(&kamailio, "alice", OPERATOR_HZ).await;
    let mut caller = Phone::start(&kamailio, "carol", CALLER_HZ).await;
    caller.dial_hotline();
    caller.wait("the hotline answers", |e| matches!(e, PhoneEvent::Answered { .. })).await;
    let call_id = caller.call_id();

    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    junk.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let headers = "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-junk\r\nMax-Forwards: 70\r\n\
                   From: <sip:carol@127.0.0.1>;tag=junk\r\nTo: <sip:hotline@127.0.0.1>\r\n";
    let datagrams = [
        "\u{1}\u{7f} not SIP at all".to_owned(),
        "INVITE sip:hotline@127.0.0.1 SIP/2.0\r\n\r\n".to_owned(),
        format!(
            "BYE sip:hotline@127.0.0.1 SIP/2.0\r\n{headers}Call-ID: {call_id}\r\nCSeq: banana BYE\r\nContent-Length: 0\r\n\r\n"
        ),
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-nothing\r\nContent-Length: 0\r\n\r\n".to_owned(),
        format!(
            "INVITE sip:hotline@127.0.0.1 SIP/2.0\r\n{headers}Call-ID: junk-1\r\nCSeq: 1 INVITE\r\nContent-Length: 9999\r\n\r\nv=0\r\n"
        ),
    ];
    for datagram in &datagrams {
        junk.send_to(datagram.as_bytes(), hotline.sip_addr()).unwrap();
    }
    let mut answers = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok((n, _)) = junk.recv_from(&mut buf) {
        answers.push(String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned());
    }
    eprintln!("the hotline answered the junk with {answers:?}");
    assert!(answers.iter().all(|a| !a.starts_with("SIP/2.0 2")), "nothing malformed is accepted: {answers:?}");

    // The caller still waits and hears the music.
    let status = hotline.status().await.unwrap();
    assert_eq!(status.waiting.len(), 1, "the waiting call is kept: {status:?}");
    let from = caller.hear(8_000).await;
    caller.hear(8_000).await;
    let music =
        okno_hotline::DEFAULT_MUSIC_HZ.iter().map(|hz| caller.share_since(from, f64::from(*hz))).fold(0.0, f64::max);
    assert!(music > 0.5, "the caller hears the music on hold after the junk: {music:.2}");

    // Alice becomes free and takes the call.
    hotline.agent_state("alice", AgentState::Available).unwrap();
    let incoming = alice.wait("alice's desk rings", |e| matches!(e, PhoneEvent::Incoming { .. })).await;
    let PhoneEvent::Incoming { call_id: offered, .. } = incoming else { unreachable!() };
    alice.send(PhoneCommand::Answer { call_id: offered });
    alice.wait("alice talks", |e| matches!(e, PhoneEvent::Media { .. })).await;
    // Hung up only once the hotline has bridged them: before that it is an abandonment.
    let bridged_from = caller.heard_len();
    until("the caller hears alice", || caller.share_since(bridged_from, OPERATOR_HZ) > 0.3).await;
    caller.send(PhoneCommand::Hangup { call_id: caller.call_id() });
    alice.wait("alice's call ends with the caller's", |e| matches!(e, PhoneEvent::Ended { .. })).await;
    let mut all = Vec::new();
    until("the call's end is reported", || {
        drain(&mut reports, &mut all)
            .iter()
            .any(|(kind, _)| matches!(kind, AcdEventKind::Ended | AcdEventKind::Abandoned))
    })
    .await;
    let kinds: Vec<AcdEventKind> = drain(&mut reports, &mut all).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [AcdEventKind::Queued, AcdEventKind::Offered, AcdEventKind::Answered, AcdEventKind::Ended],
        "{all:#?}"
    );
}

/// A team lead joins a live call from their own desk: listening they hear both sides and
/// nobody hears them; whispering the operator hears them; barging in both do. Keys 2 and 3 on
/// the lead's phone switch; the operator hears a beep when the lead joins (the center's policy
/// in this test); when the caller hangs up, the lead's call ends too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_lead_listens_then_whispers_then_barges_in() {
    const LEAD_HZ: f64 = 1300.0;
    const BEEP_HZ: f64 = 1400.0;
    let kamailio = Kamailio::start(PASSWORD);
    let (hotline, _reports) =
        hotline_with_leads(&kamailio, vec![queue("support", 20_000)], &["alice"], &["lena"]).await;
    let mut alice = Phone::start(&kamailio, "alice", OPERATOR_HZ).await;
    let mut lena = Phone::start(&kamailio, "lena", LEAD_HZ).await;
    let mut caller = Phone::start(&kamailio, "carol", CALLER_HZ).await;
    hotline.agent_state("alice", AgentState::Available).unwrap();
    caller.dial_hotline();
    caller.wait("the hotline answers", |e| matches!(e, PhoneEvent::Answered { .. })).await;
    alice.wait("alice's desk rings", |e| matches!(e, PhoneEvent::Incoming { .. })).await;
    alice.send(PhoneCommand::Answer { call_id: alice.call_id() });
    alice.wait("alice talks", |e| matches!(e, PhoneEvent::Media { .. })).await;
    let bridged_from = caller.heard_len();
    until("the caller hears alice", || caller.share_since(bridged_from, OPERATOR_HZ) > 0.3).await;
    // The hotline knows the caller's leg by the caller's Call-ID (Kamailio keeps it).
    let call = caller.call_id();
    assert!(hotline.monitor("nobody-call", "lena", "Lena", okno_hotline::MonitorMode::Listen).await.is_err());
    assert!(
        hotline.monitor(&call, "alice", "Alice", okno_hotline::MonitorMode::Listen).await.is_err(),
        "alice is no supervisor"
    );

    hotline.monitor(&call, "lena", "Лена Смирнова", okno_hotline::MonitorMode::Listen).await.unwrap();
    let incoming = lena.wait("lena's desk rings", |e| matches!(e, PhoneEvent::Incoming { .. })).await;
    let PhoneEvent::Incoming { display_name, .. } = incoming else { unreachable!() };
    assert!(display_name.unwrap_or_default().starts_with("listen"), "the lead's desk says what it is");
    let at_alice = alice.heard_len();
    lena.send(PhoneCommand::Answer { call_id: lena.call_id() });
    lena.wait("lena listens", |e| matches!(e, PhoneEvent::Media { .. })).await;
    let (from_lena, from_alice, from_caller) =
        (lena.hear(12_000).await, alice.hear(12_000).await, caller.hear(12_000).await);
    let listen = (
        lena.share_since(from_lena, CALLER_HZ),
        lena.share_since(from_lena, OPERATOR_HZ),
        alice.share_since(from_alice, LEAD_HZ),
        caller.share_since(from_caller, LEAD_HZ),
    );
    assert!(listen.0 > 0.3 && listen.1 > 0.3, "listening, the lead hears the caller and the operator: {listen:?}");
    assert!(listen.2 < 0.05 && listen.3 < 0.05, "listening, nobody hears the lead: {listen:?}");
    // The beep is quieter than the caller's voice under it: a share of a tenth is far above the
    // nothing that is at 1400 Hz otherwise.
    // The center tells its operators: alice's desk learns who listens and how.
    let told = alice.wait("alice's desk is told", |e| matches!(e, PhoneEvent::Monitored { .. })).await;
    assert_eq!(
        told,
        PhoneEvent::Monitored {
            call_id: alice.call_id(), by: "Лена Смирнова".into(), mode: Some("listen".into())
        }
    );
    let beep = alice.share_since(at_alice, BEEP_HZ);
    assert!(beep > 0.05, "the operator heard the beep: {beep}");
    let before: Vec<i16> = alice.heard.lock().unwrap()[..at_alice].to_vec();
    let quiet =
        before.chunks_exact(1600).map(|x| okno_audio::convert::tone_share(x, 8000, BEEP_HZ)).fold(0.0, f64::max);
    assert!(quiet < 0.01, "no beep before the lead joined: {quiet}");

    // Key 2: whisper. The operator hears the lead; the caller does not.
    lena.send(PhoneCommand::Dtmf { call_id: lena.call_id(), keys: "2".into() });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (from_alice, from_caller) = (alice.hear(12_000).await, caller.hear(12_000).await);
    let whisper = (alice.share_since(from_alice, LEAD_HZ), caller.share_since(from_caller, LEAD_HZ));
    assert!(whisper.0 > 0.2 && whisper.1 < 0.05, "whispering, only the operator hears the lead: {whisper:?}");
    assert!(alice.share_since(from_alice, CALLER_HZ) > 0.2, "and still hears the caller");
    let told = alice.wait("alice's desk is told", |e| matches!(e, PhoneEvent::Monitored { .. })).await;
    assert!(matches!(&told, PhoneEvent::Monitored { mode: Some(m), .. } if m == "whisper"), "{told:?}");

    // Key 3: barge. Both hear the lead.
    lena.send(PhoneCommand::Dtmf { call_id: lena.call_id(), keys: "3".into() });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (from_alice, from_caller) = (alice.hear(12_000).await, caller.hear(12_000).await);
    let barge = (alice.share_since(from_alice, LEAD_HZ), caller.share_since(from_caller, LEAD_HZ));
    assert!(barge.0 > 0.2 && barge.1 > 0.2, "barging in, both hear the lead: {barge:?}");
    assert!(caller.share_since(from_caller, OPERATOR_HZ) > 0.2, "and the caller still hears the operator");
    let told = alice.wait("alice's desk is told", |e| matches!(e, PhoneEvent::Monitored { .. })).await;
    assert!(matches!(&told, PhoneEvent::Monitored { mode: Some(m), .. } if m == "barge"), "{told:?}");

    // The lead hangs up: alice's desk is told they left, and the call goes on.
    lena.send(PhoneCommand::Hangup { call_id: lena.call_id() });
    let told = alice.wait("alice's desk is told", |e| matches!(e, PhoneEvent::Monitored { .. })).await;
    assert!(matches!(told, PhoneEvent::Monitored { mode: None, .. }), "{told:?}");

    // The caller hangs up: the operator's call ends.
    caller.send(PhoneCommand::Hangup { call_id: call });
    alice.wait("alice's call ends", |e| matches!(e, PhoneEvent::Ended { .. })).await;
    lena.wait("lena's call has ended", |e| matches!(e, PhoneEvent::Ended { .. })).await;
}

/// A caller who waited long is offered a callback, presses 1 and hangs up; once an operator is
/// free, their desk is rung, and when they answer the hotline calls the customer back and
/// connects them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_asks_for_a_callback_is_called_back_when_an_operator_is_free() {
    let kamailio = Kamailio::start(PASSWORD);
    let spec = QueueSpec { callback_after_ms: Some(1_000), ..queue("support", 20_000) };
    let (hotline, mut reports) = hotline(&kamailio, vec![spec], &["alice"]).await;
    let mut alice = Phone::start(&kamailio, "alice", OPERATOR_HZ).await;
    let mut caller = Phone::start(&kamailio, "carol", CALLER_HZ).await;
    caller.dial_hotline();
    caller.wait("the hotline answers", |e| matches!(e, PhoneEvent::Answered { .. })).await;
    // After a second the callback is offered; the caller presses 1 and the hotline hangs up.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let first_call = caller.call_id();
    caller.send(PhoneCommand::Dtmf { call_id: first_call.clone(), keys: "1".into() });
    caller.wait("the hotline ends the waiting call", |e| matches!(e, PhoneEvent::Ended { .. })).await;
    let status = hotline.status().await.unwrap();
    assert_eq!(status.waiting.len(), 0, "a callback is not a caller on hold: {status:?}");

    // Alice becomes free: her desk rings for the callback, she answers, then carol's phone rings.
    hotline.agent_state("alice", AgentState::Available).unwrap();
    let incoming =
        alice.wait("alice's desk rings for the callback", |e| matches!(e, PhoneEvent::Incoming { .. })).await;
    let PhoneEvent::Incoming { call_id, display_name, .. } = incoming else { unreachable!() };
    assert!(display_name.unwrap_or_default().starts_with("callback"), "the desk says it is a callback");
    alice.send(PhoneCommand::Answer { call_id });
    let back = caller
        .wait("carol is called back", |e| matches!(e, PhoneEvent::Incoming { call_id, .. } if *call_id != first_call))
        .await;
    let PhoneEvent::Incoming { call_id: back_call, .. } = back else { unreachable!() };
    let from = caller.heard_len();
    caller.send(PhoneCommand::Answer { call_id: back_call.clone() });
    until("carol hears alice", || caller.share_since(from, OPERATOR_HZ) > 0.3).await;

    caller.send(PhoneCommand::Hangup { call_id: back_call });
    alice.wait("alice's call ends with the customer's", |e| matches!(e, PhoneEvent::Ended { .. })).await;
    let (kinds, all) = reported_until_ended(&mut reports).await;
    assert_eq!(
        kinds,
        [AcdEventKind::Queued, AcdEventKind::CallbackRequested, AcdEventKind::CallbackPlaced, AcdEventKind::Ended],
        "{all:#?}"
    );
}
