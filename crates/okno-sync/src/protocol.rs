//! The wire types of `POST /v1/push` and `POST /v1/pull` (JSON bodies).
//!
//! These are their own structs, separate from the store's rows and the UI's DTOs, so either
//! side can change its internals without changing the protocol.

use std::ops::RangeInclusive;

use okno_core::Mutation;
use serde::{Deserialize, Serialize};

/// Where the sync API lives on the server (with [`crate::LIVE_PATH`]): one spelling for the
/// server's routes, the desk's driver and the fault harness.
pub const PUSH_PATH: &str = "/v1/push";
pub const PULL_PATH: &str = "/v1/pull";
/// Sign in with a name and password; answers tokens and the operator.
pub const LOGIN_PATH: &str = "/v1/login";
/// A new access token for a refresh token.
pub const REFRESH_PATH: &str = "/v1/refresh";
/// An attachment by the hex SHA-256 of its content (`/v1/blobs/{sha256}`, axum's route syntax).
pub const BLOB_PATH: &str = "/v1/blobs/{sha256}";

/// Upload a file to attach to a reply: the body is the file, `?name=` its name, the
/// Content-Type its type; answers an `okno_core::AttachmentRef`.
pub const UPLOAD_PATH: &str = "/v1/blobs";

/// The operator types a reply in a website chat (`{"ticket_id": ...}`): the visitor sees it.
pub const TYPING_PATH: &str = "/v1/typing";

/// The download address of the attachment named `sha256`.
pub fn blob_path(sha256: &str) -> String {
    BLOB_PATH.replace("{sha256}", sha256)
}

/// A pulled change holding only a ticket's three SLA due times (`first_response_due_at`,
/// `resolution_due_at`, `sla_due_at`, each a time or null): what a recompute after a policy or
/// calendar change sends, instead of thousands of whole rows. A desk that does not know the
/// entity skips it and is merely late with its badges until the ticket's next change.
pub const TICKET_DUE: &str = "ticket_due";

/// A pulled change telling one account of something (a colleague's @mention, news on a ticket
/// it follows, a contractor's answer), in that account's own bucket: `kind`, `ticket_id`,
/// `number`, `by`, `excerpt`, `at`.
pub const NOTICE: &str = "notice";

/// The schema version this build speaks; sent in every push.
pub const SCHEMA_VERSION: u32 = 1;

/// The schema versions the server accepts. A push outside the range is refused as a whole
/// (HTTP 409 with code `unsupported_schema`): the desktop must update first.
pub const SUPPORTED_SCHEMA: RangeInclusive<u32> = 1..=1;

/// Rejection codes the server sends in [`Outcome::Rejected`]; the UI branches on them.
pub mod codes {
    /// Someone else took the ticket first.
    pub const ALREADY_CLAIMED: &str = "already_claimed";
    /// The account may not touch this ticket, queue or operator.
    pub const FORBIDDEN: &str = "forbidden";
    /// The ticket or operator named does not exist on the server.
    pub const NOT_FOUND: &str = "not_found";
    /// The mutation's arguments are invalid (empty reply, too many tags...).
    pub const INVALID: &str = "invalid";
    /// `client_seq` skips numbers the server has not seen; nothing from this one on was applied.
    /// The client must resend from the server's last sequence + 1.
    pub const SEQUENCE_GAP: &str = "sequence_gap";
    /// The server cannot read the mutation (a newer client's, or a damaged entry).
    pub const MALFORMED: &str = "malformed";
    /// The server cannot store the mutation's data (a NUL character, a value out of range); a
    /// retry would fail the same way.
    pub const CANNOT_APPLY: &str = "cannot_apply";
    /// `client_seq` was already used by another mutation: the client's database is older than
    /// what the server saw from it (restored from a backup, copied). It must push under a new
    /// client id.
    pub const SEQUENCE_REUSED: &str = "sequence_reused";
}

/// Mutations from one client, in its outbox order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// Identifies one desktop installation (one local database); sequences are per client.
    pub client_id: String,
    pub schema_version: u32,
    pub mutations: Vec<PushItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushItem {
    /// The outbox sequence: strictly increasing by one per client, starting at 1.
    pub client_seq: u64,
    /// The client-generated UUIDv7 of this mutation (for logs and tracing).
    pub mutation_id: String,
    pub mutation: Mutation,
}

/// One result per pushed item, in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    pub results: Vec<PushResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    pub client_seq: u64,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Committed; `version` is the last changelog version the mutation wrote.
    Applied { version: u64 },
    /// Already applied earlier (a retried push): acknowledged, nothing done.
    Duplicate,
    /// Refused by the server; the client rolls back its optimistic effect and shows `reason`.
    Rejected { code: String, reason: String },
}

/// Changes after `cursor` (a changelog version), at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub cursor: u64,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    /// In increasing version order, only from buckets the account is entitled to.
    pub changes: Vec<Change>,
    /// Where the next pull starts: at least the last change's version, possibly more when the
    /// versions in between belong to buckets this account does not see.
    pub cursor: u64,
    pub has_more: bool,
    /// The server's changelog head in the pull's snapshot. Behind the request's cursor, it
    /// means the server lost versions this desk has seen: it was restored from a backup.
    /// (Compared here, not with the live socket's hello, whose head may be older than a
    /// pull the desk made since.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub version: u64,
    /// `queue:<id>`, `team:<id>` or `user:<id>`.
    pub bucket: String,
    /// `ticket`, `message`, `customer`, `call`, `operator`.
    pub entity: String,
    pub id: String,
    pub op: Op,
    /// The row as the account may see it (redacted for contractors); `null` for deletes.
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }
}

#[cfg(test)]
mod tests {
    use okno_core::TicketStatus;

    use super::*;

    #[test]
    fn push_round_trips_with_tagged_outcomes() {
        let req = PushRequest {
            client_id: "c1".into(),
            schema_version: SCHEMA_VERSION,
            mutations: vec![PushItem {
                client_seq: 1,
                mutation_id: "m1".into(),
                mutation: Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Open, at: 7 },
            }],
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["mutations"][0]["mutation"]["name"], "set_ticket_status");
        assert_eq!(serde_json::from_value::<PushRequest>(json).unwrap(), req);

        let resp = PushResponse {
            results: vec![
                PushResult { client_seq: 1, outcome: Outcome::Applied { version: 9 } },
                PushResult { client_seq: 2, outcome: Outcome::Duplicate },
                PushResult {
                    client_seq: 3,
                    outcome: Outcome::Rejected { code: codes::ALREADY_CLAIMED.into(), reason: "taken".into() },
                },
            ],
        };
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(json["results"][0]["outcome"], serde_json::json!({"kind": "applied", "version": 9}));
        assert_eq!(json["results"][1]["outcome"], serde_json::json!({"kind": "duplicate"}));
        assert_eq!(json["results"][2]["outcome"]["code"], "already_claimed");
        assert_eq!(serde_json::from_value::<PushResponse>(json).unwrap(), resp);
    }

    #[test]
    fn pull_round_trips() {
        let resp = PullResponse {
            changes: vec![Change {
                version: 3,
                bucket: "queue:q1".into(),
                entity: "ticket".into(),
                id: "t1".into(),
                op: Op::Upsert,
                data: serde_json::json!({"status": "open"}),
            }],
            cursor: 3,
            has_more: false,
            head: Some(3),
        };
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(json["changes"][0]["op"], "upsert");
        assert_eq!(serde_json::from_value::<PullResponse>(json).unwrap(), resp);
        assert!(SUPPORTED_SCHEMA.contains(&SCHEMA_VERSION));
    }
}
