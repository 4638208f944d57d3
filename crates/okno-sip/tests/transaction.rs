//! RFC 3261 §17 transactions driven in virtual time: a full Timer B run (32 s of
//! protocol time) completes in microseconds.

use std::time::{Duration, Instant};

use okno_sip::message::{HeaderName, Message, Method, Request, Response};
use okno_sip::transaction::{
    ClientEvent, ClientState, ClientTransaction, ServerEvent, ServerState, ServerTransaction, TimerConfig,
    TransactionKey, build_cancel,
};

fn request(method: &str, branch: &str) -> Request {
    let text = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch={branch}\r\nMax-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 {method}\r\nRoute: <sip:proxy.example.com;lr>\r\nContent-Length: 0\r\n\r\n"
    );
    match Message::parse(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn response(req: &Request, status: u16) -> Response {
    Response::for_request(req, status, Some("a6c85cf"))
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Runs a client transaction on its own until it ends; returns the offsets (ms)
/// of every transmission and the events with their offsets.
fn run_client(t0: Instant, mut tx: ClientTransaction) -> (Vec<u128>, Vec<(u128, ClientEvent)>) {
    let mut sends = Vec::new();
    let mut events = Vec::new();
    let mut now = t0;
    loop {
        while tx.poll_transmit().is_some() {
            sends.push(ms(now - t0));
        }
        while let Some(e) = tx.poll_event() {
            events.push((ms(now - t0), e));
        }
        match tx.poll_timeout() {
            Some(t) => {
                now = t;
                tx.handle_timeout(now);
            }
            None => return (sends, events),
        }
    }
}

#[test]
fn invite_client_udp_retransmits_and_times_out_in_virtual_time() {
    let t0 = Instant::now();
    let tx = ClientTransaction::new(t0, request("INVITE", "z9hG4bK1"), false, TimerConfig::default());
    let (sends, events) = run_client(t0, tx);
    // Timer A: 0.5, 1, 2, 4, 8, 16 s between sends; Timer B at 64*T1 = 32 s.
    assert_eq!(sends, vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(events, vec![(32000, ClientEvent::Timeout), (32000, ClientEvent::Terminated)]);
}

#[test]
fn invite_client_reliable_does_not_retransmit() {
    let t0 = Instant::now();
    let tx = ClientTransaction::new(t0, request("INVITE", "z9hG4bK1"), true, TimerConfig::default());
    let (sends, events) = run_client(t0, tx);
    assert_eq!(sends, vec![0]);
    assert_eq!(events[0], (32000, ClientEvent::Timeout));
}

#[test]
fn invite_client_absorbs_100_and_stops_retransmitting() {
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK1");
    let mut tx = ClientTransaction::new(t0, req.clone(), false, TimerConfig::default());
    assert!(tx.poll_transmit().is_some());
    tx.handle_response(t0 + Duration::from_millis(100), response(&req, 100));
    assert_eq!(tx.state(), ClientState::Proceeding);
    assert_eq!(tx.poll_event(), None, "100 Trying is absorbed");
    assert_eq!(tx.poll_timeout(), None, "no retransmission and no Timer B in Proceeding");
    tx.handle_response(t0 + Duration::from_millis(200), response(&req, 180));
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Provisional(r)) if r.status == 180));
}

#[test]
fn invite_client_acks_non_2xx_and_absorbs_retransmissions() {
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK77");
    let mut tx = ClientTransaction::new(t0, req.clone(), false, TimerConfig::default());
    tx.poll_transmit();
    let t1 = t0 + Duration::from_millis(300);
    tx.handle_response(t1, response(&req, 486));
    assert_eq!(tx.state(), ClientState::Completed);
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Final(r)) if r.status == 486));
    let ack = Message::parse(&tx.poll_transmit().unwrap().bytes).unwrap();
    let ack = ack.as_request().unwrap();
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, req.uri);
    assert_eq!(ack.headers.cseq().unwrap().seq, 314159);
    assert_eq!(ack.headers.cseq().unwrap().method, Method::Ack);
    assert_eq!(ack.headers.top_via().unwrap().branch(), Some("z9hG4bK77"));
    assert_eq!(ack.headers.to().unwrap().tag(), Some("a6c85cf"));
    assert_eq!(ack.headers.routes().unwrap().len(), 1);
    // Retransmitted 486: ACK again, no new event.
    tx.handle_response(t1 + Duration::from_secs(1), response(&req, 486));
    assert!(tx.poll_transmit().is_some());
    assert_eq!(tx.poll_event(), None);
    // Timer D (32 s) ends the transaction.
    assert_eq!(tx.poll_timeout(), Some(t1 + Duration::from_secs(32)));
    tx.handle_timeout(t1 + Duration::from_secs(32));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Terminated));
}

#[test]
fn invite_client_2xx_terminates_without_ack() {
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK1");
    let mut tx = ClientTransaction::new(t0, req.clone(), false, TimerConfig::default());
    tx.poll_transmit();
    tx.handle_response(t0, response(&req, 200));
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Final(r)) if r.status == 200));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Terminated));
    assert_eq!(tx.poll_transmit(), None, "the TU sends the ACK for 2xx");
}

#[test]
fn non_invite_client_timer_e_caps_at_t2_then_timer_f() {
    let t0 = Instant::now();
    let tx = ClientTransaction::new(t0, request("OPTIONS", "z9hG4bK2"), false, TimerConfig::default());
    let (sends, events) = run_client(t0, tx);
    assert_eq!(sends, vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    assert_eq!(events[0], (32000, ClientEvent::Timeout));
}

#[test]
fn non_invite_client_proceeding_and_timer_k() {
    let t0 = Instant::now();
    let req = request("REGISTER", "z9hG4bK3");
    let mut tx = ClientTransaction::new(t0, req.clone(), false, TimerConfig::default());
    tx.poll_transmit();
    let t1 = t0 + Duration::from_millis(200);
    tx.handle_response(t1, response(&req, 180));
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Provisional(_))));
    // In Proceeding, Timer E fires every T2.
    assert_eq!(tx.poll_timeout(), Some(t1 + Duration::from_secs(4)));
    let t2 = t0 + Duration::from_secs(5);
    tx.handle_response(t2, response(&req, 401));
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Final(r)) if r.status == 401));
    assert_eq!(tx.poll_transmit(), None, "no ACK outside INVITE");
    // Timer K = T4 absorbs retransmitted finals.
    tx.handle_response(t2 + Duration::from_secs(1), response(&req, 401));
    assert_eq!(tx.poll_event(), None);
    assert_eq!(tx.poll_timeout(), Some(t2 + Duration::from_secs(5)));
    tx.handle_timeout(t2 + Duration::from_secs(5));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Terminated));
}

#[test]
fn invite_server_sends_100_retransmits_final_until_timer_h() {
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK9");
    let mut tx = ServerTransaction::new(t0, req.clone(), false, TimerConfig::default());
    let trying = Message::parse(&tx.poll_transmit().unwrap().bytes).unwrap();
    assert_eq!(trying.as_response().unwrap().status, 100);
    // A retransmitted INVITE gets the last provisional again.
    tx.handle_request(t0 + Duration::from_millis(500), &req);
    assert!(tx.poll_transmit().is_some());
    tx.send_response(t0 + Duration::from_secs(1), &response(&req, 486)).unwrap();
    assert_eq!(tx.state(), ServerState::Completed);
    let mut sends = Vec::new();
    let mut now = t0 + Duration::from_secs(1);
    let base = now;
    loop {
        while tx.poll_transmit().is_some() {
            sends.push(ms(now - base));
        }
        if let Some(e) = tx.poll_event() {
            assert_eq!(e, ServerEvent::Timeout);
            assert_eq!(ms(now - base), 32000);
            break;
        }
        now = tx.poll_timeout().unwrap();
        tx.handle_timeout(now);
    }
    // Timer G: T1, 2T1, 4T1, then capped at T2 = 4 s.
    assert_eq!(sends, vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    assert_eq!(tx.poll_event(), Some(ServerEvent::Terminated));
}

#[test]
fn invite_server_ack_confirms_and_timer_i_absorbs() {
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK9");
    let mut tx = ServerTransaction::new(t0, req.clone(), false, TimerConfig::default());
    tx.poll_transmit();
    tx.send_response(t0, &response(&req, 603)).unwrap();
    tx.poll_transmit();
    let ack = okno_sip::transaction::build_ack(&req, &response(&req, 603));
    assert_eq!(TransactionKey::for_request(&ack).unwrap(), TransactionKey::for_request(&req).unwrap());
    tx.handle_request(t0 + Duration::from_millis(100), &ack);
    assert_eq!(tx.state(), ServerState::Confirmed);
    assert_eq!(tx.poll_event(), Some(ServerEvent::AckReceived));
    tx.handle_request(t0 + Duration::from_millis(200), &ack);
    assert_eq!(tx.poll_event(), None);
    assert_eq!(tx.poll_transmit(), None);
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(5100)));
    tx.handle_timeout(t0 + Duration::from_millis(5100));
    assert_eq!(tx.poll_event(), Some(ServerEvent::Terminated));
    assert!(tx.send_response(t0, &response(&req, 200)).is_err());
}

#[test]
fn non_invite_server_timer_j_absorbs_retransmissions() {
    let t0 = Instant::now();
    let req = request("BYE", "z9hG4bK5");
    let mut tx = ServerTransaction::new(t0, req.clone(), false, TimerConfig::default());
    assert_eq!(tx.poll_transmit(), None, "no 100 for non-INVITE");
    tx.handle_request(t0, &req);
    assert_eq!(tx.poll_transmit(), None, "Trying absorbs retransmissions");
    tx.send_response(t0, &response(&req, 200)).unwrap();
    assert!(tx.poll_transmit().is_some());
    for i in 1..5 {
        tx.handle_request(t0 + Duration::from_secs(i), &req);
        assert!(tx.poll_transmit().is_some(), "final response repeated");
    }
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(tx.poll_event(), Some(ServerEvent::Terminated));
    // Reliable: Timer J is zero.
    let mut tx = ServerTransaction::new(t0, req.clone(), true, TimerConfig::default());
    tx.send_response(t0, &response(&req, 200)).unwrap();
    assert!(tx.is_terminated());
}

#[test]
fn keys_match_requests_responses_and_acks() {
    let req = request("INVITE", "z9hG4bKabc");
    let key = TransactionKey::for_request(&req).unwrap();
    assert_eq!(key.method, Method::Invite);
    assert_eq!(key.sent_by, "pc33.atlanta.example.com");
    let rk = TransactionKey::for_response(&response(&req, 180)).unwrap();
    assert_eq!(rk, key.client_view());
    let cancel = build_cancel(&req);
    let ck = TransactionKey::for_request(&cancel).unwrap();
    assert_eq!(ck.branch, key.branch);
    assert_eq!(ck.method, Method::Cancel);
    assert_ne!(ck, key);
    assert_eq!(cancel.headers.get(&HeaderName::To), req.headers.get(&HeaderName::To));
    // RFC 2543 branches are not accepted as keys.
    assert!(TransactionKey::for_request(&request("INVITE", "1234")).is_err());
}

/// Client and server non-INVITE transactions over a link that drops the first
/// two datagrams in each direction; the exchange still completes.
#[test]
fn lossy_link_exchange_completes() {
    let t0 = Instant::now();
    let req = request("OPTIONS", "z9hG4bKlossy");
    let mut client = ClientTransaction::new(t0, req, false, TimerConfig::default());
    let mut server: Option<ServerTransaction> = None;
    let (mut drop_up, mut drop_down) = (2, 2);
    let mut now = t0;
    let mut final_at = None;
    for _ in 0..1000 {
        while let Some(t) = client.poll_transmit() {
            if drop_up > 0 {
                drop_up -= 1;
                continue;
            }
            let Message::Request(r) = Message::parse(&t.bytes).unwrap() else { unreachable!() };
            match &mut server {
                None => {
                    let mut s = ServerTransaction::new(now, r.clone(), false, TimerConfig::default());
                    s.send_response(now, &Response::for_request(&r, 200, Some("x"))).unwrap();
                    server = Some(s);
                }
                Some(s) => s.handle_request(now, &r),
            }
        }
        if let Some(s) = &mut server {
            while let Some(t) = s.poll_transmit() {
                if drop_down > 0 {
                    drop_down -= 1;
                    continue;
                }
                let Message::Response(r) = Message::parse(&t.bytes).unwrap() else { unreachable!() };
                client.handle_response(now, r);
            }
        }
        while let Some(e) = client.poll_event() {
            if matches!(e, ClientEvent::Final(_)) {
                final_at = Some(now - t0);
            }
        }
        let next = [client.poll_timeout(), server.as_ref().and_then(ServerTransaction::poll_timeout)]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        now = next;
        client.handle_timeout(now);
        if let Some(s) = &mut server {
            s.handle_timeout(now);
        }
    }
    // Sends at 0 and 0.5 are lost; the one at 1.5 s arrives; its 200 is lost twice
    // (first send and the resend for the 3.5 s retransmission); 7.5 s gets through.
    assert_eq!(final_at, Some(Duration::from_millis(7500)));
    assert!(client.is_terminated());
    assert!(server.unwrap().is_terminated());
}

#[test]
fn invite_server_2xx_accepted_state_retransmits_until_ack() {
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bKacc");
    let mut tx = ServerTransaction::new(t0, req.clone(), false, TimerConfig::default());
    tx.poll_transmit();
    tx.send_response(t0, &response(&req, 200)).unwrap();
    assert_eq!(tx.state(), ServerState::Accepted);
    assert!(tx.poll_transmit().is_some());
    // 2xx retransmitted at T1, 2T1 (RFC 3261 §13.3.1.4) ...
    for at in [500, 1500] {
        let now = t0 + Duration::from_millis(at);
        assert_eq!(tx.poll_timeout(), Some(now));
        tx.handle_timeout(now);
        assert!(tx.poll_transmit().is_some());
    }
    // ... INVITE retransmissions are absorbed (RFC 6026) ...
    tx.handle_request(t0 + Duration::from_millis(1600), &req);
    assert_eq!(tx.poll_transmit(), None);
    // ... until the ACK arrives; Timer L then ends the transaction quietly.
    tx.handle_2xx_ack(t0 + Duration::from_secs(2));
    assert_eq!(tx.poll_event(), Some(ServerEvent::AckReceived));
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(tx.poll_event(), Some(ServerEvent::Terminated));
    // Without an ACK, Timer L reports a timeout.
    let mut tx = ServerTransaction::new(t0, req.clone(), true, TimerConfig::default());
    tx.send_response(t0, &response(&req, 200)).unwrap();
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(tx.poll_event(), Some(ServerEvent::Timeout));
}
