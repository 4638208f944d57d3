//! Any SDP body: parsing never panics; serialization is stable; answering an
//! offer (with SRTP offered) never panics; a=crypto lines round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_sip::sdp::{Crypto, Direction, MediaConfig, Session, SrtpPolicy, answer, default_codecs, srtp_keys};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = Session::parse(data) else { return };
    let text = s.to_string();
    let again = Session::parse(text.as_bytes()).expect("serialized SDP must parse");
    assert_eq!(again.to_string(), text, "serialization must be stable");
    let cfg = MediaConfig {
        address: [192, 0, 2, 1].into(),
        rtp_port: 4000,
        codecs: default_codecs(),
        ptime: Some(20),
        direction: Direction::SendRecv,
        session_id: 1,
        srtp: SrtpPolicy::Offer,
        crypto: vec![Crypto::new(1, "AES_CM_128_HMAC_SHA1_80", vec![7; 30])],
    };
    if let Ok(a) = answer(&s, &cfg) {
        assert!(Session::parse(a.to_string().as_bytes()).is_ok());
        let _ = srtp_keys(&a, &s);
    }
    for m in &s.media {
        for c in m.crypto() {
            assert_eq!(Crypto::parse(&c.to_string()).as_ref(), Ok(&c), "a=crypto must round-trip");
        }
    }
    let mut held = s.clone();
    held.hold();
    held.resume();
});
