//! Two phone engines in one process, on loopback, driven through the library API the desktop
//! uses: commands in, events out. A full call with answer, hold and resume both ways, DTMF,
//! a quality report and hang-up; a call cancelled before the answer; a call rejected with 486;
//! shutdown with a call up; refused commands. Every wait has a timeout so a failure cannot hang.

use std::time::Duration;

use okno_phone::engine::{
    self, CallDirection, EngineConfig, ErrorCode, MediaIo, MediaSummary, Party, PhoneCommand, PhoneEvent, PhoneHandle,
};
use okno_phone::media::{AudioSink, AudioSource, Discard, Silence};
use okno_sip::uri::Uri;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

struct SilentMedia;

impl MediaIo for SilentMedia {
    fn open(&mut self, _call_id: &str, _number: u32, _rate: u32) -> (Box<dyn AudioSource>, Box<dyn AudioSink>) {
        (Box::new(Silence), Box::new(Discard))
    }
}

/// One engine and everything it reported so far.
struct Phone {
    name: &'static str,
    handle: PhoneHandle,
    task: Option<tokio::task::JoinHandle<()>>,
    events: mpsc::UnboundedReceiver<PhoneEvent>,
    seen: Vec<PhoneEvent>,
}

impl Phone {
    async fn start(name: &'static str) -> Phone {
        let (tx, events) = mpsc::unbounded_channel();
        let config = EngineConfig::new("127.0.0.1:0".parse().unwrap());
        let (handle, task) = engine::spawn(config, Box::new(SilentMedia), tx).await.expect("engine starts");
        assert_ne!(handle.local_addr().port(), 0, "the real port is known");
        Phone { name, handle, task: Some(task), events, seen: Vec::new() }
    }

    fn uri(&self) -> Uri {
        Uri::parse(&format!("sip:{}@{}", self.name, self.handle.local_addr())).unwrap()
    }

    fn send(&self, cmd: PhoneCommand) {
        self.handle.send(cmd).expect("engine running");
    }

    /// The next event (skipping others) that `want` picks, within `WAIT`.
    async fn wait_for<T>(&mut self, what: &str, want: impl Fn(&PhoneEvent) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => e,
                Ok(None) => panic!("{}: engine stopped while waiting for {what}; saw {:#?}", self.name, self.seen),
                Err(_) => panic!("{}: no {what} within {WAIT:?}; saw {:#?}", self.name, self.seen),
            };
            self.seen.push(event.clone());
            if let Some(t) = want(&event) {
                return t;
            }
        }
    }

    async fn ended(&mut self, call: &str) -> (String, bool, Option<MediaSummary>) {
        self.wait_for("ended", |e| match e {
            PhoneEvent::Ended { call_id, cause, answered, media, .. } if call_id == call => {
                Some((cause.clone(), *answered, media.clone()))
            }
            _ => None,
        })
        .await
    }

    /// Shuts the engine down and waits for its task and the end of its events.
    async fn stop(mut self) -> Vec<PhoneEvent> {
        let _ = self.handle.send(PhoneCommand::Shutdown);
        let task = self.task.take().unwrap();
        timeout(WAIT, task).await.expect("engine stops in time").expect("engine task did not panic");
        while let Ok(Some(e)) = timeout(WAIT, self.events.recv()).await {
            self.seen.push(e);
        }
        assert!(
            matches!(self.handle.send(PhoneCommand::Register), Err(engine::EngineError::Stopped)),
            "a stopped engine refuses commands"
        );
        self.seen
    }
}

/// A dials B and B rings; returns the call id both know it by.
async fn dial(a: &mut Phone, b: &mut Phone) -> String {
    a.send(PhoneCommand::Dial { to: b.uri() });
    let id = a
        .wait_for("calling", |e| match e {
            PhoneEvent::Calling { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .await;
    let (incoming, display_name) = b
        .wait_for("incoming", |e| match e {
            PhoneEvent::Incoming { call_id, display_name, .. } => Some((call_id.clone(), display_name.clone())),
            _ => None,
        })
        .await;
    assert_eq!(incoming, id, "both sides name the call by its Call-ID");
    assert_eq!(display_name, None, "A's From has no display name");
    a.wait_for("ringing", |e| matches!(e, PhoneEvent::Ringing { status: 180, .. }).then_some(())).await;
    id
}

fn held(e: &PhoneEvent, hold: bool, who: Party) -> Option<()> {
    match e {
        PhoneEvent::Held { by, .. } if hold && *by == who => Some(()),
        PhoneEvent::Resumed { by, .. } if !hold && *by == who => Some(()),
        _ => None,
    }
}

#[tokio::test]
async fn call_with_hold_resume_dtmf_and_hangup() {
    let mut a = Phone::start("alice").await;
    let mut b = Phone::start("bob").await;
    let id = dial(&mut a, &mut b).await;

    b.send(PhoneCommand::Answer { call_id: id.clone() });
    let dir = b
        .wait_for("answered", |e| match e {
            PhoneEvent::Answered { direction, .. } => Some(*direction),
            _ => None,
        })
        .await;
    assert_eq!(dir, CallDirection::Inbound);
    let dir = a
        .wait_for("answered", |e| match e {
            PhoneEvent::Answered { direction, .. } => Some(*direction),
            _ => None,
        })
        .await;
    assert_eq!(dir, CallDirection::Outbound);
    for p in [&mut a, &mut b] {
        let (codec, te) = p
            .wait_for("media", |e| match e {
                PhoneEvent::Media { codec, telephone_event, .. } => Some((codec.clone(), *telephone_event)),
                _ => None,
            })
            .await;
        assert_eq!(codec, "PCMU");
        assert!(te.is_some(), "both sides offer telephone-event");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Hold: B hears of it from A's re-INVITE, A when B accepted it.
    a.send(PhoneCommand::Hold { call_id: id.clone(), hold: true });
    b.wait_for("held by remote", |e| held(e, true, Party::Remote)).await;
    a.wait_for("held by local", |e| held(e, true, Party::Local)).await;
    let json = serde_json::to_value(a.seen.last().unwrap()).unwrap();
    assert_eq!(json, serde_json::json!({ "event": "held", "call_id": id, "by": "local" }));
    // While held neither side sends: two quality reports 2 s apart show no new packets
    // (but the few in flight when the hold began).
    let received = |e: &PhoneEvent| match e {
        PhoneEvent::Quality { stats, .. } => Some(stats.packets_received),
        _ => None,
    };
    for p in [&mut a, &mut b] {
        let first = p.wait_for("quality", received).await;
        let second = p.wait_for("quality", received).await;
        assert!(second - first <= 3, "{}: {first} then {second} packets while held", p.name);
    }
    // Answering an answered call is refused with an error event.
    b.send(PhoneCommand::Answer { call_id: id.clone() });
    b.wait_for("error", |e| matches!(e, PhoneEvent::Error { code: ErrorCode::InvalidState, .. }).then_some(())).await;

    a.send(PhoneCommand::Hold { call_id: id.clone(), hold: false });
    b.wait_for("resumed by remote", |e| held(e, false, Party::Remote)).await;
    a.wait_for("resumed by local", |e| held(e, false, Party::Local)).await;

    a.send(PhoneCommand::Dtmf { call_id: id.clone(), keys: "12#".into() });
    let mut keys = String::new();
    while keys.len() < 3 {
        keys += &b
            .wait_for("dtmf", |e| match e {
                PhoneEvent::Dtmf { key, .. } => Some(key.clone()),
                _ => None,
            })
            .await;
    }
    assert_eq!(keys, "12#");

    // A quality report comes every 2 s while media runs.
    let stats = a
        .wait_for("quality", |e| match e {
            PhoneEvent::Quality { stats, .. } => Some(stats.clone()),
            _ => None,
        })
        .await;
    assert!(stats.packets_received > 0, "{stats:?}");

    a.send(PhoneCommand::Hangup { call_id: id.clone() });
    let (cause, answered, media) = a.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("local_bye", true));
    let media = media.expect("A's media figures");
    assert!(media.packets_received > 20 && media.packets_sent > 20, "{media:?}");
    assert_eq!(media.dtmf_sent, 3, "{media:?}");
    let (cause, answered, media) = b.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("remote_bye", true));
    let media = media.expect("B's media figures");
    assert!(media.packets_received > 20, "{media:?}");
    assert_eq!(media.dtmf_received, 3, "{media:?}");

    // Commands about a call that is gone are refused with an error event, nothing else.
    a.send(PhoneCommand::Hangup { call_id: id.clone() });
    let code = a
        .wait_for("error", |e| match e {
            PhoneEvent::Error { code, call_id, .. } => Some((*code, call_id.clone())),
            _ => None,
        })
        .await;
    assert_eq!(code, (ErrorCode::UnknownCall, Some(id.clone())));

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn hanging_up_before_the_answer_cancels() {
    let mut a = Phone::start("alice").await;
    let mut b = Phone::start("bob").await;
    let id = dial(&mut a, &mut b).await;
    a.send(PhoneCommand::Hangup { call_id: id.clone() });
    let (cause, answered, media) = b.ended(&id).await;
    assert_eq!((cause.as_str(), answered, media), ("cancelled", false, None));
    let (cause, answered, _) = a.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("local_cancel", false));
    let a_seen = a.stop().await;
    assert!(
        !a_seen.iter().any(|e| matches!(e, PhoneEvent::Rejected { .. })),
        "a cancel is not a rejection: {a_seen:#?}"
    );
    b.stop().await;
}

#[tokio::test]
async fn a_busy_callee_rejects_with_486() {
    let mut a = Phone::start("alice").await;
    let mut b = Phone::start("bob").await;
    let id = dial(&mut a, &mut b).await;
    b.send(PhoneCommand::Reject { call_id: id.clone(), status: 200 });
    b.wait_for("error", |e| matches!(e, PhoneEvent::Error { code: ErrorCode::InvalidArgument, .. }).then_some(()))
        .await;
    b.send(PhoneCommand::Reject { call_id: id.clone(), status: 486 });
    let status = a
        .wait_for("rejected", |e| match e {
            PhoneEvent::Rejected { status, .. } => Some(*status),
            _ => None,
        })
        .await;
    assert_eq!(status, 486);
    let (cause, answered, _) = a.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("status_486", false));
    let (cause, answered, _) = b.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("local_reject", false));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn shutdown_hangs_up_the_calls_and_stops() {
    let mut a = Phone::start("alice").await;
    let mut b = Phone::start("bob").await;
    let id = dial(&mut a, &mut b).await;
    b.send(PhoneCommand::Answer { call_id: id.clone() });
    a.wait_for("media", |e| matches!(e, PhoneEvent::Media { .. }).then_some(())).await;
    let seen = a.stop().await;
    let ended: Vec<&str> = seen
        .iter()
        .filter_map(|e| match e {
            PhoneEvent::Ended { cause, .. } => Some(cause.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ended, ["local_bye"], "{seen:#?}");
    let (cause, answered, _) = b.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("remote_bye", true));
    b.stop().await;
}

#[tokio::test]
async fn a_taken_port_is_an_error() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = EngineConfig::new(taken.local_addr().unwrap());
    let err = engine::spawn(config, Box::new(SilentMedia), tx).await.expect_err("bind fails");
    assert!(matches!(err, engine::EngineError::Bind { .. }), "{err}");
}
