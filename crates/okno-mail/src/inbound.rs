//! Reading one inbound message into what a ticket needs.

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use okno_core::email::EmailAddress;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sanitize::{SafeHtml, sanitize};
use crate::thread::bare_message_id;

/// Whether a person wrote the message. Only [`MailKind::Personal`] mail opens tickets or gets
/// an automatic answer; the others are kept, marked, on the ticket they belong to (mail loops
/// between two auto-responders are how helpdesks flood themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    Personal,
    /// Out-of-office and other machine answers (`Auto-Submitted`, `X-Autoreply`, `Precedence:
    /// auto_reply`, the common subject prefixes).
    AutoReply,
    /// A delivery status notification (RFC 3464 report, or from MAILER-DAEMON / postmaster).
    Bounce,
}

/// A part the customer sent as a file or an inline picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    /// `Content-ID` without brackets, for `cid:` references from the HTML.
    pub content_id: Option<String>,
    pub inline: bool,
    pub data: Vec<u8>,
    /// Lower-case hex SHA-256 of `data`: the name the server stores it under.
    pub sha256: String,
}

/// One inbound message, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// Bare Message-ID; `okno-<hash>@okno.invalid` when the message has none, so the same bytes
    /// fetched twice still dedupe.
    pub message_id: String,
    pub in_reply_to: Vec<String>,
    /// References, and for a bounce the Message-ID of the returned message, oldest first.
    pub references: Vec<String>,
    pub from: Option<EmailAddress>,
    pub reply_to: Option<EmailAddress>,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub subject: String,
    /// Plain text for search, previews and the conversation (from the HTML when there is no
    /// text part).
    pub text: String,
    pub html: Option<SafeHtml>,
    pub attachments: Vec<Attachment>,
    pub kind: MailKind,
    /// The Date header, Unix milliseconds.
    pub sent_at: Option<i64>,
    /// What could not be read, for a note on the ticket.
    pub notes: Vec<String>,
}

impl Inbound {
    /// Where an answer goes: Reply-To when set, else From.
    pub fn reply_address(&self) -> Option<&EmailAddress> {
        self.reply_to.as_ref().or(self.from.as_ref())
    }

    /// Every Message-ID this message answers, nearest first: what header threading looks up.
    pub fn thread_ids(&self) -> Vec<&str> {
        self.in_reply_to.iter().chain(self.references.iter().rev()).map(String::as_str).collect()
    }
}

/// Read raw RFC 5322 bytes. Attachments over `max_attachment_bytes` are left out with a note.
pub fn read(raw: &[u8], max_attachment_bytes: usize) -> Inbound {
    let digest = hex::encode(Sha256::digest(raw));
    let Some(message) = MessageParser::default().parse(raw) else {
        return unreadable(raw, &digest);
    };
    let mut notes = Vec::new();
    let message_id = match message.message_id().map(bare_message_id).filter(|id| !id.is_empty()) {
        Some(id) => id,
        None => {
            notes.push("The message has no Message-ID.".to_owned());
            format!("okno-{}@okno.invalid", &digest[..32])
        }
    };
    let from = first(message.from());
    if from.is_none() {
        notes.push("The message has no readable sender (From).".to_owned());
    }
    let kind = classify(&message, from.as_ref());
    let mut references = ids(message.references());
    if kind == MailKind::Bounce {
        references.extend(returned_message_ids(&message));
    }
    let text = body_text(&message);
    let html = message
        .html_bodies()
        .filter_map(|p| match &p.body {
            PartType::Html(h) => Some(h.as_ref()),
            _ => None,
        })
        .collect::<Vec<_>>();
    let html = (!html.is_empty()).then(|| sanitize(&html.join("\n")));
    let mut attachments = Vec::new();
    for part in message.attachments() {
        let data: &[u8] = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b,
            PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
            PartType::Message(m) => m.raw_message(),
            PartType::Multipart(_) => continue,
        };
        let content_type = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")).to_ascii_lowercase())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let name = part.attachment_name().map(str::to_owned).unwrap_or_else(|| unnamed(&content_type));
        if data.len() > max_attachment_bytes {
            notes.push(format!(
                "The attachment {name:?} ({} bytes) is over the {max_attachment_bytes}-byte limit and was not kept.",
                data.len()
            ));
            continue;
        }
        let inline = matches!(part.body, PartType::InlineBinary(_))
            || part.content_disposition().is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
        attachments.push(Attachment {
            name,
            content_type,
            content_id: part.content_id().map(bare_message_id),
            inline,
            sha256: hex::encode(Sha256::digest(data)),
            data: data.to_vec(),
        });
    }
    if text.trim().is_empty() && html.is_none() {
        notes.push(if attachments.is_empty() {
            "The message has no readable body.".to_owned()
        } else {
            "The message has no readable text; its parts are kept as attachments.".to_owned()
        });
    }
    Inbound {
        message_id,
        in_reply_to: ids(message.in_reply_to()),
        references,
        reply_to: first(message.reply_to()),
        to: all(message.to()),
        cc: all(message.cc()),
        subject: message.subject().unwrap_or("").trim().to_owned(),
        text,
        html,
        attachments,
        kind,
        sent_at: message.date().map(|d| d.to_timestamp().saturating_mul(1000)),
        from,
        notes,
    }
}

/// What could be read of bytes that are not a message at all.
fn unreadable(raw: &[u8], digest: &str) -> Inbound {
    let text: String = String::from_utf8_lossy(raw).chars().take(100_000).collect();
    Inbound {
        message_id: format!("okno-{}@okno.invalid", &digest[..32]),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        from: None,
        reply_to: None,
        to: Vec::new(),
        cc: Vec::new(),
        subject: String::new(),
        text,
        html: None,
        attachments: Vec::new(),
        kind: MailKind::Personal,
        sent_at: None,
        notes: vec!["The message could not be read as MIME; its raw text is kept.".to_owned()],
    }
}

fn body_text(message: &Message<'_>) -> String {
    let parts: Vec<String> =
        (0..message.text_body_count()).filter_map(|i| message.body_text(i)).map(|t| t.trim().to_owned()).collect();
    if !parts.is_empty() {
        return parts.join("\n\n");
    }
    // HTML-only mail: the library's own HTML-to-text (body_text falls back to it per part).
    message.body_text(0).map(|t| t.trim().to_owned()).unwrap_or_default()
}

fn unnamed(content_type: &str) -> String {
    let (main, sub) = content_type.split_once('/').unwrap_or(("application", "octet-stream"));
    match (main, sub) {
        ("message", "rfc822") => "message.eml".to_owned(),
        ("text", "plain") => "attachment.txt".to_owned(),
        ("text" | "message", sub) => format!("{sub}.txt"),
        (_, sub) => format!("attachment.{sub}"),
    }
}

fn mailbox(address: &mail_parser::Addr<'_>) -> Option<EmailAddress> {
    let addr = address.address()?.trim();
    if addr.is_empty() {
        return None;
    }
    let name = address.name().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    // Addresses are compared and stored in lower case.
    Some(EmailAddress { address: addr.to_lowercase(), name })
}

fn first(address: Option<&Address<'_>>) -> Option<EmailAddress> {
    address?.iter().find_map(mailbox)
}

fn all(address: Option<&Address<'_>>) -> Vec<EmailAddress> {
    address.map(|a| a.iter().filter_map(mailbox).collect()).unwrap_or_default()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    raw.into_iter().map(bare_message_id).filter(|id| !id.is_empty()).collect()
}

fn header_text<'a>(message: &'a Message<'_>, name: &'static str) -> Option<&'a str> {
    message.header_raw(name).map(str::trim)
}

fn classify(message: &Message<'_>, from: Option<&EmailAddress>) -> MailKind {
    let is_report = message.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && c.attribute("report-type").is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    });
    let daemon = from.is_some_and(|f| {
        let local = f.address.split('@').next().unwrap_or("");
        local == "mailer-daemon" || local == "postmaster"
    });
    if is_report || daemon {
        return MailKind::Bounce;
    }
    let auto_submitted = header_text(message, "Auto-Submitted").is_some_and(|v| !v.eq_ignore_ascii_case("no"));
    let flagged = header_text(message, "X-Autoreply").is_some() || header_text(message, "X-Autorespond").is_some();
    let precedence = header_text(message, "Precedence")
        .is_some_and(|v| v.eq_ignore_ascii_case("auto_reply") || v.eq_ignore_ascii_case("junk"));
    let subject = message.subject().unwrap_or("").trim_start().to_lowercase();
    let auto_subject = ["auto:", "automatic reply", "autoreply", "out of office", "автоответ", "автоматический ответ"]
        .iter()
        .any(|p| subject.starts_with(p));
    if auto_submitted || flagged || precedence || auto_subject { MailKind::AutoReply } else { MailKind::Personal }
}

/// The Message-IDs of the message a bounce returns (its `message/rfc822` or
/// `text/rfc822-headers` part), so the bounce threads onto the ticket whose reply failed.
fn returned_message_ids(message: &Message<'_>) -> Vec<String> {
    let mut found = Vec::new();
    for part in &message.parts {
        match &part.body {
            PartType::Message(inner) => found.extend(inner.message_id().map(bare_message_id)),
            PartType::Text(text) if part.is_content_type("text", "rfc822-headers") => {
                let headers = format!("{}\r\n\r\n", text.trim_end());
                if let Some(inner) = MessageParser::default().parse(headers.as_bytes()) {
                    found.extend(inner.message_id().map(bare_message_id));
                }
            }
            _ => {}
        }
    }
    found
}
