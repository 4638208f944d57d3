//! The verdict, from the server's PostgreSQL rather than from what the desktops believe.
//!
//! - lost: an acknowledged mutation whose effect is not in the database. Every applied mutation
//!   records a report event with id `<mutation_id>/0` in its transaction (and a reply its
//!   message row), so the effect is looked up by id.
//! - applied twice: a (client, sequence) answered `applied` in two responses; a ticket whose
//!   `message_count` differs from its messages (a reply counted twice); a rejected mutation
//!   whose event exists anyway.
//! - double owned: a ticket with two open assignments, or whose `assignee_id` is not its open
//!   assignment's operator.
//! - converged: each desktop's store shows every ticket as the server has it (status, owner,
//!   tags, and its messages by id and text), and the server's last sequence for each desktop
//!   is the last one it wrote.

use std::collections::{BTreeMap, HashSet};

use okno_core::Mutation;
use okno_store::Store;
use okno_store::views::TimelineItem;
use serde_json::Value;
use sqlx::PgPool;

use crate::client::Report;
use crate::fixture::Fixture;
use crate::ledger::{Entry, Fate};

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Verdict {
    pub acked: u64,
    pub rejected: u64,
    /// Written but neither acknowledged nor rejected by the end.
    pub unacked: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub double_owned: u64,
    pub converged: bool,
    /// Desktops whose rows differ from the server's (0 when converged).
    pub diverged_clients: u64,
    /// Human-readable details of every anomaly, for the log (not part of the summary line).
    #[serde(skip)]
    pub details: Vec<String>,
}

pub async fn check(pool: &PgPool, fixture: &Fixture, entries: &[Entry], reports: &[Report]) -> anyhow::Result<Verdict> {
    let mut v = Verdict::default();
    let event_ids: Vec<String> = entries.iter().map(|e| format!("{}/0", e.mutation_id)).collect();
    let present: HashSet<String> = sqlx::query_scalar("SELECT id FROM events WHERE id = ANY($1)")
        .bind(&event_ids)
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
    let message_ids: Vec<String> = entries
        .iter()
        .filter_map(|e| match &e.mutation {
            Mutation::ReplyTicket { message_id, .. } => Some(message_id.clone()),
            _ => None,
        })
        .collect();
    let messages: HashSet<String> = sqlx::query_scalar("SELECT id FROM messages WHERE id = ANY($1)")
        .bind(&message_ids)
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
    for e in entries {
        let has_event = present.contains(&format!("{}/0", e.mutation_id));
        let has_message = match &e.mutation {
            Mutation::ReplyTicket { message_id, .. } => messages.contains(message_id),
            _ => true,
        };
        match &e.fate {
            Fate::Acked => {
                v.acked += 1;
                if !(has_event && has_message) {
                    v.lost += 1;
                    v.details.push(format!(
                        "lost: client {} seq {} {} {} {:?}",
                        e.client,
                        e.seq,
                        e.mutation.name(),
                        e.mutation_id,
                        e.mutation
                    ));
                }
            }
            Fate::Rejected(code) => {
                v.rejected += 1;
                if has_event {
                    v.duplicated += 1;
                    v.details.push(format!("rejected ({code}) yet applied: client {} seq {}", e.client, e.seq));
                }
            }
            Fate::Pending => {
                v.unacked += 1;
                v.details.push(format!("never acknowledged: client {} seq {}", e.client, e.seq));
            }
        }
        if e.applied_verdicts > 1 {
            v.duplicated += 1;
            v.details.push(format!("applied {} times: client {} seq {}", e.applied_verdicts, e.client, e.seq));
        }
    }

    let recount: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT t.id, t.message_count::bigint, (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id) \
         FROM tickets t WHERE t.id = ANY($1)",
    )
    .bind(&fixture.tickets)
    .fetch_all(pool)
    .await?;
    for (id, counted, stored) in recount {
        if counted != stored {
            v.duplicated += 1;
            v.details.push(format!("ticket {id}: message_count {counted} but {stored} messages"));
        }
    }

    let owners: Vec<(String, Option<String>, i64, Option<String>)> = sqlx::query_as(
        "SELECT t.id, t.assignee_id, \
           (SELECT count(*) FROM ticket_assignments a WHERE a.ticket_id = t.id AND a.released_at IS NULL), \
           (SELECT min(a.operator_id) FROM ticket_assignments a WHERE a.ticket_id = t.id AND a.released_at IS NULL) \
         FROM tickets t WHERE t.id = ANY($1)",
    )
    .bind(&fixture.tickets)
    .fetch_all(pool)
    .await?;
    for (id, assignee, open, open_owner) in owners {
        if open > 1 || assignee != open_owner {
            v.double_owned += 1;
            v.details.push(format!("ticket {id}: assignee {assignee:?}, {open} open assignments ({open_owner:?})"));
        }
    }

    // The server's state of this run's tickets, as a desk keeps it.
    let mut server: BTreeMap<String, DeskView> = BTreeMap::new();
    let tickets: Vec<(String, String, Option<String>, Value)> =
        sqlx::query_as("SELECT id, status, assignee_id, tags FROM tickets WHERE id = ANY($1)")
            .bind(&fixture.tickets)
            .fetch_all(pool)
            .await?;
    for (id, status, assignee_id, tags) in tickets {
        let mut tags: Vec<String> = serde_json::from_value(tags).unwrap_or_default();
        tags.sort();
        server.insert(id, DeskView { status, assignee_id, tags, messages: BTreeMap::new() });
    }
    let msgs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, ticket_id, body FROM messages WHERE ticket_id = ANY($1)")
            .bind(&fixture.tickets)
            .fetch_all(pool)
            .await?;
    for (id, ticket_id, body) in msgs {
        if let Some(view) = server.get_mut(&ticket_id) {
            view.messages.insert(id, body);
        }
    }
    let sequences: BTreeMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT client_id, last_seq FROM client_sequences WHERE operator_id = ANY($1)",
    )
    .bind(fixture.operators.iter().map(|o| o.0.clone()).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    for report in reports {
        let mut differing = Vec::new();
        for (id, expected) in &server {
            let local = desk_view(&report.store, id).await;
            if local.as_ref() != Some(expected) {
                differing.push(id.as_str());
            }
        }
        let last_seq = sequences.get(&report.client_id).copied().unwrap_or(0);
        let seq_ok = last_seq == report.last_seq as i64;
        if !differing.is_empty() || !seq_ok {
            v.diverged_clients += 1;
            v.details.push(format!(
                "client {} diverged: tickets {differing:?} of {} differ, server last_seq {last_seq} vs {} written",
                report.index,
                server.len(),
                report.last_seq
            ));
        }
    }
    v.converged = v.diverged_clients == 0 && v.unacked == 0;
    Ok(v)
}

/// What a desk shows of one ticket, as compared with the server.
#[derive(Debug, PartialEq)]
struct DeskView {
    status: String,
    assignee_id: Option<String>,
    /// Sorted.
    tags: Vec<String>,
    /// id -> text.
    messages: BTreeMap<String, String>,
}

/// The ticket in a desktop's store, or None when the desk does not have it.
async fn desk_view(store: &Store, ticket_id: &str) -> Option<DeskView> {
    let detail = store.ticket_detail(ticket_id).await.ok()?;
    let status = serde_json::to_value(detail.ticket.status).ok()?.as_str()?.to_owned();
    let mut tags = detail.ticket.tags.clone();
    tags.sort();
    let messages = detail
        .timeline
        .into_iter()
        .filter_map(|item| match item {
            TimelineItem::Message(m) => Some((m.id, m.body)),
            TimelineItem::Call(_) => None,
        })
        .collect();
    Some(DeskView { status, assignee_id: detail.ticket.assignee_id, tags, messages })
}
