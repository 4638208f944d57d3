//! The REGISTER client's keep-alives and recovery in virtual time: a registrar that stops
//! answering is noticed within one probe, the binding is asked for again at once, a closed
//! connection is replaced, and REGISTERs that get no answer back off without lockstep.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use okno_sip::message::typed::Transport;
use okno_sip::message::{HeaderName, KEEPALIVE_PING, Message, Method, NameAddr, ParserConfig, Response};
use okno_sip::transaction::TimerConfig;
use okno_sip::ua::{Output, Registration, RegistrationConfig, RegistrationEvent, UaConfig, UserAgent};
use okno_sip::uri::{Host, Uri};

const REGISTRAR: &str = "192.0.2.2:5060";
const EVERY: Duration = Duration::from_secs(30);

fn registrar() -> SocketAddr {
    REGISTRAR.parse().unwrap()
}

/// A phone's user agent and its registration (no credentials, probing every 30 s).
fn phone(transport: Transport, prefix: &str) -> (UserAgent, Registration) {
    let mut ua = UserAgent::new(UaConfig {
        via_host: Host::parse("192.0.2.1").unwrap(),
        via_port: Some(5060),
        transport,
        timers: TimerConfig::default(),
        parser: ParserConfig::default(),
        id_prefix: prefix.into(),
        user_agent: None,
    });
    let reg = Registration::new(
        RegistrationConfig {
            registrar: Uri::parse("sip:example.com").unwrap(),
            registrar_addr: registrar(),
            aor: NameAddr::parse("<sip:alice@example.com>").unwrap(),
            contact: NameAddr::parse("<sip:alice@192.0.2.1:5060>").unwrap(),
            expires: 600,
            credentials: None,
            keepalive: Some(EVERY),
        },
        &mut ua,
    );
    (ua, reg)
}

/// What the phone sent (as text) and what the registration reported, after feeding it the
/// user agent's events.
fn step(now: Instant, ua: &mut UserAgent, reg: &mut Registration) -> (Vec<String>, Vec<RegistrationEvent>) {
    let mut sent = Vec::new();
    while let Some(out) = ua.poll_output() {
        match out {
            Output::Transmit { to, bytes } => {
                assert_eq!(to, registrar());
                sent.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            Output::Event(ev) => assert!(reg.handle_event(now, ua, &ev), "not the registration's: {ev:?}"),
        }
    }
    let mut events = Vec::new();
    while let Some(e) = reg.poll_event() {
        events.push(e);
    }
    // Events may have queued more to send (a REGISTER after a challenge, say).
    while let Some(Output::Transmit { bytes, .. }) = ua.poll_output() {
        sent.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    (sent, events)
}

/// The registrar's answer to the request in `sent`.
fn answer(now: Instant, ua: &mut UserAgent, sent: &str, status: u16) {
    let Ok(Message::Request(request)) = Message::parse(sent.as_bytes()) else { panic!("not a request: {sent}") };
    let mut response = Response::for_request(&request, status, Some("reg"));
    if request.method == Method::Register {
        response.headers.push(HeaderName::Expires, "600");
    }
    ua.handle_datagram(now, registrar(), &response.to_bytes());
}

fn method(sent: &[String]) -> Vec<&str> {
    sent.iter().map(|s| if s.as_bytes() == KEEPALIVE_PING { "ping" } else { s.split(' ').next().unwrap() }).collect()
}

/// Registers and answers 200: the registration is bound at `t0`.
fn bound(transport: Transport) -> (Instant, UserAgent, Registration) {
    let t0 = Instant::now();
    let (mut ua, mut reg) = phone(transport, "p");
    reg.register(t0, &mut ua);
    let (sent, _) = step(t0, &mut ua, &mut reg);
    answer(t0, &mut ua, &sent[0], 200);
    assert_eq!(step(t0, &mut ua, &mut reg).1, [RegistrationEvent::Registered { expires: 600 }]);
    (t0, ua, reg)
}

#[test]
fn over_udp_the_registrar_is_probed_with_options_and_any_answer_keeps_the_binding() {
    let (t0, mut ua, mut reg) = bound(Transport::Udp);
    assert_eq!(reg.poll_timeout(), Some(t0 + EVERY), "the first probe is due one interval after binding");
    let at = t0 + EVERY;
    reg.handle_timeout(at, &mut ua);
    let (sent, events) = step(at, &mut ua, &mut reg);
    assert_eq!(method(&sent), ["OPTIONS"]);
    assert!(sent[0].starts_with("OPTIONS sip:example.com SIP/2.0"), "{}", sent[0]);
    assert!(events.is_empty());
    // A registrar that has no route for its own name answers 404: it is there all the same.
    answer(at, &mut ua, &sent[0], 404);
    assert!(step(at, &mut ua, &mut reg).1.is_empty());
    assert_eq!(reg.poll_timeout(), Some(at + EVERY), "the next probe one interval on");
}

#[test]
fn over_udp_an_unanswered_probe_fails_the_binding_and_registers_again_at_once() {
    let (t0, mut ua, mut reg) = bound(Transport::Udp);
    let probe_at = t0 + EVERY;
    reg.handle_timeout(probe_at, &mut ua);
    step(probe_at, &mut ua, &mut reg);
    let deadline = reg.poll_timeout().unwrap();
    assert_eq!(deadline, probe_at + Duration::from_secs(10), "RFC 5626's ten seconds to answer");
    ua.handle_timeout(deadline);
    reg.handle_timeout(deadline, &mut ua);
    let (sent, events) = step(deadline, &mut ua, &mut reg);
    assert_eq!(events, [RegistrationEvent::Failed { status: None }]);
    assert!(method(&sent).iter().all(|m| *m == "OPTIONS"), "only the probe's retransmissions yet: {sent:?}");
    // The REGISTER goes at the next timeout, which is due at once.
    assert_eq!(reg.poll_timeout(), Some(deadline));
    reg.handle_timeout(deadline, &mut ua);
    let (sent, _) = step(deadline, &mut ua, &mut reg);
    assert_eq!(method(&sent), ["REGISTER"]);
    // The network is back: the registrar answers the REGISTER (and, late, the old probe).
    answer(deadline, &mut ua, &sent[0], 200);
    assert_eq!(step(deadline, &mut ua, &mut reg).1, [RegistrationEvent::Registered { expires: 600 }]);
}

#[test]
fn over_tcp_the_probe_is_a_crlf_ping_and_a_missing_pong_fails_the_binding() {
    let (t0, mut ua, mut reg) = bound(Transport::Tcp);
    let at = t0 + EVERY;
    reg.handle_timeout(at, &mut ua);
    assert_eq!(method(&step(at, &mut ua, &mut reg).0), ["ping"]);
    reg.handle_pong(at + Duration::from_millis(20));
    assert_eq!(reg.poll_timeout(), Some(at + Duration::from_millis(20) + EVERY));

    let at = at + Duration::from_millis(20) + EVERY;
    reg.handle_timeout(at, &mut ua);
    assert_eq!(method(&step(at, &mut ua, &mut reg).0), ["ping"]);
    let deadline = at + Duration::from_secs(10);
    reg.handle_timeout(deadline, &mut ua);
    assert_eq!(step(deadline, &mut ua, &mut reg).1, [RegistrationEvent::Failed { status: None }]);
    reg.handle_timeout(deadline, &mut ua);
    assert_eq!(method(&step(deadline, &mut ua, &mut reg).0), ["REGISTER"]);
}

#[test]
fn a_closed_connection_to_the_registrar_is_replaced_by_registering_again() {
    let (t0, mut ua, mut reg) = bound(Transport::Tls);
    let at = t0 + Duration::from_secs(5);
    // Another peer's connection: nothing to do.
    reg.handle_flow_closed(at, &mut ua, "192.0.2.9:5061".parse().unwrap());
    assert!(step(at, &mut ua, &mut reg).0.is_empty());
    reg.handle_flow_closed(at, &mut ua, registrar());
    let (sent, events) = step(at, &mut ua, &mut reg);
    assert_eq!(method(&sent), ["REGISTER"], "sent at once, on what will be a new connection");
    assert!(events.is_empty(), "no failure is shown for a connection replaced in time");
    // Told twice (the REGISTER is in flight): nothing more.
    reg.handle_flow_closed(at, &mut ua, registrar());
    assert!(step(at, &mut ua, &mut reg).0.is_empty());
}

/// REGISTERs the registrar never answers (a connection refused each time) are retried after
/// waits that double from one second to thirty, each between ½ and 1 of that, spread apart
/// per phone; one answered resets them. A final error status waits a minute.
#[test]
fn unanswered_registers_back_off_and_phones_spread_apart() {
    let mut waits_per_phone = Vec::new();
    for prefix in ["p", "q", "r"] {
        let t0 = Instant::now();
        let (mut ua, mut reg) = phone(Transport::Tcp, prefix);
        reg.register(t0, &mut ua);
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            step(now, &mut ua, &mut reg);
            ua.handle_transport_error(registrar());
            assert_eq!(step(now, &mut ua, &mut reg).1, [RegistrationEvent::Failed { status: None }]);
            let next = reg.poll_timeout().unwrap();
            waits.push((next - now).as_millis() as u64);
            now = next;
            reg.handle_timeout(now, &mut ua);
        }
        for (i, wait) in waits.iter().enumerate() {
            let nominal = 1000u64 << i.min(5);
            let nominal = nominal.min(30_000);
            assert!(*wait >= nominal / 2 && *wait <= nominal, "wait {i}: {wait} ms of nominal {nominal}: {waits:?}");
        }
        let (sent, _) = step(now, &mut ua, &mut reg);
        answer(now, &mut ua, &sent[0], 200);
        assert_eq!(step(now, &mut ua, &mut reg).1, [RegistrationEvent::Registered { expires: 600 }]);
        reg.handle_flow_closed(now, &mut ua, registrar());
        step(now, &mut ua, &mut reg);
        ua.handle_transport_error(registrar());
        step(now, &mut ua, &mut reg);
        let after_reset = reg.poll_timeout().unwrap() - now;
        assert!(after_reset <= Duration::from_secs(1), "the backoff starts over after a binding: {after_reset:?}");
        waits_per_phone.push(waits[0]);
    }
    waits_per_phone.dedup();
    assert!(waits_per_phone.len() > 1, "phones wait different times: {waits_per_phone:?}");

    let t0 = Instant::now();
    let (mut ua, mut reg) = phone(Transport::Udp, "s");
    reg.register(t0, &mut ua);
    let (sent, _) = step(t0, &mut ua, &mut reg);
    answer(t0, &mut ua, &sent[0], 403);
    assert_eq!(step(t0, &mut ua, &mut reg).1, [RegistrationEvent::Failed { status: Some(403) }]);
    assert_eq!(reg.poll_timeout(), Some(t0 + Registration::RETRY_AFTER));
}

#[test]
fn a_stream_tells_pings_and_pongs_from_messages() {
    use okno_sip::message::{Parser, StreamItem};
    let parser = Parser::default();
    assert_eq!(parser.parse_stream_item(b"\r\n\r\n").unwrap(), Some((StreamItem::Ping, 4)));
    assert_eq!(parser.parse_stream_item(b"\r\n").unwrap(), Some((StreamItem::Pong, 2)));
    assert_eq!(parser.parse_stream_item(b"\r\n\r").unwrap(), None, "half a ping waits for the rest");
    assert_eq!(parser.parse_stream_item(b"").unwrap(), None);
    let options = b"\r\nOPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    match parser.parse_stream_item(options).unwrap() {
        Some((StreamItem::Message(m), used)) => {
            assert_eq!(used, options.len());
            assert_eq!(m.as_request().unwrap().method, Method::Options);
        }
        other => panic!("{other:?}"),
    }
    assert!(parser.parse_stream_item(b"\r\nNOT SIP\r\n\r\n").is_err());
}
