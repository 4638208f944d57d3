//! Merging the duplicate tickets a customer opened in several channels, and splitting a message
//! out into a ticket of its own. Both are decided here, under row locks, so two desks doing it at
//! once converge on one result.
//!
//! Rules:
//! - Only tickets of one customer merge; the caller must work both queues (leads: all), and
//!   contractors cannot merge or split.
//! - A merged ticket points at its survivor (`merged_into`), is closed and keeps no messages:
//!   messages, calls and tags move to the survivor, and a note on each says what happened.
//!   Email threading follows: replies quoting a moved message find the survivor by Message-ID,
//!   and a subject's `[#N]` of the merged ticket is followed to its survivor.
//! - Both tickets are locked in id order; each is first followed to its survivor, so "A into B"
//!   and "B into A" at once end with one survivor holding everything, whichever came first.
//! - Changes reach desks tickets first, then the moved messages (a desk stores a message only
//!   under a ticket it has).

use axum::Json;
use axum::extract::State;
use okno_core::{EventKind, Millis, Role, new_id};
use okno_sync::Op;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{Postgres, Transaction};

use crate::changelog::{self, NewChange, queue_bucket};
use crate::{AppError, AppState, Caller};

/// How deep a chain of merges is followed (A into B into C ...).
const MAX_CHAIN: usize = 16;

#[derive(Debug, Deserialize)]
pub struct MergeRequest {
    pub source_id: String,
    pub target_id: String,
}

#[derive(Debug, Serialize)]
pub struct Merged {
    /// The ticket that holds everything now.
    pub survivor_id: String,
    /// False when the two were already one (another desk merged them first).
    pub merged: bool,
}

#[derive(Debug, Deserialize)]
pub struct SplitRequest {
    pub message_id: String,
}

#[derive(Debug, Serialize)]
pub struct Split {
    pub ticket_id: String,
    pub number: i64,
}

fn now() -> Millis {
    okno_core::unix_ms(std::time::SystemTime::now())
}

/// The ticket `id` ends up in after merges.
pub async fn survivor(tx: &mut Transaction<'_, Postgres>, id: &str) -> Result<String, sqlx::Error> {
    let mut current = id.to_owned();
    for _ in 0..MAX_CHAIN {
        let next: Option<Option<String>> = sqlx::query_scalar("SELECT merged_into FROM tickets WHERE id = $1")
            .bind(&current)
            .fetch_optional(&mut **tx)
            .await?;
        match next.flatten() {
            Some(next) => current = next,
            None => break,
        }
    }
    Ok(current)
}

struct Locked {
    queue_id: String,
    customer_id: String,
    number: i64,
    tags: Vec<String>,
}

async fn lock(tx: &mut Transaction<'_, Postgres>, ids: &[&str]) -> Result<Vec<(String, Locked)>, sqlx::Error> {
    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let rows: Vec<(String, String, String, i64, Value)> = sqlx::query_as(
        "SELECT id, queue_id, customer_id, number, tags FROM tickets WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&sorted)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, queue_id, customer_id, number, tags)| {
            (id, Locked { queue_id, customer_id, number, tags: serde_json::from_value(tags).unwrap_or_default() })
        })
        .collect())
}

fn not_contractor(caller: &Caller) -> Result<(), AppError> {
    if caller.role == Role::Contractor {
        Err(AppError::Forbidden("contractors cannot merge or split tickets".into()))
    } else {
        Ok(())
    }
}

async fn note(tx: &mut Transaction<'_, Postgres>, ticket_id: &str, body: &str, at: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, created_at) \
         SELECT $1, $2, channel, 'internal', 'Okno', $3, $4 FROM tickets WHERE id = $2",
    )
    .bind(new_id())
    .bind(ticket_id)
    .bind(body)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ticket rows first, then every message of `message_tickets`, as changes.
async fn changes_for(
    tx: &mut Transaction<'_, Postgres>,
    tickets: &[&str],
    message_tickets: &[&str],
) -> Result<Vec<NewChange>, sqlx::Error> {
    let ids: Vec<String> = tickets.iter().map(|s| (*s).to_owned()).collect();
    let mut changes = super::sla::refresh(tx, &ids).await?;
    let rows: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT m.id, t.queue_id, to_jsonb(m.*) FROM messages m JOIN tickets t ON t.id = m.ticket_id \
         WHERE m.ticket_id = ANY($1) ORDER BY m.created_at, m.id",
    )
    .bind(message_tickets)
    .fetch_all(&mut **tx)
    .await?;
    changes.extend(rows.into_iter().map(|(id, queue_id, data)| NewChange {
        bucket: queue_bucket(&queue_id),
        entity: "message",
        id,
        op: Op::Upsert,
        data,
    }));
    Ok(changes)
}

/// `POST /v1/tickets/merge`: `source_id` into `target_id`.
pub async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<MergeRequest>,
) -> Result<Json<Merged>, AppError> {
    not_contractor(&caller)?;
    let at = now();
    let mut tx = state.pool.begin().await?;
    // Lock first, then follow the merges under the lock: another desk's merge of the same pair
    // has either committed (we see its pointers) or waits for us.
    let locked = lock(&mut tx, &[&request.source_id, &request.target_id]).await?;
    if locked.len() != [&request.source_id, &request.target_id].iter().collect::<std::collections::HashSet<_>>().len() {
        return Err(AppError::NotFound("no such ticket".into()));
    }
    let source = survivor(&mut tx, &request.source_id).await?;
    let target = survivor(&mut tx, &request.target_id).await?;
    if source == target {
        return Ok(Json(Merged { survivor_id: target, merged: false }));
    }
    let locked = lock(&mut tx, &[&source, &target]).await?;
    let find = |id: &str| locked.iter().find(|(i, _)| i == id).map(|(_, l)| l);
    let (Some(s), Some(t)) = (find(&source), find(&target)) else {
        return Err(AppError::NotFound("no such ticket".into()));
    };
    if s.customer_id != t.customer_id {
        return Err(AppError::Invalid {
            message: "only tickets of one customer can be merged".into(),
            detail: json!({ "source": source, "target": target }),
        });
    }
    for queue in [&s.queue_id, &t.queue_id] {
        if !crate::tickets::works_queue(&mut tx, &caller, queue).await? {
            return Err(AppError::Forbidden("one of the tickets is in a queue this account does not work".into()));
        }
    }
    let (source_number, target_number, source_queue) = (s.number, t.number, s.queue_id.clone());
    let mut tags = t.tags.clone();
    tags.extend(s.tags.iter().cloned());
    let tags = okno_core::normalize_tags(&tags).unwrap_or(tags);
    let moved = sqlx::query("UPDATE messages SET ticket_id = $2 WHERE ticket_id = $1")
        .bind(&source)
        .bind(&target)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE calls SET ticket_id = $2 WHERE ticket_id = $1")
        .bind(&source)
        .bind(&target)
        .execute(&mut *tx)
        .await?;
    // Whoever followed either ticket follows the survivor.
    sqlx::query(
        "INSERT INTO ticket_followers (ticket_id, operator_id, since, reason) \
         SELECT $2, operator_id, since, reason FROM ticket_followers WHERE ticket_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(&source)
    .bind(&target)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE ticket_assignments SET released_at = $2 WHERE ticket_id = $1 AND released_at IS NULL")
        .bind(&source)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE tickets SET tags = $2, updated_at = $3, message_count = (SELECT count(*) FROM messages WHERE ticket_id = $1), \
           status = CASE WHEN status IN ('resolved', 'closed') THEN 'open' ELSE status END, \
           first_response_at = (SELECT min(first_response_at) FROM tickets WHERE id IN ($1, $4)) \
         WHERE id = $1",
    )
    .bind(&target)
    .bind(json!(tags))
    .bind(at)
    .bind(&source)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE tickets SET merged_into = $2, status = 'closed', assignee_id = NULL, message_count = 0, \
           preview = $4, updated_at = $3 WHERE id = $1",
    )
    .bind(&source)
    .bind(&target)
    .bind(at)
    .bind(format!("Merged into #{target_number}"))
    .execute(&mut *tx)
    .await?;
    note(&mut tx, &target, &format!("Ticket #{source_number} was merged into this one by {}.", caller.name), at)
        .await?;
    note(&mut tx, &source, &format!("Merged into #{target_number} by {}.", caller.name), at).await?;
    crate::tickets::record_event(
        &mut tx,
        &format!("{source}/merged/{at}"),
        at,
        EventKind::TicketStatusChanged,
        &source,
        &source_queue,
        json!({ "to": "closed", "merged_into": target, "by": caller.id, "messages": moved.rows_affected() }),
    )
    .await?;
    let changes = changes_for(&mut tx, &[&source, &target], &[&source, &target]).await?;
    let version = changelog::append_and_commit(tx, &changes).await?;
    state.live.committed(&changes, version);
    tracing::info!(source = %source, target = %target, by = %caller.name, "tickets merged");
    Ok(Json(Merged { survivor_id: target, merged: true }))
}

/// `POST /v1/tickets/split`: a message out into a new ticket of the same customer and queue.
pub async fn split(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SplitRequest>,
) -> Result<Json<Split>, AppError> {
    not_contractor(&caller)?;
    let at = now();
    let mut tx = state.pool.begin().await?;
    let row: Option<(String, String)> = sqlx::query_as("SELECT ticket_id, body FROM messages WHERE id = $1")
        .bind(&request.message_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((old, body)) = row else { return Err(AppError::NotFound("no such message".into())) };
    let locked = lock(&mut tx, &[&old]).await?;
    let Some((_, ticket)) = locked.first() else { return Err(AppError::NotFound("no such ticket".into())) };
    if !crate::tickets::works_queue(&mut tx, &caller, &ticket.queue_id).await? {
        return Err(AppError::Forbidden("the ticket is in a queue this account does not work".into()));
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE ticket_id = $1 AND direction <> 'internal'")
            .bind(&old)
            .fetch_one(&mut *tx)
            .await?;
    if count < 2 {
        return Err(AppError::Invalid {
            message: "a ticket's only message stays with it; there is nothing to split".into(),
            detail: json!({ "message_id": request.message_id }),
        });
    }
    let first_line: String =
        body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").chars().take(80).collect();
    let subject = if first_line.is_empty() { format!("Split from #{}", ticket.number) } else { first_line };
    let id = new_id();
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO tickets (id, number, subject, customer_id, channel, status, priority, queue_id, created_at, updated_at, preview) \
         SELECT $1, nextval('ticket_number'), $2, customer_id, (SELECT channel FROM messages WHERE id = $4), 'open', priority, queue_id, $3, $3, \
           left($5, 140) FROM tickets WHERE id = $6 RETURNING number",
    )
    .bind(&id)
    .bind(&subject)
    .bind(at)
    .bind(&request.message_id)
    .bind(&body)
    .bind(&old)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE messages SET ticket_id = $2 WHERE id = $1")
        .bind(&request.message_id)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE tickets SET message_count = (SELECT count(*) FROM messages WHERE ticket_id = tickets.id), updated_at = $2 \
         WHERE id IN ($1, $3)",
    )
    .bind(&old)
    .bind(at)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    note(&mut tx, &old, &format!("A message was split out into #{number} by {}.", caller.name), at).await?;
    note(&mut tx, &id, &format!("Split out of #{} by {}.", ticket.number, caller.name), at).await?;
    crate::tickets::record_event(
        &mut tx,
        &format!("{id}/created"),
        at,
        EventKind::TicketCreated,
        &id,
        &ticket.queue_id,
        json!({ "split_from": old, "message_id": request.message_id, "by": caller.id }),
    )
    .await?;
    let changes = changes_for(&mut tx, &[&id, &old], &[&id, &old]).await?;
    let version = changelog::append_and_commit(tx, &changes).await?;
    state.live.committed(&changes, version);
    Ok(Json(Split { ticket_id: id, number }))
}
