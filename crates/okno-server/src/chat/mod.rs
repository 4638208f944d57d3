//! The website's chat, the server's side: the widget's script and demo page ([`widget`]), one
//! WebSocket per open widget ([`socket`], speaking [`protocol`]), the visitors' files
//! ([`files`]), the rows behind it ([`store`]) and this instance's visitor sockets ([`hub`]).
//!
//! A chat is a ticket in the channel's queue: desks pull it like any ticket and answer with the
//! ordinary `reply_ticket` mutation. [`committed`] is the way back: after a push commits a reply
//! on a chat ticket (or a status change), the visitor's sockets get it, here and, over the NATS
//! bus, on every other instance.
//!
//! Invariant: a visitor sees only their own chats' lines, never an internal note, and may attach
//! and download only files of their own chats.
//! Invariant: limits (message size and rate, file size and type) are checked before anything is
//! stored; a refused request is answered with an `error` frame and the socket goes on.

pub mod calls;
pub mod config;
pub mod files;
pub mod hub;
pub mod protocol;
pub mod socket;
pub mod store;
pub mod widget;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use crate::changelog::NewChange;
use crate::live::Live;
use config::{ChatChannel, ChatConfig};
use protocol::{ChatLine, ToVisitor, frame};

/// The widget's WebSocket.
pub const SOCKET_PATH: &str = "/v1/widget/{channel}/ws";
/// A visitor's upload.
pub const FILES_PATH: &str = "/v1/widget/{channel}/files";
/// A file of a visitor's chat.
pub const FILE_PATH: &str = "/v1/widget/{channel}/files/{sha256}";

/// The chat channels and this instance's per-visitor message budgets.
#[derive(Debug, Default)]
pub struct Chat {
    pub config: ChatConfig,
    budgets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Chat {
    pub fn new(config: ChatConfig) -> Self {
        Chat { config, budgets: Mutex::new(HashMap::new()) }
    }

    pub fn channel(&self, id: &str) -> Option<&ChatChannel> {
        self.config.channels.iter().find(|c| c.id == id)
    }

    /// Take one message from the visitor's budget (`messages_per_minute`, refilled evenly);
    /// false when it is spent. Per instance: a visitor's sockets are usually on one.
    pub fn take_message(&self, visitor_id: &str, now: Instant) -> bool {
        let per_minute = f64::from(self.config.limits.messages_per_minute);
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        if budgets.len() > 100_000 {
            // Visitors idle for a minute are back to a full budget anyway.
            budgets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(60));
        }
        let (tokens, at) = budgets.entry(visitor_id.to_owned()).or_insert((per_minute, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_minute / 60.0).min(per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The queue id of every channel's `queue` (an id or a name): checked at start so a channel
/// that cannot work is refused then, not at a visitor's first message.
pub async fn resolve_queues(pool: &sqlx::PgPool, config: &mut ChatConfig) -> anyhow::Result<()> {
    for (i, channel) in config.channels.iter_mut().enumerate() {
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM queues WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1")
                .bind(&channel.queue)
                .fetch_optional(pool)
                .await?;
        channel.queue = id.with_context(|| format!("chat[{i}].queue: no queue {:?}", channel.queue))?;
    }
    Ok(())
}

/// After a push committed `changes`: the visitor's side of them (operators' replies, status
/// changes of chat tickets), to the sockets of those chats on every instance.
pub fn committed(live: &Live, changes: &[NewChange]) {
    for change in changes {
        let data = &change.data;
        let is_chat = data.get("channel").and_then(Value::as_str) == Some("chat");
        if !is_chat {
            continue;
        }
        match change.entity {
            "message" => {
                let Some(line) = ChatLine::from_row(data).filter(|l| l.from == "operator") else { continue };
                let Some(ticket_id) = data.get("ticket_id").and_then(Value::as_str) else { continue };
                let at = line.at;
                live.to_visitors(ticket_id, frame(&ToVisitor::Message { message: line, client_id: None }));
                live.to_visitors(ticket_id, frame(&ToVisitor::Read { at }));
            }
            "ticket" => {
                let Some(status) = data.get("status").and_then(Value::as_str) else { continue };
                live.to_visitors(&change.id, frame(&ToVisitor::Status { status: status.to_owned() }));
            }
            _ => {}
        }
    }
}

/// `POST /v1/typing`: an operator types in chat `ticket_id`; its visitor sees "typing". Only for
/// a chat ticket in a queue the operator works (the same grant as replying there).
pub(crate) async fn operator_typing(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    caller: crate::Caller,
    axum::Json(body): axum::Json<TypingRequest>,
) -> Result<axum::http::StatusCode, crate::AppError> {
    let allowed: Option<bool> = sqlx::query_scalar(
        "SELECT $3 OR EXISTS (SELECT 1 FROM operator_queues g WHERE g.operator_id = $2 AND g.queue_id = t.queue_id) \
         FROM tickets t WHERE t.id = $1 AND t.channel = 'chat'",
    )
    .bind(&body.ticket_id)
    .bind(&caller.id)
    .bind(caller.sees_all_queues())
    .fetch_optional(&state.pool)
    .await?;
    if allowed != Some(true) {
        return Err(crate::AppError::Forbidden("no chat you answer with this id".into()));
    }
    state.live.to_visitors(&body.ticket_id, frame(&ToVisitor::Typing));
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TypingRequest {
    ticket_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitors_budget_refills_over_the_minute() {
        let chat = Chat::new(ChatConfig {
            limits: config::ChatLimits { messages_per_minute: 3, ..Default::default() },
            ..Default::default()
        });
        let t0 = Instant::now();
        assert!((0..3).all(|_| chat.take_message("v1", t0)));
        assert!(!chat.take_message("v1", t0), "a fourth message in the same instant");
        assert!(chat.take_message("v2", t0), "another visitor has their own budget");
        assert!(!chat.take_message("v1", t0 + Duration::from_secs(10)), "half a message refilled");
        assert!(chat.take_message("v1", t0 + Duration::from_secs(20)), "one message refilled in 20 s");
    }
}
