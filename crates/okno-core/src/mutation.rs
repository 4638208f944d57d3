//! Operator writes as named mutations: what the outbox stores and the sync engine sends.
//!
//! Each mutation carries everything the server needs to apply it authoritatively; ids of new
//! rows (messages) are generated on the client so a retried push cannot create a duplicate.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{AgentState, AttachmentRef, CallDirection, CallOutcome, Millis, TicketStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "name", content = "args", rename_all = "snake_case")]
// A mutation lives for one write and one push; keeping SaveCall's fields inline keeps the wire
// shape flat, and its size costs nothing at that rate.
#[allow(clippy::large_enum_variant)]
pub enum Mutation {
    /// A reply to the customer, or an internal note when `internal`.
    ReplyTicket {
        ticket_id: String,
        message_id: String,
        body: String,
        internal: bool,
        #[ts(type = "number")]
        at: Millis,
        /// On an email ticket, who else gets the reply (addresses); nothing elsewhere.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[ts(optional, as = "Option<Vec<String>>")]
        cc: Vec<String>,
        /// On an email ticket, files sent with the reply (uploaded to the server first).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[ts(optional, as = "Option<Vec<AttachmentRef>>")]
        attachments: Vec<AttachmentRef>,
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
    /// A finished call with its wrap-up. Calls are append-only: a repeat with the same `call_id`
    /// changes nothing, so a retried push cannot log a call twice.
    SaveCall {
        call_id: String,
        customer_id: Option<String>,
        ticket_id: Option<String>,
        /// The queue (hotline) the call came in through, when known.
        queue_id: Option<String>,
        direction: CallDirection,
        from_number: String,
        to_number: String,
        #[ts(type = "number")]
        started_at: Millis,
        #[ts(type = "number | null")]
        answered_at: Option<Millis>,
        #[ts(type = "number")]
        ended_at: Millis,
        outcome: CallOutcome,
        /// The chosen leaf of the disposition tree, as "Group / Leaf".
        disposition: Option<String>,
        notes: String,
        recording_ref: Option<String>,
        quality: Option<CallQuality>,
        /// The number an answered call was handed on to (blind or attended transfer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        transferred_to: Option<String>,
        /// When the recording was paused (card numbers, PCI DSS): part of the call's history.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[ts(as = "Option<Vec<RecordingPause>>", optional)]
        recording_pauses: Vec<RecordingPause>,
    },
}

/// A stretch of a call the recording left out (it holds silence there), unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RecordingPause {
    #[ts(type = "number")]
    pub from: Millis,
    #[ts(type = "number")]
    pub to: Millis,
}

/// A call's measured media quality, for QA reports. Whole numbers (hundredths where a fraction
/// matters) so a mutation compares exactly with its retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallQuality {
    /// Estimated MOS × 100 (E-model), e.g. 432 for 4.32.
    pub mos_centi: u32,
    /// Packets lost, hundredths of a percent.
    pub loss_centi_pct: u32,
    pub jitter_ms: u32,
    pub rtt_ms: Option<u32>,
    pub packets_received: u64,
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
            Mutation::SaveCall { .. } => "save_call",
        }
    }
}

/// What a `call_ended` report event records of a saved call: the same facts whether the desktop
/// or the server applies the `save_call`, so local and central reports agree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallEndedFacts<'a> {
    pub call_id: &'a str,
    pub direction: CallDirection,
    pub outcome: CallOutcome,
    pub disposition: Option<&'a str>,
    /// From the start until answered (or until the end, unanswered).
    pub ring_ms: Millis,
    pub talk_ms: Option<Millis>,
    pub quality: Option<CallQuality>,
    /// Where the operator transferred the call; absent when not transferred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transferred_to: Option<&'a str>,
    /// Where the recording was paused; absent when it never was.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub recording_pauses: &'a [RecordingPause],
}

impl Mutation {
    /// The report facts of a `save_call`; `None` for every other mutation.
    pub fn call_ended_facts(&self) -> Option<CallEndedFacts<'_>> {
        match self {
            Mutation::SaveCall {
                call_id,
                direction,
                outcome,
                disposition,
                started_at,
                answered_at,
                ended_at,
                quality,
                transferred_to,
                recording_pauses,
                ..
            } => Some(CallEndedFacts {
                call_id,
                direction: *direction,
                outcome: *outcome,
                disposition: disposition.as_deref(),
                ring_ms: answered_at.unwrap_or(*ended_at) - started_at,
                talk_ms: answered_at.map(|a| ended_at - a),
                quality: *quality,
                transferred_to: transferred_to.as_deref(),
                recording_pauses,
            }),
            _ => None,
        }
    }

    /// The checks every applier makes before it writes anything: the desktop's store before it
    /// accepts an operator's write, the server before it applies a pushed one. One place, so a
    /// write the desk accepted is never refused by the server for a rule the desk did not know.
    /// Checks that need data (does the ticket exist, may this operator touch it) stay with the
    /// applier.
    pub fn validate(&self) -> Result<(), InvalidMutation> {
        match self {
            Mutation::ReplyTicket { body, cc, attachments, .. } => {
                reply_body(body)?;
                reply_attachments(attachments)?;
                reply_cc(cc).map(|_| ())
            }
            Mutation::SetTicketTags { tags, .. } => normalize_tags(tags).map(|_| ()),
            Mutation::SaveCall { started_at, answered_at, ended_at, notes, .. } => {
                if notes.chars().count() > limits::MAX_BODY_CHARS {
                    return Err(InvalidMutation::NotesTooLong);
                }
                if ended_at < started_at || answered_at.is_some_and(|a| a < *started_at || a > *ended_at) {
                    return Err(InvalidMutation::CallTimesOutOfOrder);
                }
                Ok(())
            }
            Mutation::SetTicketStatus { .. } | Mutation::AssignTicket { .. } | Mutation::SetAgentState { .. } => Ok(()),
        }
    }
}

/// The bounds on what an operator writes, the same for the desk and the server.
pub mod limits {
    /// A reply, a note, a call's notes.
    pub const MAX_BODY_CHARS: usize = 100_000;
    pub const MAX_TAGS: usize = 20;
    pub const MAX_TAG_CHARS: usize = 40;
    /// Addresses copied on one reply.
    pub const MAX_CC: usize = 20;
    /// Files on one reply.
    pub const MAX_ATTACHMENTS: usize = 10;
    pub const MAX_FILE_NAME_CHARS: usize = 255;
}

/// Why a mutation is refused before anything is written; the text is for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidMutation {
    #[error("the reply is empty")]
    EmptyReply,
    #[error("the reply is longer than {} characters", limits::MAX_BODY_CHARS)]
    ReplyTooLong,
    #[error("the call notes are longer than {} characters", limits::MAX_BODY_CHARS)]
    NotesTooLong,
    #[error("tag longer than {} characters", limits::MAX_TAG_CHARS)]
    TagTooLong,
    #[error("more than {} tags", limits::MAX_TAGS)]
    TooManyTags,
    #[error("the call's times are out of order")]
    CallTimesOutOfOrder,
    #[error("{0:?} is not an email address")]
    BadCopyAddress(String),
    #[error("more than {} addresses in copy", limits::MAX_CC)]
    TooManyCopies,
    #[error("more than {} attachments", limits::MAX_ATTACHMENTS)]
    TooManyAttachments,
    #[error("attachment {0:?}: a file needs a name (up to {max} characters), a type and the SHA-256 of its content", max = limits::MAX_FILE_NAME_CHARS)]
    BadAttachment(String),
}

/// A reply's attachments: bounded in number, each named, each naming its content by SHA-256.
pub fn reply_attachments(attachments: &[AttachmentRef]) -> Result<(), InvalidMutation> {
    if attachments.len() > limits::MAX_ATTACHMENTS {
        return Err(InvalidMutation::TooManyAttachments);
    }
    for a in attachments {
        let named = !a.name.trim().is_empty() && a.name.chars().count() <= limits::MAX_FILE_NAME_CHARS;
        let hashed = a.sha256.len() == 64 && a.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !named || !hashed || a.mime.trim().is_empty() {
            return Err(InvalidMutation::BadAttachment(a.name.clone()));
        }
    }
    Ok(())
}

/// Copy addresses as stored: trimmed, lower-cased, de-duplicated, each `local@domain` without
/// spaces or angle brackets (the server's mail library checks the rest before it sends).
pub fn reply_cc(cc: &[String]) -> Result<Vec<String>, InvalidMutation> {
    let mut out: Vec<String> = Vec::new();
    for raw in cc {
        let address = raw.trim().to_lowercase();
        if address.is_empty() {
            continue;
        }
        let well_formed = address.len() <= 254
            && address.split('@').count() == 2
            && address.split('@').all(|part| !part.is_empty())
            && !address.chars().any(|c| c.is_whitespace() || "<>,;\"".contains(c));
        if !well_formed {
            return Err(InvalidMutation::BadCopyAddress(raw.trim().to_owned()));
        }
        if !out.contains(&address) {
            out.push(address);
        }
    }
    if out.len() > limits::MAX_CC {
        return Err(InvalidMutation::TooManyCopies);
    }
    Ok(out)
}

/// A reply's body as stored: trimmed, not empty, bounded.
pub fn reply_body(body: &str) -> Result<&str, InvalidMutation> {
    let body = body.trim();
    if body.is_empty() {
        return Err(InvalidMutation::EmptyReply);
    }
    if body.chars().count() > limits::MAX_BODY_CHARS {
        return Err(InvalidMutation::ReplyTooLong);
    }
    Ok(body)
}

/// Tags as stored: trimmed, empty ones dropped, de-duplicated case-insensitively (the first
/// spelling wins), in the order given, bounded in length and count.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, InvalidMutation> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > limits::MAX_TAG_CHARS {
            return Err(InvalidMutation::TagTooLong);
        }
        if !out.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            out.push(tag.to_owned());
        }
    }
    if out.len() > limits::MAX_TAGS {
        return Err(InvalidMutation::TooManyTags);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        let tags: Vec<String> = [" vip ", "refund", "VIP", ""].map(String::from).to_vec();
        assert_eq!(normalize_tags(&tags).unwrap(), ["vip", "refund"]);
        assert_eq!(normalize_tags(&["x".repeat(41)]), Err(InvalidMutation::TagTooLong));
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize_tags(&many), Err(InvalidMutation::TooManyTags));
    }

    #[test]
    fn the_shared_checks_refuse_what_no_applier_may_write() {
        let reply = |body: &str| Mutation::ReplyTicket {
            cc: Vec::new(),
            attachments: Vec::new(),
            ticket_id: "t".into(),
            message_id: "m".into(),
            body: body.into(),
            internal: false,
            at: 1,
        };
        assert_eq!(reply("  ").validate(), Err(InvalidMutation::EmptyReply));
        assert_eq!(reply(&"я".repeat(limits::MAX_BODY_CHARS + 1)).validate(), Err(InvalidMutation::ReplyTooLong));
        assert_eq!(reply(" ok ").validate(), Ok(()));
        assert_eq!(reply_body("  ok\n"), Ok("ok"));
        assert_eq!(
            reply_cc(&[" Boss@Corp.example ".into(), "boss@corp.example".into(), "".into()]),
            Ok(vec!["boss@corp.example".into()])
        );
        for bad in ["boss", "a@b@c", "@corp.example", "boss@", "Boss <boss@corp.example>", "a b@c.d", "a@b.c, d@e.f"] {
            assert_eq!(reply_cc(&[bad.into()]), Err(InvalidMutation::BadCopyAddress(bad.into())), "{bad}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("c{i}@corp.example")).collect();
        assert_eq!(reply_cc(&many), Err(InvalidMutation::TooManyCopies));
        let file = |name: &str, sha256: &str| AttachmentRef {
            name: name.into(),
            mime: "application/pdf".into(),
            size: 3,
            sha256: sha256.into(),
        };
        assert_eq!(reply_attachments(&[file("a.pdf", &"ab".repeat(32))]), Ok(()));
        assert_eq!(
            reply_attachments(&[file("", &"ab".repeat(32))]),
            Err(InvalidMutation::BadAttachment(String::new()))
        );
        assert_eq!(reply_attachments(&[file("a.pdf", "../etc")]), Err(InvalidMutation::BadAttachment("a.pdf".into())));
        assert_eq!(
            reply_attachments(&[file("a.pdf", &"AB".repeat(32))]),
            Err(InvalidMutation::BadAttachment("a.pdf".into()))
        );
        assert_eq!(
            reply_attachments(&vec![file("a.pdf", &"ab".repeat(32)); 11]),
            Err(InvalidMutation::TooManyAttachments)
        );
        let call = |started_at, answered_at, ended_at, notes: &str| Mutation::SaveCall {
            call_id: "c".into(),
            customer_id: None,
            ticket_id: None,
            queue_id: None,
            direction: CallDirection::Inbound,
            from_number: "1".into(),
            to_number: "2".into(),
            started_at,
            answered_at,
            ended_at,
            outcome: CallOutcome::Answered,
            disposition: None,
            notes: notes.into(),
            recording_ref: None,
            quality: None,
            transferred_to: None,
            recording_pauses: Vec::new(),
        };
        assert_eq!(call(10, Some(12), 20, "").validate(), Ok(()));
        assert_eq!(call(10, Some(25), 20, "").validate(), Err(InvalidMutation::CallTimesOutOfOrder));
        assert_eq!(call(10, None, 5, "").validate(), Err(InvalidMutation::CallTimesOutOfOrder));
        assert_eq!(
            call(10, None, 20, &"x".repeat(limits::MAX_BODY_CHARS + 1)).validate(),
            Err(InvalidMutation::NotesTooLong)
        );
    }

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
