//! The hand-written corpus (tests/corpus/*.eml, one file per case a Russian-speaking center's
//! mail brings): what a ticket shows for each message, as data.

use okno_mail::{MailKind, read};

struct Case {
    file: &'static str,
    from: Option<&'static str>,
    from_name: Option<&'static str>,
    subject: &'static str,
    kind: MailKind,
    /// Words the plain text must hold.
    text_has: &'static [&'static str],
    /// Words the sanitised HTML must hold (None: the message has no HTML).
    html_has: Option<&'static [&'static str]>,
    /// (file name, MIME type, inline, content id)
    attachments: &'static [(&'static str, &'static str, bool, Option<&'static str>)],
    /// Message-IDs threading looks up, nearest first.
    thread_ids: &'static [&'static str],
    notes: usize,
}

const LIMIT: usize = 25 * 1024 * 1024;

const CASES: &[Case] = &[
    Case {
        file: "utf8-qp.eml",
        from: Some("olga.petrova@example.com"),
        from_name: Some("Ольга Петрова"),
        subject: "Где мой заказ №5521?",
        kind: MailKind::Personal,
        text_has: &["Заказ 5521 не пришёл"],
        html_has: None,
        attachments: &[],
        thread_ids: &[],
        notes: 0,
    },
    Case {
        file: "cp1251-base64.eml",
        from: Some("ivan@mail.ru"),
        from_name: Some("Иван Кузнецов"),
        subject: "Возврат денег",
        kind: MailKind::Personal,
        text_has: &["вернуть деньги за повреждённую посылку"],
        html_has: None,
        attachments: &[],
        thread_ids: &[],
        notes: 0,
    },
    Case {
        file: "koi8r-qp.eml",
        from: Some("sveta@yandex.ru"),
        from_name: Some("Светлана Орлова"),
        subject: "Курьер не приехал",
        kind: MailKind::Personal,
        text_has: &["Курьер не приехал в назначенное время."],
        html_has: None,
        attachments: &[],
        thread_ids: &[],
        notes: 0,
    },
    Case {
        file: "alternative.eml",
        from: Some("john@example.org"),
        from_name: Some("John Carter"),
        subject: "Change the delivery address",
        kind: MailKind::Personal,
        text_has: &["Please deliver to 5 Baker Street instead."],
        html_has: Some(&["<b>5 Baker Street</b>"]),
        attachments: &[],
        thread_ids: &[],
        notes: 0,
    },
    Case {
        file: "html-only.eml",
        from: Some("maria@example.es"),
        from_name: Some("Maria Garcia"),
        subject: "Invoice for last month",
        kind: MailKind::Personal,
        text_has: &["invoice", "November"],
        html_has: Some(&["<i>invoice</i>"]),
        attachments: &[],
        thread_ids: &[],
        notes: 0,
    },
    Case {
        file: "nested-attachments.eml",
        from: Some("li.wei@example.cn"),
        from_name: Some("Li Wei"),
        subject: "Damaged parcel photos",
        kind: MailKind::Personal,
        text_has: &["The box arrived crushed"],
        html_has: Some(&["cid:photo1@example.cn"]),
        attachments: &[
            ("box.png", "image/png", true, Some("photo1@example.cn")),
            ("receipt.pdf", "application/pdf", false, None),
        ],
        thread_ids: &[],
        notes: 0,
    },
    Case {
        file: "bounce.eml",
        from: Some("mailer-daemon@mx.shop.test"),
        from_name: Some("Mail Delivery System"),
        subject: "Undelivered Mail Returned to Sender",
        kind: MailKind::Bounce,
        text_has: &["could not be delivered"],
        html_has: None,
        // The report's machine parts, kept for whoever reads the bounce.
        attachments: &[
            ("delivery-status.txt", "message/delivery-status", false, None),
            ("rfc822-headers.txt", "text/rfc822-headers", false, None),
        ],
        thread_ids: &["okno-reply-77@shop.test"],
        notes: 0,
    },
    Case {
        file: "auto-reply.eml",
        from: Some("olga.petrova@example.com"),
        from_name: Some("Olga Petrova"),
        subject: "Automatic reply: Re: Where is my order? [#1042]",
        kind: MailKind::AutoReply,
        text_has: &["out of the office"],
        html_has: None,
        attachments: &[],
        thread_ids: &["okno-reply-78@shop.test"],
        notes: 0,
    },
    Case {
        file: "reply-in-thread.eml",
        from: Some("olga.petrova@example.com"),
        from_name: Some("Olga Petrova"),
        subject: "RE: Where is my order? [#1042]",
        kind: MailKind::Personal,
        text_has: &["Спасибо, посылка пришла."],
        html_has: None,
        attachments: &[],
        thread_ids: &["okno-reply-78@shop.test", "okno-reply-78@shop.test", "first-1@mail.example.com"],
        notes: 0,
    },
    Case {
        file: "malformed.eml",
        from: None,
        from_name: None,
        // An encoded word that does not decode is shown as it came.
        subject: "=?utf-8?B?broken base64!!?=",
        kind: MailKind::Personal,
        text_has: &[],
        html_has: None,
        // The part whose charset and encoding are broken, kept as it came.
        attachments: &[("attachment.txt", "text/plain", false, None)],
        thread_ids: &[],
        // No Message-ID, no sender, no readable text.
        notes: 3,
    },
];

fn raw(file: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_corpus_message_reads_as_a_ticket_would_show_it() {
    for case in CASES {
        let mail = read(&raw(case.file), LIMIT);
        let at = case.file;
        assert_eq!(mail.from.as_ref().map(|m| m.address.as_str()), case.from, "{at}: from");
        assert_eq!(mail.from.as_ref().and_then(|m| m.name.as_deref()), case.from_name, "{at}: from name");
        assert_eq!(mail.subject, case.subject, "{at}: subject");
        assert_eq!(mail.kind, case.kind, "{at}: kind");
        for word in case.text_has {
            assert!(mail.text.contains(word), "{at}: text lacks {word:?}: {:?}", mail.text);
        }
        match (case.html_has, &mail.html) {
            (None, None) => {}
            (Some(words), Some(html)) => {
                for word in words {
                    assert!(html.html.contains(word), "{at}: html lacks {word:?}: {}", html.html);
                }
            }
            (want, got) => panic!("{at}: html expected {want:?}, got {got:?}"),
        }
        let attachments: Vec<_> = mail
            .attachments
            .iter()
            .map(|a| (a.name.as_str(), a.content_type.as_str(), a.inline, a.content_id.as_deref()))
            .collect();
        assert_eq!(attachments, case.attachments, "{at}: attachments");
        assert_eq!(mail.thread_ids(), case.thread_ids, "{at}: thread ids");
        assert_eq!(mail.notes.len(), case.notes, "{at}: notes {:?}", mail.notes);
        assert!(!mail.message_id.is_empty(), "{at}: message id");
    }
}

#[test]
fn html_only_mail_is_sanitised_and_its_tracking_pixel_counted() {
    let mail = read(&raw("html-only.eml"), LIMIT);
    let html = mail.html.expect("html");
    assert!(!html.html.contains("<script") && !html.html.contains("onload"), "{}", html.html);
    assert_eq!(html.remote_images, 1);
    assert!(!mail.text.contains('<'), "the text has no markup: {:?}", mail.text);
}

#[test]
fn attachments_are_named_by_their_content_and_the_limit_is_kept() {
    let mail = read(&raw("nested-attachments.eml"), LIMIT);
    let pdf = mail.attachments.iter().find(|a| a.name == "receipt.pdf").expect("pdf");
    assert!(pdf.data.starts_with(b"%PDF-1.4"));
    assert_eq!(pdf.sha256.len(), 64);
    let small = read(&raw("nested-attachments.eml"), 50);
    assert!(small.attachments.iter().all(|a| a.data.len() <= 50));
    assert!(small.notes.iter().any(|n| n.contains("receipt.pdf") && n.contains("limit")), "{:?}", small.notes);
}

#[test]
fn the_same_bytes_without_a_message_id_get_the_same_id() {
    let a = read(b"From: a@b.c\r\n\r\nhello", LIMIT);
    let b = read(b"From: a@b.c\r\n\r\nhello", LIMIT);
    let c = read(b"From: a@b.c\r\n\r\nhello!", LIMIT);
    assert_eq!(a.message_id, b.message_id);
    assert_ne!(a.message_id, c.message_id);
    assert!(a.message_id.ends_with("@okno.invalid"));
    assert!(read(b"", LIMIT).notes.iter().any(|n| n.contains("could not be read")));
}
