//! Any bytes as an inbound email: reading never panics, always yields a Message-ID and, for
//! anything that is not a message, a note; the sanitised HTML never carries a script; the
//! ticket token and reply subject never panic on the subject read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_mail::thread::{reply_subject, ticket_token};

fuzz_target!(|data: &[u8]| {
    let mail = okno_mail::read(data, 4096);
    assert!(!mail.message_id.is_empty());
    assert!(mail.attachments.iter().all(|a| a.data.len() <= 4096));
    if let Some(html) = &mail.html {
        assert!(!html.html.to_ascii_lowercase().contains("<script"), "script survived sanitising");
    }
    let _ = ticket_token(&mail.subject);
    let _ = reply_subject(&mail.subject, 1);
});
