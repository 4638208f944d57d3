use super::*;
use crate::uri::Host;

pub(crate) const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
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

fn req(s: &str) -> Request {
    match Message::parse(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected request"),
    }
}

#[test]
fn typical_invite() {
    let r = req(INVITE);
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri.to_string(), "sip:bob@biloxi.example.com");
    let via = r.headers.top_via().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bK776asdhds"));
    assert_eq!(via.rport(), Some(None));
    assert_eq!(via.transport, Transport::Udp);
    assert_eq!(r.headers.from().unwrap().tag(), Some("1928301774"));
    assert_eq!(r.headers.from().unwrap().display.as_deref(), Some("Alice"));
    assert_eq!(r.headers.to().unwrap().display.as_deref(), Some("Bob"));
    assert_eq!(r.headers.to().unwrap().tag(), None);
    assert_eq!(r.headers.cseq().unwrap(), CSeq { seq: 314159, method: Method::Invite });
    assert_eq!(r.headers.max_forwards().unwrap(), Some(70));
    assert!(r.headers.content_type().unwrap().unwrap().is("application", "sdp"));
    assert_eq!(r.body.len(), 149);
    assert!(r.validate().is_ok());
}

#[test]
fn serialize_roundtrip_and_content_length() {
    let r = req(INVITE);
    let bytes = r.to_bytes();
    let again = req(std::str::from_utf8(&bytes).unwrap());
    assert_eq!(again, r);
    let mut r2 = r.clone();
    r2.body = b"hello".to_vec();
    let s = String::from_utf8(r2.to_bytes()).unwrap();
    assert!(s.contains("Content-Length: 5\r\n\r\nhello"));
    assert_eq!(s.matches("Content-Length").count(), 1);
}

#[test]
fn compact_forms_and_canonical_output() {
    let m = "OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nt: sip:a@b\r\ni: abc\r\nCSeq: 1 OPTIONS\r\nm: *\r\nl: 0\r\nk: timer, 100rel\r\ns: hi\r\ne: gzip\r\no: refer;id=3\r\nr: <sip:c@d>\r\nu: talk\r\nx: 1800;refresher=uac\r\ny: abc\r\nc: text/plain\r\n\r\n";
    let r = req(m);
    assert_eq!(r.headers.call_id().unwrap(), "abc");
    assert_eq!(r.headers.contacts().unwrap(), vec![Contact::Star]);
    assert_eq!(r.headers.supported(), vec!["timer", "100rel"]);
    assert_eq!(r.headers.event().unwrap().unwrap().param("id").unwrap().value.as_deref(), Some("3"));
    let se = r.headers.session_expires().unwrap().unwrap();
    assert_eq!((se.delta_seconds, se.refresher.as_deref()), (1800, Some("uac")));
    assert!(r.headers.refer_to().unwrap().is_some());
    let out = String::from_utf8(r.to_bytes()).unwrap();
    for name in [
        "Via:",
        "From:",
        "To:",
        "Call-ID:",
        "Contact:",
        "Supported:",
        "Subject:",
        "Content-Encoding:",
        "Event:",
        "Refer-To:",
        "Allow-Events:",
        "Session-Expires:",
        "Identity:",
        "Content-Type:",
        "Content-Length: 0",
    ] {
        assert!(out.contains(name), "{name} missing in {out}");
    }
}

#[test]
fn folding_and_multi_values() {
    let m = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1,\r\n SIP/2.0/UDP h2;branch=z9hG4bK2\r\nVia: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK3;received=192.0.2.1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1\r\n\tINVITE\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nRecord-Route: <sip:p3;lr>\r\nX-Custom:  keep   this ; verbatim,  please \r\nContent-Length: 0\r\n\r\n";
    let r = req(m);
    let vias = r.headers.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[2].host, Host::Ipv6("2001:db8::1".parse().unwrap()));
    assert_eq!(vias[2].port, Some(5060));
    assert_eq!(vias[2].received(), Some("192.0.2.1"));
    assert_eq!(r.headers.record_routes().unwrap().len(), 3);
    assert_eq!(r.headers.get_other("x-custom"), Some("keep   this ; verbatim,  please"));
    assert_eq!(r.headers.cseq().unwrap().seq, 1);
}

#[test]
fn content_length_rules() {
    let head = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n";
    // Missing on UDP: the rest of the datagram.
    let r = req(&format!("{head}\r\nabc"));
    assert_eq!(r.body, b"abc");
    // Shorter than the datagram: extra bytes ignored.
    let r = req(&format!("{head}Content-Length: 1\r\n\r\nabc"));
    assert_eq!(r.body, b"a");
    // Longer: typed error.
    let e = Message::parse(format!("{head}Content-Length: 10\r\n\r\nabc").as_bytes()).unwrap_err();
    assert_eq!(e, ParseError::BodyTruncated { declared: 10, available: 3 });
    for bad in ["-1", "five", "99999999999"] {
        assert!(Message::parse(format!("{head}Content-Length: {bad}\r\n\r\n").as_bytes()).is_err());
    }
    let e = Message::parse(format!("{head}Content-Length: 1\r\nl: 2\r\n\r\nab").as_bytes()).unwrap_err();
    assert_eq!(e, ParseError::ConflictingContentLength);
}

#[test]
fn stream_framing() {
    let p = Parser::default();
    let one = INVITE.as_bytes();
    let mut two = b"\r\n\r\n".to_vec();
    two.extend_from_slice(one);
    two.extend_from_slice(one);
    let (m, n) = p.parse_stream(&two).unwrap().unwrap();
    assert_eq!(n, 4 + one.len());
    assert_eq!(m.body().len(), 149);
    assert!(p.parse_stream(&one[..one.len() - 1]).unwrap().is_none());
    assert!(p.parse_stream(&one[..20]).unwrap().is_none());
    let no_cl = "OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert_eq!(p.parse_stream(no_cl.as_bytes()).unwrap_err(), ParseError::MissingContentLength);
}

#[test]
fn limits() {
    let p = Parser::new(ParserConfig { max_size: 100, max_headers: 3 });
    assert!(matches!(p.parse_datagram(INVITE.as_bytes()), Err(ParseError::TooLarge { .. })));
    let p = Parser::new(ParserConfig { max_size: 65536, max_headers: 3 });
    assert_eq!(p.parse_datagram(INVITE.as_bytes()).unwrap_err(), ParseError::TooManyHeaders { max: 3 });
    let p = Parser::new(ParserConfig { max_size: 100, max_headers: 3 });
    let big = vec![b'a'; 200];
    assert!(matches!(p.parse_stream(&big), Err(ParseError::TooLarge { .. })));
}

#[test]
fn responses() {
    let m = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let r = Message::parse(m.as_bytes()).unwrap();
    let r = r.as_response().unwrap();
    assert_eq!((r.status, r.reason.as_str()), (180, "Ringing"));
    assert_eq!(r.headers.to().unwrap().tag(), Some("2"));
    assert!(Message::parse(b"SIP/2.0 99 x\r\n\r\n").is_err());
    assert!(Message::parse(b"SIP/2.0 1000 x\r\n\r\n").is_err());
    assert!(matches!(Message::parse(b"SIP/3.0 200 OK\r\n\r\n"), Err(ParseError::UnsupportedVersion(_))));
}

#[test]
fn response_for_request_copies_headers() {
    let r = req(INVITE);
    let resp = Response::for_request(&r, 180, Some("abc"));
    assert_eq!(resp.headers.to().unwrap().tag(), Some("abc"));
    assert_eq!(resp.headers.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
    assert_eq!(resp.headers.cseq().unwrap().seq, 314159);
    assert!(resp.headers.get(&HeaderName::Contact).is_none());
}

#[test]
fn garbage_does_not_panic() {
    for g in [
        &b""[..],
        b"\r\n",
        b"\xff\xfe\r\n\r\n",
        b"INVITE\r\n\r\n",
        b": x\r\n\r\n",
        b"A B C\r\n x\r\n\r\n",
        b"SIP/2.0\r\n\r\n",
        b"SIP/2.0 200\r\n\r\n",
    ] {
        let _ = Message::parse(g);
    }
}

/// Inputs found by `cargo fuzz run sip_message`; each once panicked.
#[test]
fn fuzz_regressions() {
    // Multi-byte character where the SIP version was expected.
    let _ = Message::parse("REFER sip:b SIP/2.0/TCP 1SI\u{440}.2.5\r\n\r\n".as_bytes());
    let _ = Message::parse("INVITE sip:a@b \u{440}\u{440}\r\n\r\n".as_bytes());
}

#[test]
fn more_typed_headers() {
    let m = "INVITE tel:+1-201-555-0123;phone-context=example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx;received=2001:db8::1;rport=5061\r\n\
From: \"A \\\"quoted\\\" name\" <sips:a@example.com>;tag=9\r\n\
To: <tel:+1-201-555-0123>\r\n\
Call-ID: c@h\r\n\
CSeq: 4294967295 INVITE\r\n\
Expires: 300\r\n\
Replaces: 98732@192.0.2.9;to-tag=r33th4x0r;from-tag=ff87ff;early-only\r\n\
Authorization: Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\n\
Require: timer\r\nRequire: replaces\r\n\
Content-Length: 0\r\n\r\n";
    let r = req(m);
    assert!(matches!(r.uri, crate::uri::Uri::Tel(_)));
    let via = r.headers.top_via().unwrap();
    assert_eq!(via.transport, Transport::Tls);
    assert_eq!(via.received(), Some("2001:db8::1"));
    assert_eq!(via.rport(), Some(Some(5061)));
    let from = r.headers.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("A \"quoted\" name"));
    // Display re-quotes with escapes and parses back to the same value.
    assert_eq!(NameAddr::parse(&from.to_string()).unwrap(), from);
    assert_eq!(r.headers.cseq().unwrap().seq, u32::MAX);
    assert_eq!(r.headers.expires().unwrap(), Some(300));
    let rep = r.headers.replaces().unwrap().unwrap();
    assert_eq!(
        (rep.call_id.as_str(), rep.to_tag.as_str(), rep.from_tag.as_str(), rep.early_only),
        ("98732@192.0.2.9", "r33th4x0r", "ff87ff", true)
    );
    assert_eq!(r.headers.authorization().count(), 1);
    assert_eq!(r.headers.require(), vec!["timer", "replaces"]);
}

#[test]
fn rejects_bad_scalars_and_lines() {
    let base = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n";
    for extra in [
        "Max-Forwards: 256\r\n",
        "CSeq: 4294967296 OPTIONS\r\n",
        "Bad Header: x\r\n",
        "NoColon\r\n",
        "Contact: <sip:a@b>;;\r\n",
        "Date: Sat, 13 Nov 2010 23:29:00 PST\r\n",
        "Content-Type: text\r\n",
    ] {
        assert!(Message::parse(format!("{base}{extra}\r\n").as_bytes()).is_err(), "{extra}");
    }
    assert!(Message::parse(format!(" \r\n{base}\r\n").as_bytes()).is_err(), "leading folding line");
    assert!(Message::parse(format!("{base}Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n\r\n").as_bytes()).is_ok());
    // Lower-case version is accepted; keep-alive CRLFs before the start line are skipped.
    assert!(Message::parse(format!("\r\n\r\n{}\r\n", base.replace("SIP/2.0\r\n", "sip/2.0\r\n")).as_bytes()).is_ok());
}

#[test]
fn a_dialog_forming_response_keeps_the_record_route_in_order() {
    let invite = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1\r\nRecord-Route: <sip:p1;lr>\r\nRecord-Route: <sip:p2;lr>\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let Message::Request(req) = Message::parse(invite.as_bytes()).unwrap() else { panic!("a request") };
    for (status, kept) in [(100, 0), (180, 2), (200, 2), (486, 0)] {
        let resp = Response::for_request(&req, status, Some("t"));
        let routes = resp.headers.record_routes().unwrap();
        assert_eq!(routes.len(), kept, "{status}");
        if kept == 2 {
            assert_eq!(routes[0].uri.to_string(), "sip:p1;lr");
        }
    }
}
