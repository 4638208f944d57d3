//! Any datagram: parsing never panics; a parsed message re-serializes to bytes
//! that parse again and serialize identically; typed accessors never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_sip::message::{Message, Parser};
use okno_sip::transaction::TransactionKey;

fuzz_target!(|data: &[u8]| {
    let _ = Parser::default().parse_stream(data);
    let Ok(msg) = Message::parse(data) else { return };
    let h = msg.headers();
    let _ = (h.vias(), h.top_via(), h.from(), h.to(), h.call_id(), h.cseq(), h.contacts());
    let _ = (h.routes(), h.record_routes(), h.max_forwards(), h.content_type(), h.expires());
    let _ = (h.session_expires(), h.refer_to(), h.replaces(), h.event(), h.supported());
    match &msg {
        Message::Request(r) => {
            let _ = r.validate();
            let _ = TransactionKey::for_request(r);
        }
        Message::Response(r) => {
            let _ = TransactionKey::for_response(r);
        }
    }
    let bytes = msg.to_bytes();
    let again = Message::parse(&bytes).expect("serialized message must parse");
    assert_eq!(again.to_bytes(), bytes, "serialization must be stable");
});
