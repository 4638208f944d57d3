//! The live channel, `GET /v1/live` (a WebSocket): what the server tells a connected desktop.
//!
//! Pokes carry no row data, only which bucket changed and up to which version: the desktop then
//! pulls, and the pull alone decides what it may see. A desktop only gets pokes for buckets it
//! is entitled to. Team leads and admins also get presence (who has a desktop connected) and
//! agent-state changes for the wallboard. The client sends nothing but WebSocket control
//! frames; a socket that falls too far behind is closed by the server, and the client
//! reconnects (the `hello` after a reconnect tells it whether it missed anything).

use okno_core::{AgentState, Millis};
use serde::{Deserialize, Serialize};

/// The path of the WebSocket, authenticated like every other call (`Authorization: Bearer`).
pub const LIVE_PATH: &str = "/v1/live";

/// One server-to-client message, a JSON text frame tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LiveEvent {
    /// The first message on every socket: the changelog head when the socket was registered.
    /// Every later commit is announced by a poke, so a desktop whose cursor is behind `version`
    /// pulls now.
    Hello { version: u64 },
    /// Something in `bucket` was committed, up to `version`: feed it to the engine as
    /// [`crate::Input::Poke`].
    Poke { bucket: String, version: u64 },
    /// Team leads and admins: every operator with at least one desktop connected to any server
    /// instance, sorted. Sent on connect and on every change.
    Presence { online: Vec<String> },
    /// Team leads and admins: an operator's agent state changed.
    AgentState { operator_id: String, state: AgentState, since: Millis },
    /// A website visitor is typing in chat `ticket_id` (of `bucket`): shown for a few seconds.
    /// Best effort: a socket that cannot take it simply misses it.
    VisitorTyping { bucket: String, ticket_id: String },
}

impl LiveEvent {
    /// The version to feed the engine as a poke, for the events that announce one.
    pub fn poke_version(&self) -> Option<u64> {
        match self {
            LiveEvent::Hello { version } | LiveEvent::Poke { version, .. } => Some(*version),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_by_type() {
        let poke = LiveEvent::Poke { bucket: "queue:q1".into(), version: 7 };
        let json = serde_json::to_value(&poke).unwrap();
        assert_eq!(json, serde_json::json!({ "type": "poke", "bucket": "queue:q1", "version": 7 }));
        assert_eq!(serde_json::from_value::<LiveEvent>(json).unwrap(), poke);
        let state = LiveEvent::AgentState { operator_id: "anna".into(), state: AgentState::Break, since: 5 };
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["type"], "agent_state");
        assert_eq!(json["state"], "break");
        assert_eq!(poke.poke_version(), Some(7));
        assert_eq!(state.poke_version(), None);
    }
}
