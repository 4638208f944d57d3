//! Entity and enum types shared by the store, the sync protocol and the UI bindings.
//!
//! Identifiers are UUIDv7 strings generated on the client, so rows created offline keep their
//! identity when they reach the server. Times are Unix milliseconds (UTC).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Unix time in milliseconds, UTC.
pub type Millis = i64;

/// Unix milliseconds of a wall-clock time (0 before 1970, saturating far in the future): the one
/// conversion every edge uses. Reading the clock stays at the edge (`SystemTime::now()`), so
/// the rules that take a `Millis` stay pure and testable with any time.
pub fn unix_ms(at: std::time::SystemTime) -> Millis {
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX))
        .unwrap_or(0)
}

/// A new globally unique, time-ordered identifier (UUIDv7) as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable text form used in storage and on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A stored or received text did not name any variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} value {value:?}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

text_enum! {
    /// How a contact reached the center.
    Channel {
        /// The hotline: an inbound or outbound phone call.
        Phone => "phone",
        /// A call placed from the website widget (WebRTC).
        WebCall => "web_call",
        Email => "email",
        /// The website chat widget.
        Chat => "chat",
        /// Telegram, WhatsApp and similar messengers.
        Messenger => "messenger",
    }
}

text_enum! {
    /// Where a ticket is in its life.
    TicketStatus {
        New => "new",
        Open => "open",
        /// Waiting for the customer; the SLA clock is paused.
        Pending => "pending",
        Resolved => "resolved",
        Closed => "closed",
    }
}

text_enum! {
    Priority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
}

text_enum! {
    /// The operator's availability, which routing and the wallboard read.
    AgentState {
        Available => "available",
        /// On a call or a chat; set by the softphone, not by hand.
        Busy => "busy",
        Break => "break",
        /// After-contact work: disposition and notes.
        WrapUp => "wrap_up",
        Offline => "offline",
        /// A call from the hotline's queue rang out at this desk: no more offers until the
        /// operator (or a team lead) makes it available again. Set by the server, not by hand.
        NotResponding => "not_responding",
    }
}

text_enum! {
    /// What an account may do; the server enforces it, the UI only reflects it.
    Role {
        Operator => "operator",
        TeamLead => "team_lead",
        /// An outsourced operator: only assigned queues, masked customer contacts, no exports.
        Contractor => "contractor",
        Admin => "admin",
    }
}

text_enum! {
    MessageDirection {
        /// From the customer.
        Inbound => "inbound",
        /// From the center to the customer.
        Outbound => "outbound",
        /// An internal note, never shown to the customer.
        Internal => "internal",
    }
}

text_enum! {
    CallDirection {
        Inbound => "inbound",
        Outbound => "outbound",
    }
}

text_enum! {
    /// How a call ended, for the reports (answered, abandoned in queue, missed by the operator...).
    CallOutcome {
        Answered => "answered",
        /// The caller hung up before anyone answered.
        Abandoned => "abandoned",
        /// Offered to an operator who did not answer.
        Missed => "missed",
        Busy => "busy",
        Failed => "failed",
    }
}

text_enum! {
    /// The kind of a customer's contact identity; phone and email are PII and can be masked.
    IdentityKind {
        Phone => "phone",
        Email => "email",
        /// A web-chat visitor id.
        Chat => "chat",
        /// A messenger handle (Telegram, WhatsApp).
        Messenger => "messenger",
    }
}

text_enum! {
    /// Service tier of a customer; decides the first-response SLA target.
    CustomerTier {
        Standard => "standard",
        Premium => "premium",
    }
}

text_enum! {
    OrderStatus {
        Placed => "placed",
        Paid => "paid",
        Shipped => "shipped",
        Delivered => "delivered",
        Cancelled => "cancelled",
        Returned => "returned",
    }
}

text_enum! {
    /// Every fact the reports need, stored locally from day one and synced to the server.
    EventKind {
        TicketCreated => "ticket_created",
        TicketAssigned => "ticket_assigned",
        TicketStatusChanged => "ticket_status_changed",
        TicketTagsChanged => "ticket_tags_changed",
        MessageReceived => "message_received",
        MessageSent => "message_sent",
        NoteAdded => "note_added",
        /// An internal note mentioned an operator or contractor (who now follows the ticket).
        Mentioned => "mentioned",
        /// The first outbound reply on a ticket: first-response time is measured to it.
        FirstResponse => "first_response",
        CallOffered => "call_offered",
        CallAnswered => "call_answered",
        CallEnded => "call_ended",
        AgentStateChanged => "agent_state_changed",
        CsatReceived => "csat_received",
        /// A routing rule fired on a message (which rule, what it did).
        RuleFired => "rule_fired",
        /// An open ticket passed its next SLA target (first response or resolution).
        SlaBreached => "sla_breached",
    }
}

/// A customer's way to reach us: a phone number, an email address, a chat or messenger id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

/// A department groups queues (sales, support, billing) for routing and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Department {
    pub id: String,
    pub name: String,
}

/// A queue receives contacts of one channel for one department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub channel: Channel,
    pub department_id: String,
}

/// An account that works in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub state: AgentState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_text_round_trips_and_matches_serde() {
        for status in TicketStatus::ALL {
            let text = status.as_str();
            assert_eq!(text.parse::<TicketStatus>().unwrap(), *status);
            assert_eq!(serde_json::to_string(status).unwrap(), format!("\"{text}\""));
        }
        for state in AgentState::ALL {
            assert_eq!(state.as_str().parse::<AgentState>().unwrap(), *state);
            assert_eq!(serde_json::to_string(state).unwrap(), format!("\"{}\"", state.as_str()));
        }
        assert_eq!(Channel::WebCall.as_str(), "web_call");
    }

    #[test]
    fn unknown_text_is_a_typed_error() {
        let err = "archived".parse::<TicketStatus>().unwrap_err();
        assert_eq!(err.kind, "TicketStatus");
        assert_eq!(err.to_string(), "unknown TicketStatus value \"archived\"");
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = new_id();
        let b = new_id();
        assert!(a < b, "UUIDv7 text sorts by creation time: {a} {b}");
    }
}

/// A ticket named in a list (a caller's open tickets, a wrap-up's choices): its id and subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TicketRef {
    pub id: String,
    pub subject: String,
}

/// A file attached to an operator's reply: already on the server (uploaded to
/// `/v1/blobs`), named by the SHA-256 of its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AttachmentRef {
    pub name: String,
    pub mime: String,
    #[ts(type = "number")]
    pub size: u64,
    pub sha256: String,
}

#[cfg(test)]
mod clock_tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn unix_ms_counts_from_the_epoch_and_never_goes_negative() {
        assert_eq!(super::unix_ms(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)), 1_700_000_000_123);
        assert_eq!(super::unix_ms(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert!(super::unix_ms(SystemTime::now()) > 1_700_000_000_000);
    }
}
