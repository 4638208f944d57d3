//! What the server's `/v1/work/...` endpoints send and take, one definition for the server that
//! writes it and the desk that reads it (and the TypeScript generated from it).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Outcome, Rendered, Rule, SlaPolicySpec, Template};

/// Something a rule or a policy can name, with the name people know it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// An account a note can `@mention`: its handle (`id`), name and role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub role: okno_core::Role,
}

/// `GET /v1/work/people`: the enabled accounts, for `@mention` suggestions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct People {
    pub people: Vec<Person>,
}

/// `GET /v1/tickets/{id}/followers`: who is told of news on a ticket, and whether the caller is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Followers {
    pub people: Vec<Person>,
    pub following: bool,
}

/// `GET /v1/work/rules`: the rule set and what its rules may refer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RuleSetView {
    /// The version to send back when saving, so two editors conflict instead of overwriting.
    #[ts(type = "number")]
    pub version: i64,
    pub rules: Vec<Rule>,
    pub queues: Vec<Named>,
    pub operators: Vec<Named>,
    pub templates: Vec<Named>,
    pub mailboxes: Vec<String>,
}

/// `PUT /v1/work/rules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SaveRules {
    #[ts(type = "number")]
    pub version: i64,
    pub rules: Vec<Rule>,
}

/// `POST /v1/work/rules/dry-run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DryRunRequest {
    pub rules: Vec<Rule>,
    /// How many of the latest tickets to replay (their first message, and their latest reply
    /// from the customer where there is one).
    #[ts(type = "number")]
    pub last: i64,
}

/// What a rule set would have done to one ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DryRunTicket {
    pub ticket_id: String,
    #[ts(type = "number")]
    pub number: i64,
    pub subject: String,
    /// Whether the replayed message is a reply in the ticket rather than its first message.
    pub reply: bool,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DryRunReport {
    /// One entry per replayed message, newest tickets first, a ticket's first message before its reply.
    pub tickets: Vec<DryRunTicket>,
    /// Tickets on which at least one rule fired (on either message).
    pub matched: u32,
    /// Tickets replayed.
    pub replayed: u32,
    /// Of the replayed messages, how many were replies.
    pub replies: u32,
}

/// A template variable and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TemplateVariable {
    pub name: String,
    pub what: String,
}

/// `GET /v1/work/templates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TemplateList {
    pub templates: Vec<Template>,
    pub variables: Vec<TemplateVariable>,
}

impl TemplateList {
    pub fn variables() -> Vec<TemplateVariable> {
        crate::VARIABLES
            .iter()
            .map(|(name, what)| TemplateVariable { name: (*name).into(), what: (*what).into() })
            .collect()
    }
}

/// `POST /v1/work/templates/{id}/render`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RenderedTemplate {
    pub body: Rendered,
    pub subject: Option<Rendered>,
    pub attachments: Vec<okno_core::AttachmentRef>,
}

/// `GET /v1/work/sla-policies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SlaPolicies {
    pub policies: Vec<SlaPolicySpec>,
    pub queues: Vec<QueuePolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct QueuePolicy {
    pub id: String,
    pub name: String,
    pub sla_policy_id: Option<String>,
}

/// The answer to a save that recomputed due times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Recomputed {
    pub recomputed: u64,
}

/// `GET /v1/work/csat` (and the answer to `PUT`): how the center asks for satisfaction marks,
/// and what the settings may refer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CsatView {
    pub settings: crate::CsatSettings,
    /// The address links start with (`[csat] public_url` of the server's config); without it
    /// email customers cannot be asked.
    pub public_url: Option<String>,
    pub queues: Vec<Named>,
}

/// The customer's latest order as the desk's card shows it, sent with a render request: the
/// server keeps no orders (they are the CRM's, on the desks), so `{{order.*}}` come from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OrderVars {
    pub number: String,
    pub status: String,
    /// The total as the operator would write it ("12 450.00 RUB").
    pub total: String,
}
