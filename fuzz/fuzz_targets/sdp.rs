//! Any SDP body: parsing never panics; serialization is stable; answering an
//! offer never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_sip::sdp::{Direction, MediaConfig, Session, answer, default_codecs};

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
    };
    if let Ok(a) = answer(&s, &cfg) {
        assert!(Session::parse(a.to_string().as_bytes()).is_ok());
    }
    let mut held = s.clone();
    held.hold();
    held.resume();
});
