//! Phone engines in one process, on loopback, driven through the library API the desktop
//! uses: commands in, events out. A full call with answer, hold and resume both ways, DTMF,
//! a quality report and hang-up; a call cancelled before the answer; a call rejected with 486;
//! shutdown with a call up; refused commands; blind and attended transfer among three phones,
//! and a transfer the target refuses. Every wait has a timeout so a failure cannot hang.

use std::time::Duration;

use okno_phone::engine::{
    self, CallDirection, EngineConfig, ErrorCode, MediaSummary, Party, PhoneCommand, PhoneEvent, PhoneHandle,
};
use okno_phone::media::SilentMedia;
use okno_sip::message::CallInfo;
use okno_sip::uri::Uri;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

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
        Phone::start_with(name, |_| {}).await
    }

    async fn start_with(name: &'static str, configure: impl FnOnce(&mut EngineConfig)) -> Phone {
        let (tx, events) = mpsc::unbounded_channel();
        let mut config = EngineConfig::new("127.0.0.1:0".parse().unwrap());
        configure(&mut config);
        let (handle, task) = engine::spawn(config, Box::new(SilentMedia), tx).await.expect("engine starts");
        assert_ne!(handle.local_addr().port(), 0, "the real port is known");
        Phone { name, handle, task: Some(task), events, seen: Vec::new() }
    }

    /// Moves what the engine has reported so far into `seen`, without waiting.
    fn take_reported(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            self.seen.push(e);
        }
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

    /// How `call` ended: from the events already seen (calls may end in either order), else
    /// the next ones.
    async fn ended(&mut self, call: &str) -> (String, bool, Option<MediaSummary>) {
        let pick = |e: &PhoneEvent| match e {
            PhoneEvent::Ended { call_id, cause, answered, media, .. } if call_id == call => {
                Some((cause.to_string(), *answered, media.clone()))
            }
            _ => None,
        };
        match self.seen.iter().find_map(pick) {
            Some(seen) => seen,
            None => self.wait_for("ended", pick).await,
        }
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
    let page = CallInfo::new("https://shop.example/cart?item=5512", Some("info")).unwrap();
    a.send(PhoneCommand::Dial {
        to: b.uri(),
        display_name: Some("Pavel (website)".into()),
        call_info: vec![page.clone(), CallInfo::new("urn:okno:ticket:t-1", Some("okno-ticket")).unwrap()],
    });
    let id = a
        .wait_for("calling", |e| match e {
            PhoneEvent::Calling { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .await;
    let (incoming, display_name, call_info) = b
        .wait_for("incoming", |e| match e {
            PhoneEvent::Incoming { call_id, display_name, call_info, .. } => {
                Some((call_id.clone(), display_name.clone(), call_info.clone()))
            }
            _ => None,
        })
        .await;
    assert_eq!(incoming, id, "both sides name the call by its Call-ID");
    assert_eq!(display_name.as_deref(), Some("Pavel (website)"), "B sees who calls");
    assert_eq!(call_info.len(), 2, "{call_info:?}");
    assert_eq!(call_info[0], page, "B sees the page the caller calls from");
    assert_eq!((call_info[1].uri(), call_info[1].purpose()), ("urn:okno:ticket:t-1", Some("okno-ticket")));
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
async fn a_spoofed_bye_with_the_right_call_id_but_not_the_dialog_s_tags_is_refused() {
    let mut a = Phone::start("alice").await;
    let mut b = Phone::start("bob").await;
    let id = dial(&mut a, &mut b).await;
    answer(&mut a, &mut b, &id).await;
    // Someone who sniffed the Call-ID (not the tags) tries to hang up bob's call.
    let spoofer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let here = spoofer.local_addr().unwrap();
    let bye = format!(
        "BYE {} SIP/2.0\r\nVia: SIP/2.0/UDP {here};branch=z9hG4bKspoof1\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@{here}>;tag=forged\r\nTo: <{}>;tag=guessed\r\nCall-ID: {id}\r\nCSeq: 9 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        b.uri(),
        b.uri()
    );
    spoofer.send_to(bye.as_bytes(), b.handle.local_addr()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = timeout(WAIT, spoofer.recv_from(&mut buf)).await.expect("an answer").unwrap();
    let answer_line = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned();
    assert!(answer_line.starts_with("SIP/2.0 481 "), "the spoofed BYE is refused: {answer_line}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.take_reported();
    assert!(!b.seen.iter().any(|e| matches!(e, PhoneEvent::Ended { .. })), "bob's call goes on: {:#?}", b.seen);
    // The real BYE still ends it.
    a.send(PhoneCommand::Hangup { call_id: id.clone() });
    let (cause, answered, _) = b.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("remote_bye", true));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_phone_behind_a_registrar_refuses_calls_that_bypass_it() {
    let mut a = Phone::start("alice").await;
    // Bob's registrar (which never answers here): his calls must come from there.
    let registrar = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut b = Phone::start_with("bob", |c| c.registrar = Some(registrar.local_addr().unwrap())).await;
    a.send(PhoneCommand::Dial { to: b.uri(), display_name: None, call_info: Vec::new() });
    let status = a
        .wait_for("rejected", |e| match e {
            PhoneEvent::Rejected { status, .. } => Some(*status),
            _ => None,
        })
        .await;
    assert_eq!(status, 403, "a call straight to bob's port is refused");
    b.take_reported();
    assert!(!b.seen.iter().any(|e| matches!(e, PhoneEvent::Incoming { .. })), "bob's desk never rang");
    // The same desk with direct calls allowed (a lab without a PBX) rings.
    let mut c = Phone::start_with("carol", |c| {
        c.registrar = Some(registrar.local_addr().unwrap());
        c.calls_only_from_registrar = false;
    })
    .await;
    a.send(PhoneCommand::Dial { to: c.uri(), display_name: None, call_info: Vec::new() });
    c.wait_for("incoming", |e| matches!(e, PhoneEvent::Incoming { .. }).then_some(())).await;
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

#[tokio::test]
async fn a_refer_to_a_host_outside_the_allowed_ones_is_refused_and_the_call_stays() {
    // The desk's side only follows transfers within its PBX; this "customer" asks it to dial
    // somewhere else.
    let mut caller = Phone::start("caller").await;
    let mut desk = Phone::start_with("desk", |c| c.refer_hosts = Some(vec!["pbx.example".into()])).await;
    let elsewhere = Phone::start("elsewhere").await;
    let id = dial(&mut caller, &mut desk).await;
    answer(&mut caller, &mut desk, &id).await;
    caller.send(PhoneCommand::Transfer { call_id: id.clone(), to: elsewhere.uri() });
    let status = caller
        .wait_for("the transfer refused", |e| match e {
            PhoneEvent::TransferFailed { status, .. } => Some(*status),
            _ => None,
        })
        .await;
    assert_eq!(status, Some(403));
    desk.take_reported();
    assert!(!desk.seen.iter().any(|e| matches!(e, PhoneEvent::Referred { .. })), "the desk placed no call");
    caller.send(PhoneCommand::Hangup { call_id: id.clone() });
    let (cause, answered, _) = desk.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("remote_bye", true), "the call went on until hung up");
    caller.stop().await;
    desk.stop().await;
    elsewhere.stop().await;
}

#[tokio::test]
async fn calls_beyond_the_cap_are_answered_busy() {
    let mut a = Phone::start("alice").await;
    let mut b = Phone::start_with("bob", |c| c.max_calls = 1).await;
    let first = dial(&mut a, &mut b).await;
    a.send(PhoneCommand::Dial { to: b.uri(), display_name: None, call_info: Vec::new() });
    let status = a
        .wait_for("the second call refused", |e| match e {
            PhoneEvent::Rejected { call_id, status } if *call_id != first => Some(*status),
            _ => None,
        })
        .await;
    assert_eq!(status, 486);
    a.stop().await;
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
    let ended: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            PhoneEvent::Ended { cause, .. } => Some(cause.to_string()),
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

/// B answers A's ringing call `id`; both see it answered.
async fn answer(a: &mut Phone, b: &mut Phone, id: &str) {
    b.send(PhoneCommand::Answer { call_id: id.to_owned() });
    for p in [b, a] {
        p.wait_for("answered", |e| matches!(e, PhoneEvent::Answered { call_id, .. } if call_id == id).then_some(()))
            .await;
    }
}

/// The customer's side of a transfer: the REFER's new call, once placed.
async fn referred(customer: &mut Phone, original: &str) -> String {
    customer
        .wait_for("referred", |e| match e {
            PhoneEvent::Referred { call_id, new_call_id, .. } if call_id == original => Some(new_call_id.clone()),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn blind_transfer_hands_the_caller_to_another_phone() {
    let mut customer = Phone::start("customer").await;
    let mut desk = Phone::start("desk").await;
    let mut colleague = Phone::start("colleague").await;
    let id = dial(&mut customer, &mut desk).await;

    // A ringing call cannot be transferred, and an unknown one is unknown.
    desk.send(PhoneCommand::Transfer { call_id: id.clone(), to: colleague.uri() });
    desk.wait_for("error", |e| matches!(e, PhoneEvent::Error { code: ErrorCode::TransferFailed, .. }).then_some(()))
        .await;
    desk.send(PhoneCommand::Transfer { call_id: "nope".into(), to: colleague.uri() });
    desk.wait_for("error", |e| matches!(e, PhoneEvent::Error { code: ErrorCode::UnknownCall, .. }).then_some(())).await;

    answer(&mut customer, &mut desk, &id).await;
    desk.send(PhoneCommand::Transfer { call_id: id.clone(), to: colleague.uri() });
    let new_call = referred(&mut customer, &id).await;
    let incoming = colleague
        .wait_for("incoming", |e| match e {
            PhoneEvent::Incoming { call_id, from, .. } => Some((call_id.clone(), from.clone())),
            _ => None,
        })
        .await;
    assert_eq!(incoming.0, new_call, "the colleague rings with the customer's new call");
    let customer_addr = customer.handle.local_addr().to_string();
    assert!(incoming.1.ends_with(&customer_addr), "the colleague sees the customer calling: {}", incoming.1);
    let to = desk
        .wait_for("transferring", |e| match e {
            PhoneEvent::Transferring { to, .. } => Some(to.clone()),
            _ => None,
        })
        .await;
    assert_eq!(to, colleague.uri().to_string());

    answer(&mut customer, &mut colleague, &new_call).await;
    desk.wait_for("transferred", |e| {
        matches!(e, PhoneEvent::Transferred { call_id, .. } if *call_id == id).then_some(())
    })
    .await;
    let (cause, answered, _) = desk.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("transferred", true));
    let (cause, _, _) = customer.ended(&id).await;
    assert_eq!(cause, "remote_bye", "the desk hangs up its leg once the colleague answered");

    // Customer and colleague talk; the desk is out of it.
    colleague
        .wait_for("audio from the customer", |e| match e {
            PhoneEvent::Quality { call_id, stats } if *call_id == new_call && stats.packets_received > 0 => Some(()),
            _ => None,
        })
        .await;
    customer.send(PhoneCommand::Hangup { call_id: new_call.clone() });
    let (cause, answered, _) = colleague.ended(&new_call).await;
    assert_eq!((cause.as_str(), answered), ("remote_bye", true));
    for p in [customer, desk, colleague] {
        p.stop().await;
    }
}

#[tokio::test]
async fn a_transfer_the_target_refuses_keeps_the_call() {
    let mut customer = Phone::start("customer").await;
    let mut desk = Phone::start("desk").await;
    let mut colleague = Phone::start("colleague").await;
    let id = dial(&mut customer, &mut desk).await;
    answer(&mut customer, &mut desk, &id).await;

    desk.send(PhoneCommand::Transfer { call_id: id.clone(), to: colleague.uri() });
    let new_call = referred(&mut customer, &id).await;
    colleague.wait_for("incoming", |e| matches!(e, PhoneEvent::Incoming { .. }).then_some(())).await;
    colleague.send(PhoneCommand::Reject { call_id: new_call.clone(), status: 486 });
    let status = desk
        .wait_for("transfer failed", |e| match e {
            PhoneEvent::TransferFailed { status, .. } => Some(*status),
            _ => None,
        })
        .await;
    assert_eq!(status, Some(486), "the desk hears why");
    let (cause, _, _) = customer.ended(&new_call).await;
    assert_eq!(cause, "status_486");

    // The customer is still with the desk, who can hang up as usual.
    desk.send(PhoneCommand::Hangup { call_id: id.clone() });
    let (cause, answered, _) = desk.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("local_bye", true));
    for p in [customer, desk, colleague] {
        p.stop().await;
    }
}

#[tokio::test]
async fn attended_transfer_replaces_the_consult_call() {
    let mut customer = Phone::start("customer").await;
    let mut desk = Phone::start("desk").await;
    let mut colleague = Phone::start("colleague").await;
    let id = dial(&mut customer, &mut desk).await;
    answer(&mut customer, &mut desk, &id).await;
    desk.send(PhoneCommand::Hold { call_id: id.clone(), hold: true });
    desk.wait_for("held", |e| held(e, true, Party::Local)).await;

    // The consult call: the desk talks to the colleague first.
    let consult = dial(&mut desk, &mut colleague).await;
    // Completing before the colleague answers is refused.
    desk.send(PhoneCommand::AttendedTransfer { call_id: id.clone(), consult_call_id: consult.clone() });
    desk.wait_for("error", |e| matches!(e, PhoneEvent::Error { code: ErrorCode::TransferFailed, .. }).then_some(()))
        .await;
    answer(&mut desk, &mut colleague, &consult).await;

    desk.send(PhoneCommand::AttendedTransfer { call_id: id.clone(), consult_call_id: consult.clone() });
    let new_call = referred(&mut customer, &id).await;
    let (taken, replaced) = colleague
        .wait_for("replaced", |e| match e {
            PhoneEvent::Replaced { call_id, replaces, .. } => Some((call_id.clone(), replaces.clone())),
            _ => None,
        })
        .await;
    assert_eq!((taken.as_str(), replaced.as_str()), (new_call.as_str(), consult.as_str()));
    let (cause, _, _) = colleague.ended(&consult).await;
    assert_eq!(cause, "replaced");
    assert!(
        !colleague.seen.iter().any(|e| matches!(e, PhoneEvent::Incoming { call_id, .. } if *call_id == new_call)),
        "the replacing call does not ring"
    );

    let (cause, answered, _) = desk.ended(&id).await;
    assert_eq!((cause.as_str(), answered), ("transferred", true));
    let (cause, _, _) = desk.ended(&consult).await;
    assert_eq!(cause, "remote_bye");
    customer
        .wait_for("answered", |e| {
            matches!(e, PhoneEvent::Answered { call_id, .. } if *call_id == new_call).then_some(())
        })
        .await;

    colleague.send(PhoneCommand::Hangup { call_id: new_call.clone() });
    let (cause, answered, _) = customer.ended(&new_call).await;
    assert_eq!((cause.as_str(), answered), ("remote_bye", true));
    for p in [customer, desk, colleague] {
        p.stop().await;
    }
}

#[tokio::test]
async fn three_calls_at_once_are_kept_apart() {
    let mut hub = Phone::start("hub").await;
    let mut callers = [Phone::start("a").await, Phone::start("b").await, Phone::start("c").await];
    for c in &callers {
        c.send(PhoneCommand::Dial { to: hub.uri(), display_name: None, call_info: Vec::new() });
    }
    let mut ids = Vec::new();
    for c in callers.iter_mut() {
        ids.push(
            c.wait_for("calling", |e| match e {
                PhoneEvent::Calling { call_id, .. } => Some(call_id.clone()),
                _ => None,
            })
            .await,
        );
    }
    for _ in 0..3 {
        let id = hub
            .wait_for("incoming", |e| match e {
                PhoneEvent::Incoming { call_id, .. } => Some(call_id.clone()),
                _ => None,
            })
            .await;
        assert!(ids.contains(&id), "an incoming call is one of the three: {id}");
        hub.send(PhoneCommand::Answer { call_id: id });
    }
    for (c, id) in callers.iter_mut().zip(&ids) {
        c.wait_for("answered", |e| matches!(e, PhoneEvent::Answered { call_id, .. } if call_id == id).then_some(()))
            .await;
    }
    // Each call has its own media; hold one, hang up another, the third is untouched.
    hub.send(PhoneCommand::Hold { call_id: ids[0].clone(), hold: true });
    callers[0].wait_for("held", |e| held(e, true, Party::Remote)).await;
    hub.send(PhoneCommand::Hangup { call_id: ids[1].clone() });
    let (cause, _, _) = callers[1].ended(&ids[1]).await;
    assert_eq!(cause, "remote_bye");
    let (cause, _, _) = hub.ended(&ids[1]).await;
    assert_eq!(cause, "local_bye");
    let stats = callers[2]
        .wait_for("quality", |e| match e {
            PhoneEvent::Quality { call_id, stats } if *call_id == ids[2] => Some(stats.clone()),
            _ => None,
        })
        .await;
    assert!(stats.packets_received > 0, "the third call still carries audio: {stats:?}");
    for (c, id) in callers.iter_mut().zip(&ids).filter(|(_, id)| **id != ids[1]) {
        c.send(PhoneCommand::Hangup { call_id: id.clone() });
        let (cause, answered, _) = hub.ended(id).await;
        assert_eq!((cause.as_str(), answered), ("remote_bye", true));
    }
    assert!(!hub.seen.iter().any(|e| matches!(e, PhoneEvent::Error { .. })), "no command was refused: {:#?}", hub.seen);
    hub.stop().await;
    for c in callers {
        c.stop().await;
    }
}
