//! Throughput of the parser and of a transaction exchange in virtual time.
//! Run: `cargo bench -p okno-sip` (uses `std::time` here only, never in the crate).

use std::hint::black_box;
use std::time::{Duration, Instant};

use okno_sip::message::Response;
use okno_sip::transaction::{ClientEvent, ClientTransaction, ServerTransaction, TimerConfig};
use okno_sip::{Message, Request};

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, INFO, UPDATE\r\n\
Supported: replaces, timer\r\n\
User-Agent: Okno/0.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 149\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

const OK200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.101;rport=5060\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@192.0.2.4>\r\n\
Content-Length: 0\r\n\
\r\n";

fn rate(name: &str, unit: &str, mut f: impl FnMut()) {
    // Warm up, then run for about a second.
    for _ in 0..10_000 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..1000 {
            f();
        }
        n += 1000;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{name:<40} {:>12.0} {unit}/s", n as f64 / secs);
}

fn main() {
    rate("parse INVITE (with SDP body)", "messages", || {
        black_box(Message::parse(black_box(INVITE)).unwrap());
    });
    rate("parse 200 OK", "messages", || {
        black_box(Message::parse(black_box(OK200)).unwrap());
    });
    let msg = Message::parse(INVITE).unwrap();
    rate("serialize INVITE", "messages", || {
        black_box(black_box(&msg).to_bytes());
    });

    // One complete non-INVITE exchange over "UDP" in virtual time: client sends
    // OPTIONS, server parses it and answers 200, client parses the 200, then
    // Timer K (client) and Timer J (server) expire. Includes parse/serialize.
    let options = Message::parse(
        b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\nMax-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\nFrom: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\nCall-ID: 3848276298220188511@atlanta.example.com\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    let options: Request = options.as_request().unwrap().clone();
    let t0 = Instant::now();
    let timers = TimerConfig::default();
    rate("non-INVITE client+server transaction", "transactions", || {
        let now = t0;
        let mut client = ClientTransaction::new(now, options.clone(), false, timers);
        let sent = client.poll_transmit().unwrap();
        let Ok(Message::Request(req)) = Message::parse(&sent.bytes) else { unreachable!() };
        let mut server = ServerTransaction::new(now, req, false, timers);
        let ok = Response::for_request(server.request(), 200, Some("8321234356"));
        server.send_response(now, &ok).unwrap();
        let back = server.poll_transmit().unwrap();
        let Ok(Message::Response(resp)) = Message::parse(&back.bytes) else { unreachable!() };
        client.handle_response(now, resp);
        assert!(matches!(client.poll_event(), Some(ClientEvent::Final(_))));
        client.handle_timeout(client.poll_timeout().unwrap());
        server.handle_timeout(server.poll_timeout().unwrap());
        assert!(client.is_terminated() && server.is_terminated());
        black_box((client, server));
    });
}
