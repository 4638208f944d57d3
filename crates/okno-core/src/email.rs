//! The email side of a message, as stored in its `email` column on the server and the desk
//! and shown by the window: one shape, written by the server's mail intake and outbox and by the
//! desk's pending reply, read by the desk and the outbox.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::Millis;

/// An address on an email message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EmailAddress {
    pub address: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// Where an operator's email reply is: in the server's outbox, accepted by the mail server, or
/// given up with the mail server's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Queued,
    Sent,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EmailDelivery {
    pub state: DeliveryState,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub at: Option<Millis>,
}

/// What the desk shows of an email message, as the server wrote it (okno-server's mail intake
/// and outbox) and the desk's own pending reply: the `email` column of a message, on both
/// sides. The HTML is already sanitised on the server; the desk still shows it sandboxed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct EmailView {
    pub mailbox: Option<String>,
    pub message_id: Option<String>,
    pub from: Option<EmailAddress>,
    /// Where answers go when it is not `from` (an inbound message's Reply-To).
    pub reply_to: Option<EmailAddress>,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    /// `personal`, `auto_reply`, `bounce` or `own` (mail from one of the center's addresses).
    pub kind: Option<String>,
    /// What could not be read of the message, for the operator.
    pub notes: Vec<String>,
    pub html: Option<String>,
    /// Pictures the HTML loads from the web: blocked until the operator asks.
    pub remote_images: u32,
    pub delivery: Option<EmailDelivery>,
    /// The Date header of an inbound message, Unix milliseconds.
    #[ts(type = "number | null")]
    pub sent_at: Option<Millis>,
}

impl DeliveryState {
    /// The stable text form (the server's outbox stores it too).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }
}

impl EmailAddress {
    pub fn new(address: impl Into<String>) -> Self {
        EmailAddress { address: address.into(), name: None }
    }
}

impl EmailView {
    /// Where a reply to this (inbound) message goes: Reply-To, else From.
    pub fn answer_to(&self) -> Option<&EmailAddress> {
        self.reply_to.as_ref().or(self.from.as_ref())
    }

    /// An operator's reply before the server has sent it: its copies, and "queued".
    pub fn pending_reply(cc: &[String]) -> Self {
        EmailView {
            cc: cc.iter().map(EmailAddress::new).collect(),
            delivery: Some(EmailDelivery { state: DeliveryState::Queued, reason: None, at: None }),
            ..EmailView::default()
        }
    }
}
