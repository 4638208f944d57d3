//! Any datagram: RTP parsing never panics; a parsed packet serializes back to
//! the same bytes (padding content aside), and its extension elements can be walked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_media::rtp::RtpPacket;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = RtpPacket::parse(data) else { return };
    assert_eq!(p.wire_len(), data.len());
    let bytes = p.to_vec().expect("a parsed packet must serialize");
    let back = RtpPacket::parse(&bytes).expect("serialized packet must parse");
    assert_eq!(back, p);
    // Everything but the padding filler (zeroed on output) is identical.
    let keep = data.len() - p.padding as usize;
    assert_eq!(&bytes[..keep], &data[..keep]);
    if let Some(ext) = p.extension
        && let Some(elements) = ext.elements()
    {
        for e in elements {
            let _ = e;
        }
    }
});
