//! Any datagram: RTCP compound parsing never panics; what parses serializes,
//! and the serialization parses back to the same packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_media::rtcp::RtcpPacket;

fuzz_target!(|data: &[u8]| {
    let Ok(packets) = RtcpPacket::parse_compound(data) else { return };
    let Ok(bytes) = RtcpPacket::write_compound(&packets) else { return };
    let back = RtcpPacket::parse_compound(&bytes).expect("serialized RTCP must parse");
    assert_eq!(back, packets);
});
