//! An operator's reply as an RFC 5322 message, written by `lettre`'s builder: threading headers
//! so the customer's client files it under the conversation, the ticket token in the subject so
//! a client that drops those headers still finds the ticket, CC, and attachments.

use std::time::SystemTime;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

/// What the server knows when it sends a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Bare Message-ID to give the message; the server derives it from the message's id so a
    /// retry after a crash sends the same message, not a new one.
    pub message_id: String,
    pub from_address: String,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Ready to send: [`crate::thread::reply_subject`] of the ticket's subject.
    pub subject: String,
    pub text: String,
    /// Bare Message-ID of the message answered.
    pub in_reply_to: Option<String>,
    /// Bare Message-IDs of the conversation so far, oldest first.
    pub references: Vec<String>,
    pub attachments: Vec<OutgoingAttachment>,
    pub date: SystemTime,
    /// `Auto-Submitted` (RFC 3834) for mail no person wrote: `auto-replied` for an auto-reply,
    /// `auto-generated` for a rule's forward; the other side's responders then stay quiet.
    pub auto_submitted: Option<String>,
}

/// The `Auto-Submitted` header, which lettre does not define.
#[derive(Debug, Clone)]
struct AutoSubmitted(String);

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.trim().to_owned()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingAttachment {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A reply that cannot be written: each names the field at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComposeError {
    #[error("{field}: {value:?} is not an email address")]
    Address { field: &'static str, value: String },
    #[error("the reply has no recipient")]
    NoRecipient,
    #[error("attachment {name:?}: {content_type:?} is not a MIME type")]
    ContentType { name: String, content_type: String },
    #[error("the message could not be built: {0}")]
    Build(String),
}

/// The message ready for SMTP, with its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub bytes: Vec<u8>,
    pub envelope_from: String,
    pub recipients: Vec<String>,
}

pub fn compose(mail: &OutgoingMail) -> Result<Composed, ComposeError> {
    let address = |field: &'static str, value: &str| -> Result<Mailbox, ComposeError> {
        value
            .parse::<lettre::Address>()
            .map(|a| Mailbox::new(None, a))
            .map_err(|_| ComposeError::Address { field, value: value.to_owned() })
    };
    if mail.to.is_empty() {
        return Err(ComposeError::NoRecipient);
    }
    let mut from = address("from", &mail.from_address)?;
    from.name = mail.from_name.clone();
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(mail.subject.as_str())
        .message_id(Some(format!("<{}>", mail.message_id)))
        .date(mail.date);
    for to in &mail.to {
        builder = builder.to(address("to", to)?);
    }
    for cc in &mail.cc {
        builder = builder.cc(address("cc", cc)?);
    }
    if let Some(parent) = &mail.in_reply_to {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    if let Some(kind) = &mail.auto_submitted {
        builder = builder.header(AutoSubmitted(kind.clone()));
    }
    if !mail.references.is_empty() {
        let list: Vec<String> = mail.references.iter().map(|r| format!("<{r}>")).collect();
        builder = builder.references(list.join(" "));
    }
    let text = SinglePart::plain(mail.text.clone());
    let message = if mail.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for a in &mail.attachments {
            let content_type = ContentType::parse(&a.content_type).map_err(|_| ComposeError::ContentType {
                name: a.name.clone(),
                content_type: a.content_type.clone(),
            })?;
            parts = parts.singlepart(Attachment::new(a.name.clone()).body(a.data.clone(), content_type));
        }
        builder.multipart(parts)
    }
    .map_err(|e| ComposeError::Build(e.to_string()))?;
    let envelope = message.envelope();
    Ok(Composed {
        envelope_from: envelope.from().map(|a| a.to_string()).unwrap_or_default(),
        recipients: envelope.to().iter().map(|a| a.to_string()).collect(),
        bytes: message.formatted(),
    })
}
