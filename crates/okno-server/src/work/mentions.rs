//! @mentions and followers: an internal note that names `@login` pulls that colleague into the
//! ticket, and a contractor without the desk takes part by email.
//!
//! - A mentioned account follows the ticket from then on (`ticket_followers`), gets a `notice`
//!   change in its own bucket (the desk shows a notification) and the mention is a `mentioned`
//!   report event.
//! - A mentioned contractor with an email address on their account also gets the note by mail,
//!   masked as everything a contractor sees ([`okno_core::pii::mask_text`]): the note carries
//!   an email view of kind `mention` and goes through the outbox like a reply.
//! - The contractor's answer to that mail (threaded to its Message-ID, from the address it was
//!   sent to) becomes an internal note by them on the ticket: never a customer message, never
//!   run through the rules, never reopening the ticket.
//! - Followers get a notice when the customer writes again and when a contractor answers.
//!
//! - Anyone who may see a ticket follows or stops following it by choice
//!   (`/v1/tickets/{id}/followers`, `/v1/tickets/{id}/follow`).
//!
//! Invariant: notices go only to an account's own bucket, and nobody else pulls them (not even a
//! team lead, who pulls every other bucket); a notice's excerpt is text the account could read
//! on the ticket (the redaction masks it for a contractor's desk).

use okno_core::email::{EmailAddress, EmailDelivery, EmailView};
use okno_core::mention::mentioned_handles;
use okno_core::{EventKind, Millis, Role, new_id};
use okno_mail::Inbound;
use okno_sync::Op;
use serde_json::{Value, json};
use sqlx::{PgConnection, Postgres, Transaction};

use axum::Json;
use axum::extract::{Path, State};
use okno_rules::wire::{Followers, Person};

use crate::changelog::{NewChange, queue_bucket, user_bucket};
use crate::tickets::{record_event_by, works_queue};
use crate::{AppError, AppState};

pub use okno_sync::NOTICE;

/// Characters of a note or message a notice carries.
const EXCERPT_CHARS: usize = 200;

/// What an internal note's mentions changed: notices for the mentioned, and the note's row again
/// when it now goes out by email to a contractor.
#[derive(Debug, Default)]
pub struct Mentioned {
    pub changes: Vec<NewChange>,
    pub note: Option<Value>,
}

/// The note `message_id` by `author` (`author_id`) on `ticket_id` was just stored: follow up its
/// mentions.
#[allow(clippy::too_many_arguments)]
pub async fn on_note(
    conn: &mut PgConnection,
    author_id: &str,
    author: &str,
    ticket_id: &str,
    queue_id: &str,
    message_id: &str,
    body: &str,
    at: Millis,
) -> Result<Mentioned, sqlx::Error> {
    let handles = mentioned_handles(body);
    if handles.is_empty() {
        return Ok(Mentioned::default());
    }
    let accounts: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, name, role, email FROM operators WHERE lower(id) = ANY($1) AND id <> $2 AND disabled_at IS NULL ORDER BY id",
    )
    .bind(&handles)
    .bind(author_id)
    .fetch_all(&mut *conn)
    .await?;
    if accounts.is_empty() {
        return Ok(Mentioned::default());
    }
    let number: i64 =
        sqlx::query_scalar("SELECT number FROM tickets WHERE id = $1").bind(ticket_id).fetch_one(&mut *conn).await?;
    let mut mentioned = Mentioned::default();
    let mut by_mail = Vec::new();
    for (id, _name, role, email) in &accounts {
        sqlx::query(
            "INSERT INTO ticket_followers (ticket_id, operator_id, since, reason) VALUES ($1, $2, $3, 'mention') \
             ON CONFLICT DO NOTHING",
        )
        .bind(ticket_id)
        .bind(id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
        let data = json!({ "mentioned": id, "message_id": message_id, "role": role });
        let event_id = format!("{message_id}/mention/{id}");
        record_event_by(conn, &event_id, at, EventKind::Mentioned, ticket_id, queue_id, Some(author_id), data).await?;
        mentioned.changes.push(notice(id, "mention", ticket_id, number, message_id, author, body, at));
        if role == Role::Contractor.as_str()
            && let Some(address) = email
        {
            by_mail.push(EmailAddress::new(address.clone()));
        }
    }
    if !by_mail.is_empty() {
        let view = EmailView {
            kind: Some("mention".to_owned()),
            to: by_mail,
            delivery: Some(EmailDelivery { state: okno_core::email::DeliveryState::Queued, reason: None, at: None }),
            ..EmailView::default()
        };
        let note: Value =
            sqlx::query_scalar("UPDATE messages SET email = $2 WHERE id = $1 RETURNING to_jsonb(messages.*)")
                .bind(message_id)
                .bind(serde_json::to_value(&view).unwrap_or(Value::Null))
                .fetch_one(&mut *conn)
                .await?;
        crate::mail::outbox::enqueue(conn, message_id, at).await?;
        mentioned.note = Some(note);
    }
    Ok(mentioned)
}

#[allow(clippy::too_many_arguments)]
fn notice(
    operator_id: &str,
    kind: &str,
    ticket_id: &str,
    number: i64,
    message_id: &str,
    by: &str,
    text: &str,
    at: Millis,
) -> NewChange {
    let id = format!("{message_id}/{operator_id}");
    NewChange {
        bucket: user_bucket(operator_id),
        entity: NOTICE,
        data: json!({
            "id": id, "for": operator_id, "kind": kind, "ticket_id": ticket_id, "number": number, "message_id": message_id,
            "by": by, "excerpt": text.chars().take(EXCERPT_CHARS).collect::<String>(), "at": at,
        }),
        id,
        op: Op::Upsert,
    }
}

/// Notices of kind `kind` ("reply": the customer wrote; "answer": a contractor answered) to the
/// followers of `ticket_id`, except `except` (who wrote it).
#[allow(clippy::too_many_arguments)]
pub async fn to_followers(
    tx: &mut Transaction<'_, Postgres>,
    kind: &str,
    ticket_id: &str,
    message_id: &str,
    by: &str,
    text: &str,
    except: Option<&str>,
    at: Millis,
) -> Result<Vec<NewChange>, sqlx::Error> {
    let followers: Vec<(String, i64)> = sqlx::query_as(
        "SELECT f.operator_id, t.number FROM ticket_followers f JOIN tickets t ON t.id = f.ticket_id \
         WHERE f.ticket_id = $1 AND f.operator_id IS DISTINCT FROM $2 ORDER BY f.operator_id",
    )
    .bind(ticket_id)
    .bind(except)
    .fetch_all(&mut **tx)
    .await?;
    Ok(followers.iter().map(|(id, number)| notice(id, kind, ticket_id, *number, message_id, by, text, at)).collect())
}

/// A contractor's answer by email to a mention: the note it became, or `None` when `mail` is
/// not one (the caller then treats it as customer mail).
pub async fn answer_by_email(
    tx: &mut Transaction<'_, Postgres>,
    mailbox: &str,
    mail: &Inbound,
    body: &str,
    now: Millis,
) -> Result<Option<(String, Vec<NewChange>)>, sqlx::Error> {
    let ids: Vec<&str> = mail.thread_ids();
    let Some(sender) = mail.from.as_ref().map(|f| f.address.to_lowercase()) else { return Ok(None) };
    if ids.is_empty() {
        return Ok(None);
    }
    // The mention mail this answers, sent to this very address, and the contractor behind it.
    let found: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT t.id, t.queue_id, o.id, o.name FROM messages m JOIN tickets t ON t.id = m.ticket_id \
         JOIN operators o ON lower(o.email) = $2 AND o.role = 'contractor' AND o.disabled_at IS NULL \
         WHERE m.direction = 'internal' AND m.email->>'kind' = 'mention' AND m.email->>'message_id' = ANY($1) \
           AND EXISTS (SELECT 1 FROM jsonb_array_elements(m.email->'to') a WHERE lower(a->>'address') = $2) \
         LIMIT 1",
    )
    .bind(&ids)
    .bind(&sender)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((ticket_id, queue_id, contractor_id, contractor)) = found else { return Ok(None) };
    let view = EmailView {
        mailbox: Some(mailbox.to_owned()),
        message_id: Some(mail.message_id.clone()),
        from: mail.from.clone(),
        to: mail.to.clone(),
        kind: Some("mention_answer".to_owned()),
        notes: mail.notes.clone(),
        sent_at: mail.sent_at,
        ..EmailView::default()
    };
    let message_id = new_id();
    let message: Value = sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, operator_id, subject, body, attachments, email, created_at) \
         SELECT $1, t.id, t.channel, 'internal', $3, $4, NULL, $5, '[]'::jsonb, $6, $7 FROM tickets t WHERE t.id = $2 \
         RETURNING to_jsonb(messages.*)",
    )
    .bind(&message_id)
    .bind(&ticket_id)
    .bind(&contractor)
    .bind(&contractor_id)
    .bind(body)
    .bind(serde_json::to_value(&view).unwrap_or(Value::Null))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let ticket: Value = sqlx::query_scalar(
        "UPDATE tickets SET preview = $2, message_count = message_count + 1, updated_at = $3 WHERE id = $1 \
         RETURNING to_jsonb(tickets.*)",
    )
    .bind(&ticket_id)
    .bind(body.chars().take(140).collect::<String>())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE mail_intake SET ticket_id = $2, okno_message_id = $3 WHERE message_id = $1")
        .bind(&mail.message_id)
        .bind(&ticket_id)
        .bind(&message_id)
        .execute(&mut **tx)
        .await?;
    let data = json!({ "message_id": message_id, "by_email": true });
    let event_id = format!("{message_id}/0");
    record_event_by(tx, &event_id, now, EventKind::NoteAdded, &ticket_id, &queue_id, Some(&contractor_id), data)
        .await?;
    let bucket = queue_bucket(&queue_id);
    let mut changes = vec![
        NewChange { bucket: bucket.clone(), entity: "ticket", id: ticket_id.clone(), op: Op::Upsert, data: ticket },
        NewChange { bucket, entity: "message", id: message_id.clone(), op: Op::Upsert, data: message },
    ];
    changes.extend(
        to_followers(tx, "answer", &ticket_id, &message_id, &contractor, body, Some(&contractor_id), now).await?,
    );
    Ok(Some((ticket_id, changes)))
}

/// The ticket's followers, for a caller who may see the ticket (403 otherwise, 404 for none).
async fn followers_of(conn: &mut PgConnection, caller: &crate::Caller, ticket_id: &str) -> Result<Followers, AppError> {
    let queue_id: Option<String> = sqlx::query_scalar("SELECT queue_id FROM tickets WHERE id = $1")
        .bind(ticket_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(queue_id) = queue_id else { return Err(AppError::NotFound(format!("no ticket {ticket_id}"))) };
    if !works_queue(conn, caller, &queue_id).await? {
        return Err(AppError::Forbidden("the ticket's queue is not granted to this account".into()));
    }
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT o.id, o.name, o.role FROM ticket_followers f JOIN operators o ON o.id = f.operator_id \
         WHERE f.ticket_id = $1 ORDER BY o.name",
    )
    .bind(ticket_id)
    .fetch_all(&mut *conn)
    .await?;
    let following = rows.iter().any(|(id, _, _)| *id == caller.id);
    let people =
        rows.into_iter().filter_map(|(id, name, role)| Some(Person { id, name, role: role.parse().ok()? })).collect();
    Ok(Followers { people, following })
}

/// `GET /v1/tickets/{id}/followers`.
pub async fn followers(
    State(state): State<AppState>,
    caller: crate::Caller,
    Path(ticket_id): Path<String>,
) -> Result<Json<Followers>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(followers_of(&mut conn, &caller, &ticket_id).await?))
}

/// `PUT /v1/tickets/{id}/follow` with `{"follow": bool}`: the caller follows the ticket or stops.
pub async fn follow(
    State(state): State<AppState>,
    caller: crate::Caller,
    Path(ticket_id): Path<String>,
    Json(body): Json<Follow>,
) -> Result<Json<Followers>, AppError> {
    let mut conn = state.pool.acquire().await?;
    followers_of(&mut conn, &caller, &ticket_id).await?;
    let at = super::now();
    if body.follow {
        sqlx::query(
            "INSERT INTO ticket_followers (ticket_id, operator_id, since, reason) VALUES ($1, $2, $3, 'follow') \
             ON CONFLICT DO NOTHING",
        )
        .bind(&ticket_id)
        .bind(&caller.id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query("DELETE FROM ticket_followers WHERE ticket_id = $1 AND operator_id = $2")
            .bind(&ticket_id)
            .bind(&caller.id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Json(followers_of(&mut conn, &caller, &ticket_id).await?))
}

#[derive(Debug, serde::Deserialize)]
pub struct Follow {
    pub follow: bool,
}
