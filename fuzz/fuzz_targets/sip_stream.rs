//! SIP over a TCP or TLS connection: the first byte picks how the stream is cut into reads
//! (1 to 64 bytes each, or all at once), the rest is what the peer sent. The reader frames
//! messages as a connection reader does (`parse_stream_item`, as okno-phone's): buffer what
//! arrived, take every complete message, keep-alive ping and pong, wait for more on `Ok(None)`,
//! close on an error. Framing never panics, always consumes a non-empty prefix of what it holds,
//! and yields the same messages (and the same end: closed or waiting) however the stream was
//! cut. Keep-alives may differ with the cut (a ping split in two reads as two pongs), never a
//! message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_sip::message::{Parser, StreamItem};

/// The messages framed from `reads` in order, serialized, and whether the connection was closed
/// on an error.
fn frame<'a>(reads: impl Iterator<Item = &'a [u8]>) -> (Vec<Vec<u8>>, bool) {
    let parser = Parser::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut framed = Vec::new();
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            match parser.parse_stream_item(&buf) {
                Ok(Some((item, used))) => {
                    assert!(used > 0 && used <= buf.len(), "consumed {used} of {}", buf.len());
                    if let StreamItem::Message(msg) = item {
                        framed.push(msg.to_bytes());
                    }
                    buf.drain(..used);
                }
                Ok(None) => break,
                Err(_) => return (framed, true),
            }
        }
    }
    (framed, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else { return };
    let whole = frame(std::iter::once(stream));
    let size = usize::from(cut % 64) + 1;
    let pieces = if cut >= 192 { frame(stream.chunks(stream.len().max(1))) } else { frame(stream.chunks(size)) };
    assert_eq!(whole, pieces, "framing depends on how the stream was cut ({size}-byte reads)");
});
