//! What the widget and the server say to each other over `GET /v1/widget/{channel}/ws`: JSON
//! text frames tagged by `type`. The widget (`widget/widget.js`) is the only client; this file
//! and that one change together.
//!
//! A socket starts with the visitor's `hello` (their token, if the browser has one) and the
//! server's `welcome` (the token to keep, the history, whether the center is open). Every
//! request that fails gets an `error` frame with a `code` the widget branches on; the socket
//! stays open, and nothing the visitor sent before is lost.

use okno_core::{AttachmentRef, Millis};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromVisitor {
    Hello {
        #[serde(default)]
        token: Option<String>,
        /// The page the widget is on (`location.href`), shown to the operator.
        #[serde(default)]
        page: Option<String>,
    },
    /// The pre-chat form.
    Start {
        name: String,
        contact: String,
    },
    /// `id` is the browser's own id for the message: a resend after a reconnect is stored once.
    Message {
        id: String,
        #[serde(default)]
        text: String,
        #[serde(default)]
        attachments: Vec<AttachmentRef>,
    },
    Typing,
    /// The widget has shown the operators' messages up to `at` (their `at`) to the visitor: the
    /// read receipt the desk shows on its replies.
    Seen {
        at: Millis,
    },
    /// The visitor ended the chat (the ticket is resolved; the rating follows).
    End,
    /// `good`, `normal` or `bad`, with an optional comment.
    Rate {
        score: String,
        #[serde(default)]
        comment: String,
    },
    /// Outside business hours: a message answered by email.
    LeaveMessage {
        name: String,
        email: String,
        text: String,
    },
    /// Call the center: the browser's complete WebRTC offer (ICE gathered).
    CallOffer {
        sdp: String,
    },
    CallHangup,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToVisitor {
    Welcome {
        token: String,
        title: String,
        /// Whether operators answer now; when not, the widget offers to leave a message.
        open: bool,
        can_leave_message: bool,
        /// The name from the pre-chat form, once given.
        name: Option<String>,
        /// The current chat's status (`new`, `open`, `resolved`, ...), if there is one.
        status: Option<String>,
        history: Vec<ChatLine>,
        /// Operators have seen the visitor's messages up to this time.
        read_at: Option<Millis>,
        limits: PublicLimits,
        /// Present when the channel takes calls: how the browser reaches the gateway.
        #[serde(skip_serializing_if = "Option::is_none")]
        calls: Option<super::calls::CallSettings>,
        /// The scale the widget asks on when a chat ends; absent when the center does not ask.
        rating: Option<okno_rules::CsatScale>,
    },
    Started {
        name: String,
    },
    Message {
        message: ChatLine,
        /// The browser's id, on the echo of the visitor's own message.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    Read {
        at: Millis,
    },
    /// An operator is typing an answer.
    Typing,
    Status {
        status: String,
    },
    Rated,
    Left {
        number: i64,
    },
    CallAnswer {
        sdp: String,
    },
    /// `calling`, `ringing`, `answered` or `ended` (with the center's reason).
    Call {
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Error {
        code: &'static str,
        message: String,
    },
}

/// What the widget needs to check before it sends.
#[derive(Debug, Clone, Serialize)]
pub struct PublicLimits {
    pub max_message_chars: usize,
    pub max_attachment_bytes: usize,
    pub attachment_types: Vec<String>,
}

/// One line of the conversation as the visitor sees it: no internal notes, no operator ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatLine {
    pub id: String,
    /// `visitor` or `operator`.
    pub from: &'static str,
    pub author: String,
    pub text: String,
    pub at: Millis,
    pub attachments: Vec<AttachmentRef>,
}

impl ChatLine {
    /// A stored message (a `messages` row as JSON) as the visitor may see it; `None` for an
    /// internal note.
    pub fn from_row(row: &Value) -> Option<ChatLine> {
        let from = match row.get("direction")?.as_str()? {
            "inbound" => "visitor",
            "outbound" => "operator",
            _ => return None,
        };
        Some(ChatLine {
            id: row.get("id")?.as_str()?.to_owned(),
            from,
            author: row.get("author_name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            text: row.get("body").and_then(Value::as_str).unwrap_or_default().to_owned(),
            at: row.get("created_at").and_then(Value::as_i64).unwrap_or_default(),
            attachments: row
                .get("attachments")
                .and_then(|a| serde_json::from_value(a.clone()).ok())
                .unwrap_or_default(),
        })
    }
}

pub fn frame(message: &ToVisitor) -> std::sync::Arc<str> {
    serde_json::to_string(message)
        .unwrap_or_else(|_| r#"{"type":"error","code":"internal","message":""}"#.into())
        .into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_internal_note_never_reaches_the_visitor() {
        let row = |direction: &str| {
            json!({ "id": "m1", "direction": direction, "author_name": "Anna", "body": "hi", "created_at": 5,
                    "attachments": [{ "name": "a.png", "mime": "image/png", "size": 3, "sha256": "ab" }] })
        };
        assert_eq!(ChatLine::from_row(&row("internal")), None);
        let line = ChatLine::from_row(&row("outbound")).expect("a reply");
        assert_eq!((line.from, line.author.as_str(), line.text.as_str(), line.at), ("operator", "Anna", "hi", 5));
        assert_eq!(line.attachments[0].name, "a.png");
        assert_eq!(ChatLine::from_row(&row("inbound")).map(|l| l.from), Some("visitor"));
    }

    #[test]
    fn visitor_frames_are_read_by_type_and_strangers_refused() {
        let hello: FromVisitor = serde_json::from_str(r#"{"type":"hello","page":"https://shop/cart"}"#).unwrap();
        assert_eq!(hello, FromVisitor::Hello { token: None, page: Some("https://shop/cart".into()) });
        assert!(serde_json::from_str::<FromVisitor>(r#"{"type":"message","id":"1","text":"x","admin":true}"#).is_err());
        assert!(serde_json::from_str::<FromVisitor>(r#"{"type":"become_operator"}"#).is_err());
    }
}
