//! Whole calls between two user agents through the emulated network: a
//! golden ladder on a perfect link, and call setup/teardown surviving loss,
//! duplication and reordering for many seeds.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Link, Sim, agent};
use okno_sip::dialog::Dialog;
use okno_sip::message::{HeaderName, Message, Method, Request, Response};
use okno_sip::ua::UaEvent;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn invite() -> Request {
    let text = "INVITE sip:bob@192.0.2.2 SIP/2.0\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: call-net\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n";
    let Ok(Message::Request(r)) = Message::parse(text.as_bytes()) else { unreachable!() };
    r
}

#[derive(Debug, Default)]
struct Outcome {
    a_established: bool,
    b_acked: bool,
    bye_answered: bool,
    a_events: Vec<String>,
    b_events: Vec<String>,
    end: Duration,
}

/// A calls B; B rings then answers; A ACKs; A hangs up with BYE.
fn call(link: Link, seed: u64) -> (Outcome, Vec<String>) {
    let t0 = Instant::now();
    let (a_addr, b_addr) = (addr("192.0.2.1:5060"), addr("192.0.2.2:5060"));
    let mut sim = Sim::new(t0, link, seed, vec![(a_addr, agent("a", "192.0.2.1")), (b_addr, agent("b", "192.0.2.2"))]);
    let mut out = Outcome::default();
    let inv = invite();
    let ikey = sim.agents[0].1.send_request(t0, b_addr, inv);
    let mut dialog: Option<Dialog> = None;
    let mut ack: Option<Request> = None;
    loop {
        let events = sim.drain();
        if events.is_empty() {
            // Only advance time once the agents have nothing left to say.
            if !sim.step() {
                break;
            }
            continue;
        }
        for (who, ev) in events {
            let now = sim.now;
            let label = match &ev {
                UaEvent::Request { request, .. } => format!("request {}", request.method),
                UaEvent::Response { response, .. } => format!("response {}", response.status),
                UaEvent::Ack { .. } => "ack".into(),
                UaEvent::StrayResponse { response, .. } => format!("stray {}", response.status),
                other => format!("{other:?}"),
            };
            if who == 0 {
                out.a_events.push(label)
            } else {
                out.b_events.push(label)
            }
            match (who, ev) {
                (1, UaEvent::Request { key, request, .. }) if request.method == Method::Invite => {
                    let b = &mut sim.agents[1].1;
                    let mut ringing = Response::for_request(&request, 180, Some("b1"));
                    ringing.headers.push(HeaderName::Contact, "<sip:bob@192.0.2.2>");
                    b.send_response(now, &key, &ringing).unwrap();
                    let mut ok = Response::for_request(&request, 200, Some("b1"));
                    ok.headers.push(HeaderName::Contact, "<sip:bob@192.0.2.2>");
                    b.send_response(now, &key, &ok).unwrap();
                }
                (1, UaEvent::Request { key, request, .. }) if request.method == Method::Bye => {
                    sim.agents[1].1.send_response(now, &key, &Response::for_request(&request, 200, None)).unwrap();
                }
                (1, UaEvent::Ack { .. }) => out.b_acked = true,
                (0, UaEvent::Response { key, response }) if key == ikey && response.status == 200 => {
                    let a = &mut sim.agents[0].1;
                    let mut sent = invite();
                    sent.headers.push_front(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx");
                    let mut d = Dialog::from_uac(&sent, &response).unwrap();
                    let via = a.new_via();
                    let ack_req = d.new_request(Method::Ack, &via, None);
                    a.send_stateless(b_addr, &Message::Request(ack_req.clone()));
                    ack = Some(ack_req);
                    out.a_established = true;
                    // Hang up right away.
                    let via = a.new_via();
                    let bye = d.new_request(Method::Bye, &via, None);
                    a.send_request_with_via(now, b_addr, bye).unwrap();
                    dialog = Some(d);
                }
                (0, UaEvent::StrayResponse { response, .. }) if response.status == 200 => {
                    // A 2xx retransmission: the ACK was lost, send it again (§13.2.2.4).
                    if let (Some(a), Some(_)) = (&ack, &dialog)
                        && response.headers.cseq().is_ok_and(|c| c.method == Method::Invite)
                    {
                        sim.agents[0].1.send_stateless(b_addr, &Message::Request(a.clone()));
                    }
                }
                (0, UaEvent::Response { response, .. })
                    if response.headers.cseq().is_ok_and(|c| c.method == Method::Bye) =>
                {
                    out.bye_answered = true;
                }
                _ => {}
            }
        }
    }
    out.end = sim.now - t0;
    (out, sim.into_trace())
}

#[test]
fn golden_call_ladder() {
    let (out, trace) = call(Link::PERFECT, 1);
    assert!(out.a_established && out.b_acked && out.bye_answered);
    let text = trace.join("\n") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/call_ladder.txt");
    if std::env::var_os("OKNO_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("run with OKNO_UPDATE_GOLDEN=1 to create the golden file");
    assert_eq!(text, want, "ladder changed; rerun with OKNO_UPDATE_GOLDEN=1 if intended");
}

#[test]
fn calls_survive_loss_duplication_and_reordering() {
    let link = Link { loss: 200, dup: 100, delay: Duration::from_millis(20), jitter: Duration::from_millis(300) };
    let mut completed = 0;
    for seed in 1..=200 {
        let (out, _) = call(link, seed);
        // With 20% loss a transaction can legitimately time out (7 sends all
        // lost); everything else must succeed, and nothing may hang.
        if out.a_established && out.b_acked && out.bye_answered {
            completed += 1;
        }
        assert!(out.end < Duration::from_secs(200), "seed {seed} ran {:?}", out.end);
        assert!(out.b_events.iter().filter(|e| *e == "request INVITE").count() <= 1, "seed {seed}: {:?}", out.b_events);
    }
    eprintln!("{completed}/200 calls completed over the lossy link");
    assert!(completed >= 190, "only {completed}/200 calls completed");
}
