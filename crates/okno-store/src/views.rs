//! Read models the window shows: what the store's queries return and the desktop shell hands
//! to the UI unchanged. TypeScript types for them are generated (see `okno-desktop`'s bindings).

use okno_core::{
    AgentState, CallDirection, CallOutcome, Channel, CustomerTier, Identity, Millis, OrderStatus, Priority, Role,
    TicketStatus,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A queue in the left rail with its live counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct QueueSummary {
    pub id: String,
    pub name: String,
    pub channel: Channel,
    pub department_id: String,
    pub department_name: String,
    /// Tickets in New or Open.
    pub open_count: u32,
    pub unread_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OperatorView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub state: AgentState,
    #[ts(type = "number")]
    pub state_since: Millis,
    pub is_me: bool,
}

/// Whose tickets to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum AssigneeFilter {
    Me,
    Unassigned,
    Operator(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TicketSort {
    /// Most urgent first; tickets without an SLA last.
    #[default]
    SlaDue,
    /// Most recently updated first.
    Updated,
    /// Newest first.
    Created,
}

/// The inbox filter. Empty `statuses` means every status.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct TicketFilter {
    pub statuses: Vec<TicketStatus>,
    pub channel: Option<Channel>,
    pub queue_id: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    pub tag: Option<String>,
    pub sort: TicketSort,
    pub offset: u32,
    pub limit: u32,
}

/// One window of the inbox: `total` rows match, `rows` start at `offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TicketPage {
    pub total: u32,
    pub offset: u32,
    pub rows: Vec<TicketRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TicketRow {
    pub id: String,
    /// The human ticket number (#10234).
    pub number: u32,
    pub subject: String,
    pub customer_id: String,
    pub customer_name: String,
    pub channel: Channel,
    pub status: TicketStatus,
    pub priority: Priority,
    pub queue_id: String,
    pub queue_name: String,
    pub assignee_id: Option<String>,
    pub assignee_name: Option<String>,
    pub tags: Vec<String>,
    #[ts(type = "number")]
    pub created_at: Millis,
    #[ts(type = "number")]
    pub updated_at: Millis,
    #[ts(type = "number | null")]
    pub sla_due_at: Option<Millis>,
    #[ts(type = "number | null")]
    pub first_response_at: Option<Millis>,
    pub unread: bool,
    /// The start of the last message.
    pub preview: String,
    pub message_count: u32,
}

/// A ticket with its whole conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TicketDetail {
    pub ticket: TicketRow,
    /// Messages, notes and call records, oldest first.
    pub timeline: Vec<TimelineItem>,
    /// A website chat's read receipt: the visitor's widget has shown the replies written up to
    /// this time.
    pub visitor_read_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineItem {
    Message(MessageView),
    Call(CallView),
}

impl TimelineItem {
    pub fn at(&self) -> Millis {
        match self {
            TimelineItem::Message(m) => m.created_at,
            TimelineItem::Call(c) => c.started_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Attachment {
    pub name: String,
    pub mime: String,
    pub size: u32,
    /// Hex SHA-256 of the content: the server's name for it (`/v1/blobs/{sha256}`); absent on
    /// demo data, which has no server to download from.
    #[serde(default)]
    pub sha256: Option<String>,
    /// For an inline image, the `cid:` the HTML refers to it by.
    #[serde(default)]
    pub content_id: Option<String>,
    #[serde(default)]
    pub inline: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MessageView {
    pub id: String,
    pub ticket_id: String,
    pub channel: Channel,
    pub direction: okno_core::MessageDirection,
    pub author_name: String,
    pub subject: Option<String>,
    pub body: String,
    pub attachments: Vec<Attachment>,
    #[ts(type = "number")]
    pub created_at: Millis,
    /// Set on email messages (boxed: most messages are not email, and it is the big part).
    pub email: Option<Box<EmailView>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CallView {
    pub id: String,
    pub customer_id: Option<String>,
    pub ticket_id: Option<String>,
    pub direction: CallDirection,
    pub from_number: String,
    pub to_number: String,
    #[ts(type = "number")]
    pub started_at: Millis,
    #[ts(type = "number | null")]
    pub answered_at: Option<Millis>,
    #[ts(type = "number | null")]
    pub ended_at: Option<Millis>,
    pub outcome: CallOutcome,
    pub disposition: Option<String>,
    pub notes: String,
    pub recording_ref: Option<String>,
    pub operator_name: Option<String>,
    pub queue_name: Option<String>,
    /// Talk time; 0 for calls never answered.
    pub talk_secs: u32,
}

/// The customer card on the right of the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CustomerCard {
    pub id: String,
    pub name: String,
    pub company: Option<String>,
    pub tier: CustomerTier,
    pub tags: Vec<String>,
    pub identities: Vec<Identity>,
    #[ts(type = "number")]
    pub created_at: Millis,
    pub stats: CustomerStats,
    /// The last contacts across every channel, newest first.
    pub recent_contacts: Vec<ContactItem>,
    /// Newest first.
    pub orders: Vec<OrderView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CustomerStats {
    pub tickets_total: u32,
    pub tickets_open: u32,
    pub calls_total: u32,
    pub calls_missed: u32,
    pub orders_total: u32,
    #[ts(type = "number")]
    pub lifetime_value_cents: i64,
    #[ts(type = "number | null")]
    pub first_contact_at: Option<Millis>,
    #[ts(type = "number | null")]
    pub last_contact_at: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Ticket,
    Call,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContactItem {
    pub kind: ContactKind,
    pub id: String,
    /// The ticket to open when the contact is clicked (a call's linked ticket, if any).
    pub ticket_id: Option<String>,
    pub channel: Channel,
    pub title: String,
    /// A ticket's status or a call's outcome, as its stable text.
    pub state: String,
    #[ts(type = "number")]
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OrderView {
    pub id: String,
    pub number: String,
    pub status: OrderStatus,
    #[ts(type = "number")]
    pub total_cents: i64,
    pub currency: String,
    pub items: String,
    #[ts(type = "number")]
    pub created_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    Ticket,
    Message,
    Customer,
    Call,
}

/// One search result. `snippet` marks matched words with U+0002 … U+0003 so the UI can
/// highlight them without interpreting HTML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SearchHit {
    pub kind: SearchKind,
    pub id: String,
    pub ticket_id: Option<String>,
    pub customer_id: Option<String>,
    pub title: String,
    pub snippet: String,
    // A ticket's tags (empty for other kinds), shown as chips: the index holds them as JSON text.
    pub tags: Vec<String>,
    #[ts(type = "number")]
    pub at: Millis,
}

/// Results grouped by kind, newest first within each group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
pub struct SearchResults {
    pub query: String,
    pub tickets: Vec<SearchHit>,
    pub messages: Vec<SearchHit>,
    pub customers: Vec<SearchHit>,
    pub calls: Vec<SearchHit>,
}

/// Counts for the status bar and the first paint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StoreStats {
    pub tickets: u32,
    pub messages: u32,
    pub customers: u32,
    pub calls: u32,
    /// Mutations not yet acknowledged by the server.
    pub outbox_pending: u32,
}

pub use okno_core::TicketRef;
pub use okno_core::email::{DeliveryState, EmailAddress, EmailDelivery, EmailView};

/// Who a caller is, for the screen pop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallerMatch {
    pub customer_id: String,
    pub name: String,
    pub open_tickets: Vec<TicketRef>,
}

/// A notice to the signed-in account, as the window lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NoticeView {
    pub id: String,
    /// `mention` (a colleague's @mention), `reply` (the customer wrote again on a followed
    /// ticket) or `answer` (a contractor answered by email).
    pub kind: String,
    pub ticket_id: String,
    pub number: u32,
    /// Who wrote it.
    pub by: String,
    pub excerpt: String,
    #[ts(type = "number")]
    pub at: Millis,
    /// Opened in the list since it came.
    pub seen: bool,
}

/// The notices list: the latest notices and how many are not seen yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NoticeList {
    pub notices: Vec<NoticeView>,
    pub unseen: u32,
}

/// A call of the history with the customer's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentCall {
    pub call: CallView,
    pub customer_name: Option<String>,
}
