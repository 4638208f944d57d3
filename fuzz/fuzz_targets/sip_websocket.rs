//! SIP over WebSocket as okno-phone receives it (RFC 7118): the bytes a server sends after the
//! upgrade, framed by tungstenite as the phone's connection frames them (client role), each text
//! or binary message handed whole to the SIP datagram parser as the engine does. Neither may
//! panic; a message the parser takes serializes to bytes that parse again identically; a
//! server's ping or close is answered without harm.
#![no_main]

use std::io::{Cursor, Read, Write};

use libfuzzer_sys::fuzz_target;
use okno_sip::message::{Message, Parser};
use tungstenite::Message as WsMessage;
use tungstenite::protocol::{Role, WebSocket};

/// The server's side of the connection: reads come from the input, writes (pongs, a close
/// frame) are taken and dropped.
struct Wire(Cursor<Vec<u8>>);

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sip(parser: &Parser, bytes: &[u8]) {
    let Ok(msg) = parser.parse_datagram(bytes) else { return };
    let bytes = msg.to_bytes();
    let again = Message::parse(&bytes).expect("serialized message must parse");
    assert_eq!(again.to_bytes(), bytes, "serialization must be stable");
}

fuzz_target!(|data: &[u8]| {
    let mut ws = WebSocket::from_raw_socket(Wire(Cursor::new(data.to_vec())), Role::Client, None);
    let parser = Parser::default();
    // Bounded: a stream of empty frames must not keep the target busy.
    for _ in 0..256 {
        match ws.read() {
            Ok(WsMessage::Text(text)) => sip(&parser, text.as_bytes()),
            Ok(WsMessage::Binary(bytes)) => sip(&parser, &bytes),
            Ok(_) => {}
            Err(_) => break,
        }
    }
});
