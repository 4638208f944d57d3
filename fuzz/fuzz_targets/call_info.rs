//! Any Call-Info header value: parsing never panics, and what parses prints back to the same
//! entries (so a value the gateway builds reads the same at the desk).
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_sip::message::{CallInfo, HeaderName, Headers};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut headers = Headers::default();
    headers.push(HeaderName::CallInfo, text);
    let Ok(entries) = headers.call_info() else { return };
    for entry in entries {
        let printed = entry.to_string();
        assert!(!printed.contains(['\r', '\n']), "a header value never holds a line break");
        assert_eq!(CallInfo::parse(&printed).as_ref(), Ok(&entry), "Call-Info must round-trip");
    }
});
