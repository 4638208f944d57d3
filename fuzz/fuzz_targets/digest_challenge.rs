//! Any WWW-Authenticate value: parsing never panics; the computed Authorization
//! parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_sip::auth::{Authorization, Challenge, Credentials, authorize};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = Authorization::parse(s);
    let Ok(ch) = Challenge::parse(s) else { return };
    let creds = Credentials { username: "alice".into(), password: "secret".into() };
    let Ok(a) = authorize(&ch, &creds, "REGISTER", "sip:example.com", b"", "0a4f113b", 1) else { return };
    let back = Authorization::parse(&a.to_string()).expect("own Authorization must parse");
    assert_eq!(back, a);
});
