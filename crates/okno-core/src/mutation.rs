//! Operator writes as named mutations: what the outbox stores and the sync engine sends.
//!
//! Each mutation carries everything the server needs to apply it authoritatively; ids of new
//! rows (messages) are generated on the client so a retried push cannot create a duplicate.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{AgentState, Millis, TicketStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "name", content = "args", rename_all = "snake_case")]
pub enum Mutation {
    /// A reply to the customer, or an internal note when `internal`.
    ReplyTicket {
        ticket_id: String,
        message_id: String,
        body: String,
        internal: bool,
        #[ts(type = "number")]
        at: Millis,
    },
    SetTicketStatus {
        ticket_id: String,
        status: TicketStatus,
        #[ts(type = "number")]
        at: Millis,
    },
    /// `assignee_id: None` unassigns. Taking a ticket for oneself is decided by the server so
    /// that a ticket never has two owners.
    AssignTicket {
        ticket_id: String,
        assignee_id: Option<String>,
        #[ts(type = "number")]
        at: Millis,
    },
    SetTicketTags {
        ticket_id: String,
        tags: Vec<String>,
        #[ts(type = "number")]
        at: Millis,
    },
    SetAgentState {
        operator_id: String,
        state: AgentState,
        #[ts(type = "number")]
        at: Millis,
    },
}

impl Mutation {
    /// The mutation's name on the wire and in the outbox.
    pub fn name(&self) -> &'static str {
        match self {
            Mutation::ReplyTicket { .. } => "reply_ticket",
            Mutation::SetTicketStatus { .. } => "set_ticket_status",
            Mutation::AssignTicket { .. } => "assign_ticket",
            Mutation::SetTicketTags { .. } => "set_ticket_tags",
            Mutation::SetAgentState { .. } => "set_agent_state",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_name_and_args() {
        let m = Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Closed, at: 5 };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["name"], m.name());
        assert_eq!(json["args"]["status"], "closed");
        let back: Mutation = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }
}
