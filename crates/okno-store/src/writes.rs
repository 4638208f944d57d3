//! Operator writes: each applied locally and queued for the server in one transaction.

use okno_core::{EventKind, Millis, Mutation, new_id};
use sqlx::{Sqlite, Transaction};

use crate::{Store, StoreError};

/// What a write left behind: its place in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub mutation_id: String,
    pub outbox_seq: i64,
}

/// An event row for the reports, written in the caller's transaction.
struct Event<'a> {
    kind: EventKind,
    at: Millis,
    ticket_id: Option<&'a str>,
    operator_id: Option<&'a str>,
    data: serde_json::Value,
}

async fn record(tx: &mut Transaction<'_, Sqlite>, e: Event<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (id, at, kind, ticket_id, operator_id, queue_id, customer_id, data) \
         VALUES (?1, ?2, ?3, ?4, ?5, (SELECT queue_id FROM tickets WHERE id = ?4), (SELECT customer_id FROM tickets WHERE id = ?4), ?6)",
    )
    .bind(new_id())
    .bind(e.at)
    .bind(e.kind.as_str())
    .bind(e.ticket_id)
    .bind(e.operator_id)
    .bind(e.data.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn invalid(e: okno_core::InvalidMutation) -> StoreError {
    StoreError::InvalidInput(e.to_string())
}

async fn require_ticket(tx: &mut Transaction<'_, Sqlite>, ticket_id: &str) -> Result<(), StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM tickets WHERE id = ?").bind(ticket_id).fetch_optional(&mut **tx).await?;
    found.map(|_| ()).ok_or_else(|| StoreError::NotFound { what: "ticket", id: ticket_id.to_owned() })
}

impl Store {
    /// Apply an operator's mutation to the local tables and append it to the outbox, atomically.
    /// Invalid input is refused before anything is written.
    pub async fn apply(&self, mutation: Mutation) -> Result<Applied, StoreError> {
        mutation.validate().map_err(invalid)?;
        let me = self.my_id().await?;
        let mut tx = self.write.begin().await?;
        let undo = crate::sync::undo_for(&mut tx, &mutation).await?;
        let at = match &mutation {
            Mutation::ReplyTicket { ticket_id, message_id, body, internal, at, cc, attachments } => {
                let body = okno_core::reply_body(body).map_err(invalid)?;
                okno_core::reply_attachments(attachments).map_err(invalid)?;
                let files = serde_json::to_string(attachments).map_err(|e| StoreError::InvalidInput(e.to_string()))?;
                let cc = okno_core::reply_cc(cc).map_err(invalid)?;
                // An email reply shows "Sending" (and its copies) until the server says more.
                let email = (!*internal)
                    .then(|| serde_json::to_string(&okno_core::email::EmailView::pending_reply(&cc)))
                    .transpose()
                    .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
                require_ticket(&mut tx, ticket_id).await?;
                let author: String = match &me {
                    Some(id) => {
                        sqlx::query_scalar("SELECT name FROM operators WHERE id = ?")
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?
                    }
                    None => "Operator".to_owned(),
                };
                let direction = if *internal { "internal" } else { "outbound" };
                sqlx::query(
                    "INSERT INTO messages (id, ticket_id, channel, direction, author_name, operator_id, subject, body, created_at, email, attachments) \
                     SELECT ?1, id, channel, ?2, ?3, ?4, NULL, ?5, ?6, CASE WHEN channel = 'email' THEN ?8 END, ?9 FROM tickets WHERE id = ?7",
                )
                .bind(message_id)
                .bind(direction)
                .bind(&author)
                .bind(me.as_deref())
                .bind(body)
                .bind(*at)
                .bind(ticket_id)
                .bind(email)
                .bind(files)
                .execute(&mut *tx)
                .await?;
                let preview: String = body.chars().take(140).collect();
                sqlx::query(
                    "UPDATE tickets SET preview = ?1, message_count = message_count + 1, updated_at = ?2, \
                       status = CASE WHEN status = 'new' THEN 'open' ELSE status END WHERE id = ?3",
                )
                .bind(&preview)
                .bind(*at)
                .bind(ticket_id)
                .execute(&mut *tx)
                .await?;
                let kind = if *internal { EventKind::NoteAdded } else { EventKind::MessageSent };
                let data = serde_json::json!({ "message_id": message_id });
                record(&mut tx, Event { kind, at: *at, ticket_id: Some(ticket_id), operator_id: me.as_deref(), data })
                    .await?;
                if !*internal {
                    let first = sqlx::query(
                        "UPDATE tickets SET first_response_at = ?1, sla_due_at = NULL WHERE id = ?2 AND first_response_at IS NULL",
                    )
                    .bind(*at)
                    .bind(ticket_id)
                    .execute(&mut *tx)
                    .await?;
                    if first.rows_affected() == 1 {
                        let data = serde_json::json!({ "message_id": message_id });
                        record(
                            &mut tx,
                            Event {
                                kind: EventKind::FirstResponse,
                                at: *at,
                                ticket_id: Some(ticket_id),
                                operator_id: me.as_deref(),
                                data,
                            },
                        )
                        .await?;
                    }
                }
                *at
            }
            Mutation::SetTicketStatus { ticket_id, status, at } => {
                require_ticket(&mut tx, ticket_id).await?;
                let from: String = sqlx::query_scalar("SELECT status FROM tickets WHERE id = ?")
                    .bind(ticket_id)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query("UPDATE tickets SET status = ?1, updated_at = ?2 WHERE id = ?3")
                    .bind(status.as_str())
                    .bind(*at)
                    .bind(ticket_id)
                    .execute(&mut *tx)
                    .await?;
                let data = serde_json::json!({ "from": from, "to": status });
                record(
                    &mut tx,
                    Event {
                        kind: EventKind::TicketStatusChanged,
                        at: *at,
                        ticket_id: Some(ticket_id),
                        operator_id: me.as_deref(),
                        data,
                    },
                )
                .await?;
                *at
            }
            Mutation::AssignTicket { ticket_id, assignee_id, at } => {
                require_ticket(&mut tx, ticket_id).await?;
                if let Some(id) = assignee_id {
                    let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM operators WHERE id = ?")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if known.is_none() {
                        return Err(StoreError::NotFound { what: "operator", id: id.clone() });
                    }
                }
                sqlx::query(
                    "UPDATE tickets SET assignee_id = ?1, updated_at = ?2, \
                       status = CASE WHEN status = 'new' AND ?1 IS NOT NULL THEN 'open' ELSE status END WHERE id = ?3",
                )
                .bind(assignee_id.as_deref())
                .bind(*at)
                .bind(ticket_id)
                .execute(&mut *tx)
                .await?;
                let data = serde_json::json!({ "assignee_id": assignee_id });
                record(
                    &mut tx,
                    Event {
                        kind: EventKind::TicketAssigned,
                        at: *at,
                        ticket_id: Some(ticket_id),
                        operator_id: me.as_deref(),
                        data,
                    },
                )
                .await?;
                *at
            }
            Mutation::SetTicketTags { ticket_id, tags, at } => {
                let tags = okno_core::normalize_tags(tags).map_err(invalid)?;
                require_ticket(&mut tx, ticket_id).await?;
                sqlx::query("UPDATE tickets SET tags = ?1, updated_at = ?2 WHERE id = ?3")
                    .bind(serde_json::to_string(&tags)?)
                    .bind(*at)
                    .bind(ticket_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM ticket_tags WHERE ticket_id = ?").bind(ticket_id).execute(&mut *tx).await?;
                for tag in &tags {
                    sqlx::query("INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?)")
                        .bind(ticket_id)
                        .bind(tag)
                        .execute(&mut *tx)
                        .await?;
                }
                let data = serde_json::json!({ "tags": tags });
                record(
                    &mut tx,
                    Event {
                        kind: EventKind::TicketTagsChanged,
                        at: *at,
                        ticket_id: Some(ticket_id),
                        operator_id: me.as_deref(),
                        data,
                    },
                )
                .await?;
                *at
            }
            Mutation::SetAgentState { operator_id, state, at } => {
                let from: Option<String> = sqlx::query_scalar("SELECT state FROM operators WHERE id = ?")
                    .bind(operator_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(from) = from else {
                    return Err(StoreError::NotFound { what: "operator", id: operator_id.clone() });
                };
                sqlx::query("UPDATE operators SET state = ?1, state_since = ?2 WHERE id = ?3")
                    .bind(state.as_str())
                    .bind(*at)
                    .bind(operator_id)
                    .execute(&mut *tx)
                    .await?;
                let data = serde_json::json!({ "from": from, "to": state });
                record(
                    &mut tx,
                    Event {
                        kind: EventKind::AgentStateChanged,
                        at: *at,
                        ticket_id: None,
                        operator_id: Some(operator_id),
                        data,
                    },
                )
                .await?;
                *at
            }
            Mutation::SaveCall {
                call_id,
                customer_id,
                ticket_id,
                queue_id,
                direction,
                from_number,
                to_number,
                started_at,
                answered_at,
                ended_at,
                outcome,
                disposition,
                notes,
                recording_ref,
                ..
            } => {
                if let Some(ticket_id) = ticket_id {
                    require_ticket(&mut tx, ticket_id).await?;
                }
                if let Some(customer_id) = customer_id {
                    let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM customers WHERE id = ?")
                        .bind(customer_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if known.is_none() {
                        return Err(StoreError::NotFound { what: "customer", id: customer_id.clone() });
                    }
                }
                let inserted = sqlx::query(
                    "INSERT INTO calls (id, customer_id, ticket_id, queue_id, operator_id, direction, from_number, to_number, \
                       started_at, answered_at, ended_at, outcome, disposition, notes, recording_ref) \
                     VALUES (?, ?, ?, (SELECT id FROM queues WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(call_id)
                .bind(customer_id.as_deref())
                .bind(ticket_id.as_deref())
                .bind(queue_id.as_deref())
                .bind(me.as_deref())
                .bind(direction.as_str())
                .bind(from_number)
                .bind(to_number)
                .bind(*started_at)
                .bind(*answered_at)
                .bind(*ended_at)
                .bind(outcome.as_str())
                .bind(disposition.as_deref())
                .bind(notes)
                .bind(recording_ref.as_deref())
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 1 {
                    // The reports' fact: talk and ring times, the outcome and the media quality.
                    let data = serde_json::to_value(mutation.call_ended_facts())?;
                    sqlx::query(
                        "INSERT INTO events (id, at, kind, ticket_id, call_id, operator_id, queue_id, customer_id, data) \
                         VALUES (?, ?, ?, ?, ?, ?, (SELECT id FROM queues WHERE id = ?), ?, ?)",
                    )
                    .bind(new_id())
                    .bind(*ended_at)
                    .bind(EventKind::CallEnded.as_str())
                    .bind(ticket_id.as_deref())
                    .bind(call_id)
                    .bind(me.as_deref())
                    .bind(queue_id.as_deref())
                    .bind(customer_id.as_deref())
                    .bind(data.to_string())
                    .execute(&mut *tx)
                    .await?;
                }
                *ended_at
            }
        };
        let mutation_id = new_id();
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (mutation_id, name, body, created_at, undo) VALUES (?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(&mutation_id)
        .bind(mutation.name())
        .bind(serde_json::to_string(&mutation)?)
        .bind(at)
        .bind(undo)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        tracing::debug!(name = mutation.name(), seq, "mutation applied and queued");
        Ok(Applied { mutation_id, outbox_seq: seq })
    }

    /// The operator has seen the ticket. Read markers are this desktop's own, never synced.
    pub async fn mark_read(&self, ticket_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE tickets SET unread = 0 WHERE id = ? AND unread = 1")
            .bind(ticket_id)
            .execute(&mut *self.write.acquire().await?)
            .await?;
        Ok(())
    }

    /// Mutations still waiting for the server, oldest first.
    pub async fn pending_mutations(&self, limit: u32) -> Result<Vec<(i64, Mutation)>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT seq, body FROM outbox ORDER BY seq LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.into_iter().map(|(seq, body)| Ok((seq, serde_json::from_str(&body)?))).collect()
    }

    /// A key/value preference of this desktop (window geometry, last filter).
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&self.read).await?)
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}
