//! Two user agents (and a toy registrar) exchanging datagrams in virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use okno_sip::auth::{Algorithm, Authorization, Credentials};
use okno_sip::dialog::Dialog;
use okno_sip::message::typed::Transport;
use okno_sip::message::{HeaderName, Message, Method, NameAddr, ParserConfig, Request, Response};
use okno_sip::transaction::TimerConfig;
use okno_sip::ua::{Output, Registration, RegistrationConfig, RegistrationEvent, UaConfig, UaEvent, UserAgent};
use okno_sip::uri::{Host, Uri};

const A: &str = "192.0.2.1:5060";
const B: &str = "192.0.2.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ua(prefix: &str, ip: &str) -> UserAgent {
    UserAgent::new(UaConfig {
        via_host: Host::parse(ip).unwrap(),
        via_port: Some(5060),
        transport: Transport::Udp,
        timers: TimerConfig::default(),
        parser: ParserConfig::default(),
        id_prefix: prefix.into(),
        user_agent: Some("Okno-test".into()),
    })
}

/// Drains one agent: returns (transmits, events).
fn drain(u: &mut UserAgent) -> (Vec<(SocketAddr, Vec<u8>)>, Vec<UaEvent>) {
    let mut tx = Vec::new();
    let mut ev = Vec::new();
    while let Some(o) = u.poll_output() {
        match o {
            Output::Transmit { to, bytes } => tx.push((to, bytes)),
            Output::Event(e) => ev.push(e),
        }
    }
    (tx, ev)
}

/// Delivers everything `from` has to send to `to`; returns `to`'s events.
fn pump(now: Instant, from: &mut UserAgent, from_addr: &str, to: &mut UserAgent) -> (Vec<UaEvent>, Vec<UaEvent>) {
    let (tx, ev_from) = drain(from);
    for (_, bytes) in tx {
        to.handle_datagram(now, addr(from_addr), &bytes);
    }
    let (back, ev_to) = drain(to);
    for (_, bytes) in back {
        from.handle_datagram(now, addr(if from_addr == A { B } else { A }), &bytes);
    }
    let (_, more_from) = drain(from);
    (ev_from.into_iter().chain(more_from).collect(), ev_to)
}

fn invite() -> Request {
    let text = "INVITE sip:bob@192.0.2.2 SIP/2.0\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n";
    match Message::parse(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

#[test]
fn malformed_requests_get_400_with_reason_and_505() {
    let t0 = Instant::now();
    let mut b = ua("b", "192.0.2.2");
    for name in ["badinv01", "lwsstart", "mismatch01", "insuf", "badvers", "ncl"] {
        let p = format!("{}/tests/rfc4475/{name}.sip", env!("CARGO_MANIFEST_DIR"));
        b.handle_datagram(t0, addr(A), &std::fs::read(p).unwrap());
        let (tx, ev) = drain(&mut b);
        assert_eq!(tx.len(), 1, "{name}: one response");
        // The Via is copied verbatim, so badinv01's own 400 carries its broken
        // Via back; check the text rather than re-parsing.
        let text = String::from_utf8_lossy(&tx[0].1).into_owned();
        let want = if name == "badvers" { "SIP/2.0 505 Version Not Supported (" } else { "SIP/2.0 400 Bad Request (" };
        assert!(text.starts_with(want), "{name}: {text}");
        assert!(text.contains("\r\nVia: SIP/"), "{name}: Via copied");
        assert!(matches!(&ev[..], [UaEvent::Malformed { responded: true, .. }]), "{name}: {ev:?}");
    }
    // Responses and noise are dropped silently.
    for junk in [&b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n"[..], b"\0\0\0\0", b"hello\r\n\r\n"] {
        b.handle_datagram(t0, addr(A), junk);
        let (tx, ev) = drain(&mut b);
        assert!(tx.is_empty());
        assert!(matches!(&ev[..], [UaEvent::Malformed { responded: false, .. }]));
    }
}

#[test]
fn invite_call_flow_with_retransmission_ack_and_bye() {
    let t0 = Instant::now();
    let mut a = ua("a", "192.0.2.1");
    let mut b = ua("b", "192.0.2.2");
    let inv = invite();
    let ikey = a.send_request(t0, addr(B), inv);
    // Deliver the INVITE twice (a retransmission): only one Request event; 100 resent.
    let (tx, _) = drain(&mut a);
    let bytes = tx[0].1.clone();
    b.handle_datagram(t0, addr(A), &bytes);
    b.handle_datagram(t0 + Duration::from_millis(500), addr(A), &bytes);
    let (btx, bev) = drain(&mut b);
    assert_eq!(btx.len(), 2, "100 Trying sent and repeated");
    assert_eq!(bev.len(), 1);
    let UaEvent::Request { key: skey, request, .. } = bev[0].clone() else { panic!("{bev:?}") };
    for (_, r) in btx {
        a.handle_datagram(t0, addr(B), &r);
    }
    assert!(drain(&mut a).1.is_empty(), "100 absorbed");

    // B answers 180 then 200 with a Contact; A sees both.
    let mut ringing = Response::for_request(&request, 180, Some("b1"));
    ringing.headers.push(HeaderName::Contact, "<sip:bob@192.0.2.2>");
    b.send_response(t0, &skey, &ringing).unwrap();
    let mut ok = Response::for_request(&request, 200, Some("b1"));
    ok.headers.push(HeaderName::Contact, "<sip:bob@192.0.2.2>");
    b.send_response(t0, &skey, &ok).unwrap();
    let (_, aev) = {
        let (tx, _) = drain(&mut b);
        for (_, r) in tx {
            a.handle_datagram(t0, addr(B), &r);
        }
        drain(&mut a)
    };
    let statuses: Vec<u16> = aev
        .iter()
        .filter_map(|e| match e {
            UaEvent::Response { key, response } if *key == ikey => Some(response.status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, vec![180, 200]);
    let UaEvent::Response { response: ok_rx, .. } = aev[1].clone() else { unreachable!() };

    // A builds the dialog and the ACK (new branch, CSeq 1 ACK) outside any transaction.
    let sent_invite = {
        let mut r = invite();
        r.headers.push_front(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx");
        r
    };
    let mut dialog = Dialog::from_uac(&sent_invite, &ok_rx).unwrap();
    let via = a.new_via();
    let ack = dialog.new_request(Method::Ack, &via, None);
    assert_eq!(ack.headers.cseq().unwrap().seq, 1);
    a.send_stateless(addr(B), &Message::Request(ack));
    let (_, bev) = pump(t0, &mut a, A, &mut b);
    assert!(matches!(&bev[..], [UaEvent::Ack { .. }]), "{bev:?}");

    // BYE from A inside the dialog; B answers 200.
    let via = a.new_via();
    let bye = dialog.new_request(Method::Bye, &via, None);
    assert_eq!(bye.uri.to_string(), "sip:bob@192.0.2.2");
    let bkey = a.send_request_with_via(t0, addr(B), bye).unwrap();
    let (_, bev) = pump(t0, &mut a, A, &mut b);
    let UaEvent::Request { key, request: bye_rx, .. } = bev[0].clone() else { panic!("{bev:?}") };
    assert_eq!(bye_rx.method, Method::Bye);
    b.send_response(t0, &key, &Response::for_request(&bye_rx, 200, None)).unwrap();
    let (aev, _) = pump(t0, &mut b, B, &mut a);
    let _ = aev;
    let (_, aev) = drain(&mut a);
    let _ = aev;
    // After Timer J/K, everything is cleaned up.
    let mut now = t0;
    while let Some(t) = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min() {
        now = t;
        a.handle_timeout(now);
        b.handle_timeout(now);
        drain(&mut a);
        drain(&mut b);
    }
    assert_eq!(a.transaction_count(), (0, 0));
    assert_eq!(b.transaction_count(), (0, 0));
    assert!(now - t0 <= Duration::from_secs(33));
    let _ = bkey;
}

#[test]
fn cancel_flow() {
    let t0 = Instant::now();
    let mut a = ua("a", "192.0.2.1");
    let mut b = ua("b", "192.0.2.2");
    let ikey = a.send_request(t0, addr(B), invite());
    let (_, bev) = pump(t0, &mut a, A, &mut b);
    let UaEvent::Request { key: skey, request, .. } = bev[0].clone() else { panic!() };
    b.send_response(t0, &skey, &Response::for_request(&request, 180, Some("b1"))).unwrap();
    pump(t0, &mut b, B, &mut a);
    let ckey = a.cancel(t0, &ikey).unwrap();
    assert_eq!(ckey.method, Method::Cancel);
    let (aev, bev) = pump(t0, &mut a, A, &mut b);
    assert!(bev.contains(&UaEvent::Cancelled { invite: skey.clone() }), "{bev:?}");
    assert!(
        aev.iter().any(|e| matches!(e, UaEvent::Response { key, response } if *key == ckey && response.status == 200))
    );
    // B ends the INVITE with 487; A's transaction ACKs it automatically.
    b.send_response(t0, &skey, &Response::for_request(&request, 487, Some("b1"))).unwrap();
    let (_, aev) = pump(t0, &mut b, B, &mut a);
    assert!(
        aev.iter().any(|e| matches!(e, UaEvent::Response { key, response } if *key == ikey && response.status == 487))
    );
    // CANCEL for an unknown INVITE gets 481.
    let mut c = okno_sip::transaction::build_cancel(&request);
    c.headers.set(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnothere");
    b.handle_datagram(t0, addr(A), &c.to_bytes());
    let (tx, _) = drain(&mut b);
    let r = Message::parse(&tx[0].1).unwrap();
    assert_eq!(r.as_response().unwrap().status, 481);
}

/// A toy registrar answering 401 then checking the digest.
fn registrar(now: Instant, r: &mut UserAgent, nonce: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let (_, ev) = drain(r);
    for e in ev {
        let UaEvent::Request { key, request, .. } = e else { continue };
        let auth = request.headers.authorization().next().map(str::to_owned);
        let resp = match auth {
            None => {
                let mut resp = Response::for_request(&request, 401, Some("reg"));
                resp.headers.push(
                    HeaderName::WwwAuthenticate,
                    format!("Digest realm=\"example.com\", nonce=\"{nonce}\", qop=\"auth\", algorithm=SHA-256"),
                );
                resp
            }
            Some(a) => {
                let a = Authorization::parse(&a).unwrap();
                let alg = Algorithm::Sha256;
                let ha1 = alg.hex(b"alice:example.com:secret");
                let ha2 = alg.hex(format!("REGISTER:{}", a.uri).as_bytes());
                let (qop, cnonce, nc) = a.qop.clone().unwrap();
                let expected = alg.hex(format!("{ha1}:{}:{nc:08x}:{cnonce}:{qop}:{ha2}", a.nonce).as_bytes());
                seen.push(format!("nc={nc}"));
                if a.response == expected {
                    let mut resp = Response::for_request(&request, 200, Some("reg"));
                    resp.headers.push(HeaderName::Contact, "<sip:alice@192.0.2.1:5060>;expires=120");
                    resp
                } else {
                    Response::for_request(&request, 403, Some("reg"))
                }
            }
        };
        r.send_response(now, &key, &resp).unwrap();
    }
    seen
}

#[test]
fn register_with_digest_and_refresh() {
    let t0 = Instant::now();
    let mut a = ua("a", "192.0.2.1");
    let mut r = ua("r", "192.0.2.2");
    let cfg = RegistrationConfig {
        registrar: Uri::parse("sip:example.com").unwrap(),
        registrar_addr: addr(B),
        aor: NameAddr::parse("<sip:alice@example.com>").unwrap(),
        contact: NameAddr::parse("<sip:alice@192.0.2.1:5060>").unwrap(),
        expires: 3600,
        credentials: Some(Credentials { username: "alice".into(), password: "secret".into() }),
        keepalive: None,
    };
    let mut reg = Registration::new(cfg, &mut a);
    reg.register(t0, &mut a);
    let mut events = Vec::new();
    let mut nonces_seen = Vec::new();
    // Run: deliver, let the registrar answer, feed answers back, until quiet.
    let run = |now: Instant,
               a: &mut UserAgent,
               r: &mut UserAgent,
               reg: &mut Registration,
               events: &mut Vec<RegistrationEvent>,
               seen: &mut Vec<String>| {
        for _ in 0..5 {
            let (tx, ev) = drain(a);
            for e in &ev {
                reg.handle_event(now, a, e);
            }
            for (_, bytes) in tx {
                r.handle_datagram(now, addr(A), &bytes);
            }
            seen.extend(registrar(now, r, "n0nce"));
            let (back, _) = drain(r);
            for (_, bytes) in back {
                a.handle_datagram(now, addr(B), &bytes);
            }
            while let Some(e) = reg.poll_event() {
                events.push(e);
            }
        }
    };
    run(t0, &mut a, &mut r, &mut reg, &mut events, &mut nonces_seen);
    assert_eq!(events, vec![RegistrationEvent::Registered { expires: 120 }]);
    assert_eq!(nonces_seen, vec!["nc=1"]);
    // Refresh a minute before expiry, reusing the challenge (nc=2, no new 401).
    let due = reg.poll_timeout().unwrap();
    assert_eq!(due, t0 + Duration::from_secs(60));
    reg.handle_timeout(due, &mut a);
    run(due, &mut a, &mut r, &mut reg, &mut events, &mut nonces_seen);
    assert_eq!(events.len(), 2);
    assert_eq!(nonces_seen, vec!["nc=1", "nc=2"]);
}

#[test]
fn register_wrong_password_fails_once() {
    let t0 = Instant::now();
    let mut a = ua("a", "192.0.2.1");
    let mut reg = Registration::new(
        RegistrationConfig {
            registrar: Uri::parse("sip:example.com").unwrap(),
            registrar_addr: addr(B),
            aor: NameAddr::parse("<sip:alice@example.com>").unwrap(),
            contact: NameAddr::parse("<sip:alice@192.0.2.1:5060>").unwrap(),
            expires: 600,
            credentials: Some(Credentials { username: "alice".into(), password: "wrong".into() }),
            keepalive: None,
        },
        &mut a,
    );
    reg.register(t0, &mut a);
    let challenge = "Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth\"";
    for _ in 0..2 {
        let (tx, _) = drain(&mut a);
        let req = Message::parse(&tx[0].1).unwrap();
        let req = req.as_request().unwrap();
        let mut resp = Response::for_request(req, 401, Some("reg"));
        resp.headers.push(HeaderName::WwwAuthenticate, challenge);
        a.handle_datagram(t0, addr(B), &resp.to_bytes());
        let (_, ev) = drain(&mut a);
        for e in &ev {
            assert!(reg.handle_event(t0, &mut a, e));
        }
    }
    assert_eq!(reg.poll_event(), Some(RegistrationEvent::Failed { status: Some(401) }));
    assert_eq!(reg.poll_timeout(), Some(t0 + Registration::RETRY_AFTER));
}

#[test]
fn register_interval_too_brief_retries_with_min_expires() {
    let t0 = Instant::now();
    let mut a = ua("a", "192.0.2.1");
    let mut reg = Registration::new(
        RegistrationConfig {
            registrar: Uri::parse("sip:example.com").unwrap(),
            registrar_addr: addr(B),
            aor: NameAddr::parse("<sip:alice@example.com>").unwrap(),
            contact: NameAddr::parse("<sip:alice@192.0.2.1:5060>").unwrap(),
            expires: 60,
            credentials: None,
            keepalive: None,
        },
        &mut a,
    );
    reg.register(t0, &mut a);
    let mut expires_sent = Vec::new();
    for status in [423, 200] {
        let (tx, _) = drain(&mut a);
        let req = Message::parse(&tx[0].1).unwrap();
        let req = req.as_request().unwrap();
        expires_sent.push(req.headers.expires().unwrap().unwrap());
        let mut resp = Response::for_request(req, status, Some("reg"));
        if status == 423 {
            resp.headers.push(HeaderName::MinExpires, "600");
        } else {
            resp.headers.push(HeaderName::Expires, "600");
        }
        a.handle_datagram(t0, addr(B), &resp.to_bytes());
        let (_, ev) = drain(&mut a);
        for e in &ev {
            reg.handle_event(t0, &mut a, e);
        }
    }
    assert_eq!(expires_sent, vec![60, 600]);
    assert_eq!(reg.poll_event(), Some(RegistrationEvent::Registered { expires: 600 }));
    assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(540)));
}

/// A connection that cannot be opened (or breaks) ends the transactions sent on it at once, as
/// timeouts, and only those: a request to another peer keeps waiting for its answer.
#[test]
fn a_transport_error_ends_only_the_transactions_with_that_peer() {
    let now = Instant::now();
    let mut a = ua("a", "192.0.2.1");
    let to_b = a.send_request(now, addr(B), invite());
    let to_c = a.send_request(now, addr("192.0.2.3:5060"), invite());
    drain(&mut a);
    a.handle_transport_error(addr(B));
    let (_, events) = drain(&mut a);
    assert_eq!(events, [UaEvent::ClientTimeout { key: to_b.clone() }]);
    // Told again (the connection's close after its failed open): nothing more.
    a.handle_transport_error(addr(B));
    assert!(drain(&mut a).1.is_empty());
    // The INVITE to the other peer is still alive: its Timer A retransmits it, and only it.
    a.handle_timeout(now + Duration::from_millis(600));
    let (sent, events) = drain(&mut a);
    assert_eq!(sent.iter().map(|(to, _)| *to).collect::<Vec<_>>(), [addr("192.0.2.3:5060")]);
    assert!(!events.iter().any(|e| matches!(e, UaEvent::ClientTimeout { key } if *key == to_c)), "{events:?}");
}
