//! Any provisioning file an IT team might ship: parsing never panics; a refusal is a typed
//! error; what is accepted keeps the file's rules (an operator to sign in needs a server).
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_softphone::provision::Provision;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Provision::parse(text) {
        Ok(p) => assert!(p.server.is_none() || p.server_url.is_some(), "an operator without a server was accepted"),
        Err(e) => assert!(!e.to_string().is_empty(), "a refusal says why"),
    }
});
