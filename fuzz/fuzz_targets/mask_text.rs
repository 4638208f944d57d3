//! Any text a contractor might be sent: masking never panics, and what it returns never shows
//! more than the allowed clear digits of a long number (okno_core::pii's rule).
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_core::pii::{clear_digits_exposed, mask_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let masked = mask_text(text);
    assert_eq!(clear_digits_exposed(&masked), 0, "{text:?} -> {masked:?}");
});
