//! A reply as the customer's mail client will see it: composed, then read back by the same
//! reader the server uses for inbound mail.

use std::time::{Duration, UNIX_EPOCH};

use okno_mail::thread::{reply_subject, ticket_token};
use okno_mail::{ComposeError, OutgoingAttachment, OutgoingMail, compose, read};

fn reply() -> OutgoingMail {
    OutgoingMail {
        message_id: "0193a1b2-reply@shop.test".to_owned(),
        from_address: "support@shop.test".to_owned(),
        from_name: Some("Shop support".to_owned()),
        to: vec!["olga.petrova@example.com".to_owned()],
        cc: vec!["manager@example.com".to_owned()],
        subject: reply_subject("Где мой заказ?", 1042),
        text: "Здравствуйте, Ольга! Заказ отправлен сегодня.".to_owned(),
        in_reply_to: Some("first-1@mail.example.com".to_owned()),
        references: vec!["first-1@mail.example.com".to_owned()],
        attachments: vec![OutgoingAttachment {
            name: "накладная.pdf".to_owned(),
            content_type: "application/pdf".to_owned(),
            data: b"%PDF-1.4 waybill".to_vec(),
        }],
        date: UNIX_EPOCH + Duration::from_secs(1_796_000_000),
        auto_submitted: None,
    }
}

#[test]
fn a_reply_carries_threading_headers_token_cc_and_attachment() {
    let composed = compose(&reply()).expect("composes");
    assert_eq!(composed.envelope_from, "support@shop.test");
    assert_eq!(composed.recipients, ["olga.petrova@example.com", "manager@example.com"]);
    let back = read(&composed.bytes, 1 << 20);
    assert_eq!(back.message_id, "0193a1b2-reply@shop.test");
    assert_eq!(back.in_reply_to, ["first-1@mail.example.com"]);
    assert_eq!(back.references, ["first-1@mail.example.com"]);
    assert_eq!(back.subject, "Re: Где мой заказ? [#1042]");
    assert_eq!(ticket_token(&back.subject), Some(1042));
    assert_eq!(back.from.as_ref().and_then(|m| m.name.as_deref()), Some("Shop support"));
    assert_eq!(back.cc.iter().map(|m| m.address.as_str()).collect::<Vec<_>>(), ["manager@example.com"]);
    assert!(back.text.contains("Заказ отправлен сегодня."), "{:?}", back.text);
    assert_eq!(back.attachments.len(), 1);
    assert_eq!(back.attachments[0].name, "накладная.pdf");
    assert_eq!(back.attachments[0].data, b"%PDF-1.4 waybill");
    assert!(back.notes.is_empty(), "{:?}", back.notes);
}

#[test]
fn a_reply_that_cannot_be_written_says_which_field() {
    let mut bad = reply();
    bad.to = vec!["not an address".to_owned()];
    assert_eq!(compose(&bad), Err(ComposeError::Address { field: "to", value: "not an address".to_owned() }));
    bad.to.clear();
    assert_eq!(compose(&bad), Err(ComposeError::NoRecipient));
    let mut bad = reply();
    bad.attachments[0].content_type = "pdf".to_owned();
    assert!(matches!(compose(&bad), Err(ComposeError::ContentType { .. })));
}

#[test]
fn an_auto_reply_says_so_and_a_reader_treats_it_as_machine_mail() {
    let mut auto = reply();
    auto.auto_submitted = Some("auto-replied".to_owned());
    let composed = compose(&auto).expect("composes");
    assert!(String::from_utf8_lossy(&composed.bytes).contains("Auto-Submitted: auto-replied\r\n"));
    // The reader the server (and any RFC 3834 responder) uses: machine mail, never answered.
    assert_eq!(read(&composed.bytes, 1 << 20).kind, okno_mail::MailKind::AutoReply);
    assert_eq!(read(&compose(&reply()).unwrap().bytes, 1 << 20).kind, okno_mail::MailKind::Personal);
}
