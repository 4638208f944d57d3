//! What `GET /v1/wallboard` sends the team lead's window: per queue the waiting work and the
//! figures of today and of the last 15 minutes, and the agents with their states. One
//! definition for the server and the window (TypeScript generated from it).

use okno_core::{AgentState, Channel, Millis, Role};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::figures::QueueFigures;

/// The wallboard at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WallboardView {
    /// The server's time of these figures (the window shows how old they are).
    #[ts(type = "number")]
    pub at: Millis,
    pub queues: Vec<QueueBoard>,
    pub agents: Vec<AgentBoard>,
}

/// One queue's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct QueueBoard {
    pub id: String,
    pub name: String,
    pub channel: Channel,
    /// Calls waiting in the call queue now (from the ACD).
    #[ts(type = "number")]
    pub waiting_calls: u64,
    /// Website chats nobody has taken yet.
    #[ts(type = "number")]
    pub waiting_chats: u64,
    /// The longest wait of what is waiting now, calls or chats.
    #[ts(type = "number")]
    pub longest_wait_ms: u64,
    /// The calls waiting now, longest first (a team lead may move one to another queue).
    pub calls_waiting: Vec<WaitingCall>,
    /// Calls that arrived since the window's start of today.
    pub today: QueueFigures,
    pub last_15_min: QueueFigures,
}

/// A call waiting in a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WaitingCall {
    pub call_id: String,
    #[ts(type = "number")]
    pub arrived_at: Millis,
    #[ts(type = "number")]
    pub waited_ms: u64,
}

/// One agent's tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AgentBoard {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub state: AgentState,
    #[ts(type = "number")]
    pub state_since: Millis,
    /// Calls and chats they handled today.
    pub handled_today: u32,
    /// Their desk let a hotline call ring out: no calls are offered until their state is set.
    pub not_responding: bool,
    /// The hotline call ringing at their desk or connected with them (a team lead may join it).
    pub hotline_call: Option<String>,
}
