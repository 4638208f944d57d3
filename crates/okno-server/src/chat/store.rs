//! The chat's rows in PostgreSQL: visitors (by the hash of their token), their messages as
//! tickets in the channel's queue, the visitor's end of the chat and their rating. Each write is
//! one transaction that also appends to the changelog, so desks see a chat exactly as stored.
//! The center's routing rules run on every visitor message in that transaction, as on mail
//! ([`crate::work::apply`]): a new chat opens in the queue they pick, with their priority, tags
//! and owner (an auto-reply template is for email and is not sent into a chat).

use okno_core::{AttachmentRef, Channel, EventKind, Identity, IdentityKind, Millis, new_id};
use okno_sync::Op;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};

use super::protocol::ChatLine;
use crate::changelog::{self, NewChange, queue_bucket};
use crate::tickets::record_event;
use crate::work::apply::ReplyTo;

/// A browser that opened a channel's widget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub id: String,
    pub channel: String,
    pub name: Option<String>,
    pub contact: Option<String>,
    pub ticket_id: Option<String>,
    pub page: Option<String>,
}

type VisitorRow = (String, String, Option<String>, Option<String>, Option<String>, Option<String>);

impl From<VisitorRow> for Visitor {
    fn from((id, channel, name, contact, ticket_id, page): VisitorRow) -> Self {
        Visitor { id, channel, name, contact, ticket_id, page }
    }
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The visitor holding `token` on `channel`, marked as seen now on `page`.
pub async fn find_visitor(
    pool: &PgPool,
    channel: &str,
    token: &str,
    page: Option<&str>,
    now: Millis,
) -> Result<Option<Visitor>, sqlx::Error> {
    let row: Option<VisitorRow> = sqlx::query_as(
        "UPDATE chat_visitors SET seen_at = $3, page = COALESCE($4, page) WHERE token_hash = $1 AND channel = $2 \
         RETURNING id, channel, name, contact, ticket_id, page",
    )
    .bind(token_hash(token))
    .bind(channel)
    .bind(now)
    .bind(page)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Visitor::from))
}

/// A new visitor and the token their browser keeps.
pub async fn new_visitor(
    pool: &PgPool,
    channel: &str,
    page: Option<&str>,
    now: Millis,
) -> anyhow::Result<(Visitor, String)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let token = hex::encode(bytes);
    let row: VisitorRow = sqlx::query_as(
        "INSERT INTO chat_visitors (id, token_hash, channel, page, created_at, seen_at) VALUES ($1, $2, $3, $4, $5, $5) \
         RETURNING id, channel, name, contact, ticket_id, page",
    )
    .bind(new_id())
    .bind(token_hash(&token))
    .bind(channel)
    .bind(page)
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok((Visitor::from(row), token))
}

/// The pre-chat form's answers.
pub async fn introduce(pool: &PgPool, visitor_id: &str, name: &str, contact: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE chat_visitors SET name = $2, contact = $3 WHERE id = $1")
        .bind(visitor_id)
        .bind(name)
        .bind(contact)
        .execute(pool)
        .await?;
    Ok(())
}

/// The name and contact the visitor gave (in any of their tabs), if they have.
pub async fn introduced(pool: &PgPool, visitor_id: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT name, contact FROM chat_visitors WHERE id = $1")
            .bind(visitor_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(name, contact)| Some((name?, contact.unwrap_or_default()))))
}

/// The chat as the visitor sees it: lines (no internal notes), the ticket's status, and the
/// time up to which operators have answered (what the widget shows as read).
pub async fn history(
    pool: &PgPool,
    ticket_id: &str,
) -> Result<(Vec<ChatLine>, Option<String>, Option<Millis>), sqlx::Error> {
    let rows: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(m.*) FROM messages m WHERE m.ticket_id = $1 AND m.direction <> 'internal' ORDER BY m.created_at, m.id",
    )
    .bind(ticket_id)
    .fetch_all(pool)
    .await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM tickets WHERE id = $1").bind(ticket_id).fetch_optional(pool).await?;
    let lines: Vec<ChatLine> = rows.iter().filter_map(ChatLine::from_row).collect();
    let read_at = lines.iter().filter(|l| l.from == "operator").map(|l| l.at).max();
    Ok((lines, status, read_at))
}

/// What the channel is, for writes.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub channel: &'a str,
    pub queue_id: &'a str,
}

/// A stored visitor message.
#[derive(Debug)]
pub struct Posted {
    pub line: ChatLine,
    pub ticket_id: String,
    /// The changes committed and their last version; empty for a resend already stored.
    pub changes: Vec<NewChange>,
    pub version: u64,
}

/// Store a visitor's message: in their current chat, or a new one when they have none or it
/// was closed (a resolved one is reopened). A message id the browser already sent returns the
/// stored line and changes nothing.
pub async fn post(
    state: &crate::AppState,
    place: Place<'_>,
    visitor: &Visitor,
    client_id: &str,
    text: &str,
    attachments: &[AttachmentRef],
    now: Millis,
) -> Result<Posted, sqlx::Error> {
    let mut tx = state.pool.begin().await?;
    // One visitor's messages are stored one at a time (two tabs sending at once).
    sqlx::query("SELECT 1 FROM chat_visitors WHERE id = $1 FOR UPDATE").bind(&visitor.id).execute(&mut *tx).await?;
    let stored: Option<(Value, String)> = sqlx::query_as(
        "SELECT to_jsonb(m.*), m.ticket_id FROM chat_inbound c JOIN messages m ON m.id = c.message_id \
         WHERE c.visitor_id = $1 AND c.client_id = $2",
    )
    .bind(&visitor.id)
    .bind(client_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((row, ticket_id)) = stored {
        tx.commit().await?;
        let line =
            ChatLine::from_row(&row).ok_or_else(|| sqlx::Error::Protocol("a chat line without direction".into()))?;
        return Ok(Posted { line, ticket_id, changes: Vec::new(), version: 0 });
    }
    let name = visitor.name.clone().unwrap_or_else(|| "Visitor".to_owned());
    let mut changes = Vec::new();
    let current: Option<(String, String, String)> = sqlx::query_as(
        "SELECT t.id, t.status, t.queue_id FROM chat_visitors v JOIN tickets t ON t.id = v.ticket_id WHERE v.id = $1",
    )
    .bind(&visitor.id)
    .fetch_optional(&mut *tx)
    .await?;
    let mut note = None;
    let joins = current.filter(|(_, status, _)| status != "closed");
    let outcome = run_rules(state, &mut tx, place, visitor, joins.as_ref(), text, now).await?;
    let (ticket_id, queue_id) = match joins {
        Some((id, _, queue_id)) => (id, queue_id),
        None => {
            let queue_id =
                outcome.as_ref().and_then(|o| o.queue_id.clone()).unwrap_or_else(|| place.queue_id.to_owned());
            let (ticket_id, customer, first_note) =
                open_chat(&mut tx, place, &queue_id, visitor, &name, text, now).await?;
            changes.push(customer);
            note = Some(first_note);
            (ticket_id, queue_id)
        }
    };
    let opened = note.is_some();
    let message_id = new_id();
    let files = serde_json::to_value(attachments).unwrap_or_else(|_| json!([]));
    // A picture sent alone has no text; the inbox's preview names the files instead.
    let body = text.trim();
    let preview = if body.is_empty() {
        attachments.iter().map(|a| format!("📎 {}", a.name)).collect::<Vec<_>>().join(", ")
    } else {
        body.chars().take(140).collect()
    };
    let message: Value = sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, attachments, created_at) \
         VALUES ($1, $2, 'chat', 'inbound', $3, $4, $5, $6) RETURNING to_jsonb(messages.*)",
    )
    .bind(&message_id)
    .bind(&ticket_id)
    .bind(&name)
    .bind(body)
    .bind(files)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO chat_inbound (visitor_id, client_id, message_id) VALUES ($1, $2, $3)")
        .bind(&visitor.id)
        .bind(client_id)
        .bind(&message_id)
        .execute(&mut *tx)
        .await?;
    let mut ticket: Value = sqlx::query_scalar(
        "UPDATE tickets SET preview = $2, message_count = message_count + 1, updated_at = $3, \
           status = CASE WHEN status IN ('pending', 'resolved') THEN 'open' ELSE status END \
         WHERE id = $1 RETURNING to_jsonb(tickets.*)",
    )
    .bind(&ticket_id)
    .bind(&preview)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    record_event(
        &mut tx,
        &format!("{message_id}/received"),
        now,
        EventKind::MessageReceived,
        &ticket_id,
        &queue_id,
        json!({
        "message_id": message_id, "channel": "chat" }),
    )
    .await?;
    let mut applied = crate::work::apply::Applied::default();
    if let Some(outcome) = outcome.as_ref().filter(|o| !o.fired.is_empty()) {
        applied =
            crate::work::apply::apply(&mut tx, &ticket_id, &message_id, ReplyTo::Chat, outcome, opened, now).await?;
        // The row as the rules left it, with the due times its new priority gives.
        ticket = crate::work::sla::refresh(&mut tx, std::slice::from_ref(&ticket_id))
            .await?
            .pop()
            .map_or(ticket, |c| c.data);
    }
    let bucket = queue_bucket(&queue_id);
    // Desks apply changes in order: the ticket before the messages on it.
    changes.push(NewChange {
        bucket: bucket.clone(),
        entity: "ticket",
        id: ticket_id.clone(),
        op: Op::Upsert,
        data: ticket,
    });
    changes.extend(note);
    changes.push(NewChange {
        bucket: bucket.clone(),
        entity: "message",
        id: message_id,
        op: Op::Upsert,
        data: message.clone(),
    });
    for row in applied.note.into_iter().chain(applied.outgoing.iter().cloned()) {
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        changes.push(NewChange { bucket: bucket.clone(), entity: "message", id, op: Op::Upsert, data: row });
    }
    let version = changelog::append_and_commit(tx, &changes).await?;
    if !applied.outgoing.is_empty() {
        state.outbox_wake.notify_one();
    }
    let line =
        ChatLine::from_row(&message).ok_or_else(|| sqlx::Error::Protocol("a chat line without direction".into()))?;
    Ok(Posted { line, ticket_id, changes, version })
}

/// What the rule set decides for a visitor's message (`joins`: their open chat, if any);
/// `None` when there are no rules.
async fn run_rules(
    state: &crate::AppState,
    tx: &mut Transaction<'_, Postgres>,
    place: Place<'_>,
    visitor: &Visitor,
    joins: Option<&(String, String, String)>,
    text: &str,
    now: Millis,
) -> Result<Option<okno_rules::Outcome>, sqlx::Error> {
    use crate::work::apply;
    let rules = state.rules.current(tx, &state.own_addresses()).await?;
    if rules.is_empty() {
        return Ok(None);
    }
    let queue_id = joins.map_or(place.queue_id, |(_, _, q)| q.as_str());
    // The pre-chat form's email address is the sender the rules see (and find a customer by).
    let sender = visitor.contact.as_deref().and_then(contact_identity).filter(|i| i.kind == IdentityKind::Email);
    let subject = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
    let arrival = apply::Arrival {
        channel: Channel::Chat,
        queue_id,
        joins: joins.map(|(id, _, _)| id.as_str()),
        mailbox: None,
        sender: sender.as_ref().map(|i| i.value.as_str()),
        subject,
        body: text,
        at: now,
    };
    let message = apply::Message::gather(tx, arrival).await?;
    Ok(Some(message.evaluate(&rules)))
}

/// A new chat ticket for the visitor in `queue_id`, with a note for the operator of who they
/// are and which page they wrote from; returns the ticket's id, the customer's change and the
/// note's.
async fn open_chat(
    tx: &mut Transaction<'_, Postgres>,
    place: Place<'_>,
    queue_id: &str,
    visitor: &Visitor,
    name: &str,
    text: &str,
    now: Millis,
) -> Result<(String, NewChange, NewChange), sqlx::Error> {
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("A file from the website chat").trim();
    let mut subject: String = first_line.chars().take(80).collect();
    if subject.len() < first_line.len() {
        subject.push('…');
    }
    let opened = crate::tickets::open(
        tx,
        &crate::tickets::Opening {
            queue_id,
            channel: Channel::Chat,
            subject: &subject,
            contact: visitor.contact.as_deref().and_then(contact_identity),
            name,
            now,
            source: json!({ "channel": "chat", "widget": place.channel, "page": visitor.page }),
        },
    )
    .await?;
    sqlx::query("UPDATE chat_visitors SET ticket_id = $2, customer_id = $3 WHERE id = $1")
        .bind(&visitor.id)
        .bind(&opened.ticket_id)
        .bind(&opened.customer_id)
        .execute(&mut **tx)
        .await?;
    let mut note = format!("Website chat «{}»: {name}", place.channel);
    if let Some(contact) = &visitor.contact {
        note.push_str(&format!(", {contact}"));
    }
    if let Some(page) = &visitor.page {
        note.push_str(&format!("\nPage: {page}"));
    }
    let note = internal_note(tx, &opened.ticket_id, queue_id, &note, now).await?;
    Ok((opened.ticket_id, opened.customer, note))
}

/// The pre-chat form's contact as an identity to match customers by: an email address, or a
/// phone number (seven digits or more).
pub fn contact_identity(contact: &str) -> Option<Identity> {
    let contact = contact.trim();
    if contact.contains('@') {
        return contact
            .parse::<lettre::Address>()
            .ok()
            .map(|_| Identity { kind: IdentityKind::Email, value: contact.to_owned() });
    }
    let digits = contact.chars().filter(char::is_ascii_digit).count();
    let phone_like = contact.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (phone_like && (7..=15).contains(&digits))
        .then(|| Identity { kind: IdentityKind::Phone, value: contact.to_owned() })
}

async fn internal_note(
    tx: &mut Transaction<'_, Postgres>,
    ticket_id: &str,
    queue_id: &str,
    body: &str,
    now: Millis,
) -> Result<NewChange, sqlx::Error> {
    let id = new_id();
    let row: Value = sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, created_at) \
         VALUES ($1, $2, 'chat', 'internal', 'Okno', $3, $4) RETURNING to_jsonb(messages.*)",
    )
    .bind(&id)
    .bind(ticket_id)
    .bind(body)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(NewChange { bucket: queue_bucket(queue_id), entity: "message", id, op: Op::Upsert, data: row })
}

/// The visitor's widget has shown the operators' replies up to `at`: the chat's read receipt
/// moves forward to it, never past the newest reply there is (a widget cannot claim to have
/// read what was not written) and never back. Nothing is written, and no change goes to the
/// desks, when it would not move; so a widget that repeats itself costs one read.
pub async fn visitor_seen(
    pool: &PgPool,
    visitor: &Visitor,
    at: Millis,
) -> Result<Option<(Vec<NewChange>, u64)>, sqlx::Error> {
    let Some(ticket_id) = &visitor.ticket_id else { return Ok(None) };
    let mut tx = pool.begin().await?;
    let row: Option<(Value, String)> = sqlx::query_as(
        "WITH newest AS (SELECT max(created_at) AS at FROM messages \
           WHERE ticket_id = $1 AND direction = 'outbound') \
         UPDATE tickets SET visitor_read_at = LEAST($2, newest.at) FROM newest \
         WHERE tickets.id = $1 AND newest.at IS NOT NULL AND COALESCE(tickets.visitor_read_at, 0) < LEAST($2, newest.at) \
         RETURNING to_jsonb(tickets.*), tickets.queue_id",
    )
    .bind(ticket_id)
    .bind(at)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((ticket, queue_id)) = row else { return Ok(None) };
    let change = changelog::ticket_change(&queue_id, ticket_id, ticket);
    let version = changelog::append_and_commit(tx, std::slice::from_ref(&change)).await?;
    Ok(Some((vec![change], version)))
}

/// The visitor ended their chat: it is resolved (unless already closed), with a note saying so.
pub async fn end(pool: &PgPool, visitor: &Visitor, now: Millis) -> Result<Option<(Vec<NewChange>, u64)>, sqlx::Error> {
    let Some(ticket_id) = &visitor.ticket_id else { return Ok(None) };
    let mut tx = pool.begin().await?;
    let row: Option<(Value, String, String)> = sqlx::query_as(
        "WITH old AS (SELECT status FROM tickets WHERE id = $1 FOR NO KEY UPDATE) \
         UPDATE tickets SET status = 'resolved', updated_at = $2 FROM old \
         WHERE tickets.id = $1 AND old.status NOT IN ('resolved', 'closed') \
         RETURNING to_jsonb(tickets.*), tickets.queue_id, old.status",
    )
    .bind(ticket_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((ticket, queue_id, from)) = row else { return Ok(None) };
    record_event(
        &mut tx,
        &format!("{ticket_id}/ended/{now}"),
        now,
        EventKind::TicketStatusChanged,
        ticket_id,
        &queue_id,
        json!({
        "from": from, "to": "resolved", "by": "visitor" }),
    )
    .await?;
    let note = internal_note(&mut tx, ticket_id, &queue_id, "The visitor ended the chat.", now).await?;
    let changes = vec![
        NewChange {
            bucket: queue_bucket(&queue_id),
            entity: "ticket",
            id: ticket_id.clone(),
            op: Op::Upsert,
            data: ticket,
        },
        note,
    ];
    let version = changelog::append_and_commit(tx, &changes).await?;
    Ok(Some((changes, version)))
}

/// The visitor's rating of their chat (the rule is [`crate::work::csat::record`]: a report
/// event, a note, and a bad mark back to the operations manager).
pub async fn rate(
    pool: &PgPool,
    visitor: &Visitor,
    score: okno_rules::CsatScore,
    comment: &str,
    manager_queue: Option<&str>,
    now: Millis,
) -> Result<Option<(Vec<NewChange>, u64)>, sqlx::Error> {
    let Some(ticket_id) = &visitor.ticket_id else { return Ok(None) };
    let mut tx = pool.begin().await?;
    let changes = crate::work::csat::record(&mut tx, manager_queue, ticket_id, score, comment, "chat", now).await?;
    let version = changelog::append_and_commit(tx, &changes).await?;
    Ok(Some((changes, version)))
}

/// What a visitor leaves outside business hours.
#[derive(Debug, Clone, Copy)]
pub struct LeftMessage<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub text: &'a str,
    pub page: Option<&'a str>,
}

/// Outside hours: the visitor's message becomes an email ticket, answered from `mailbox`.
pub async fn leave_message(
    pool: &PgPool,
    place: Place<'_>,
    mailbox: &str,
    left: &LeftMessage<'_>,
    now: Millis,
) -> Result<(i64, Vec<NewChange>, u64), sqlx::Error> {
    let LeftMessage { name, email, text, page } = *left;
    let mut tx = pool.begin().await?;
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let subject: String = first_line.chars().take(80).collect();
    let opened = crate::tickets::open(
        &mut tx,
        &crate::tickets::Opening {
            queue_id: place.queue_id,
            channel: Channel::Email,
            subject: if subject.is_empty() { "(no subject)" } else { &subject },
            contact: Some(Identity { kind: IdentityKind::Email, value: email.to_owned() }),
            name,
            now,
            source: json!({ "channel": "chat", "widget": place.channel, "page": page, "left_message": true }),
        },
    )
    .await?;
    let address = okno_core::email::EmailAddress { name: Some(name.to_owned()), address: email.to_lowercase() };
    let view = okno_core::email::EmailView {
        mailbox: Some(mailbox.to_owned()),
        from: Some(address),
        notes: vec![format!("Left in the website chat «{}» outside business hours.", place.channel)],
        ..Default::default()
    };
    let message_id = new_id();
    let message: Value = sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, subject, body, email, created_at) \
         VALUES ($1, $2, 'email', 'inbound', $3, $4, $5, $6, $7) RETURNING to_jsonb(messages.*)",
    )
    .bind(&message_id)
    .bind(&opened.ticket_id)
    .bind(name)
    .bind(&subject)
    .bind(text.trim())
    .bind(serde_json::to_value(&view).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let ticket: Value = sqlx::query_scalar(
        "UPDATE tickets SET preview = $2, message_count = 1 WHERE id = $1 RETURNING to_jsonb(tickets.*)",
    )
    .bind(&opened.ticket_id)
    .bind(text.trim().chars().take(140).collect::<String>())
    .fetch_one(&mut *tx)
    .await?;
    let bucket = queue_bucket(place.queue_id);
    let changes = vec![
        opened.customer,
        NewChange {
            bucket: bucket.clone(),
            entity: "ticket",
            id: opened.ticket_id.clone(),
            op: Op::Upsert,
            data: ticket,
        },
        NewChange { bucket, entity: "message", id: message_id, op: Op::Upsert, data: message },
    ];
    let version = changelog::append_and_commit(tx, &changes).await?;
    Ok((opened.number, changes, version))
}

/// Files a visitor uploaded: only these may be attached to their messages.
pub async fn record_upload(pool: &PgPool, visitor_id: &str, sha256: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO chat_uploads (visitor_id, sha256) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(visitor_id)
        .bind(sha256)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether every file in `attachments` was uploaded by this visitor.
pub async fn uploaded_by(pool: &PgPool, visitor_id: &str, attachments: &[AttachmentRef]) -> Result<bool, sqlx::Error> {
    let hashes: Vec<&str> = attachments.iter().map(|a| a.sha256.as_str()).collect();
    let known: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT sha256) FROM chat_uploads WHERE visitor_id = $1 AND sha256 = ANY($2)",
    )
    .bind(visitor_id)
    .bind(&hashes)
    .fetch_one(pool)
    .await?;
    Ok(known as usize == hashes.iter().collect::<std::collections::HashSet<_>>().len())
}

/// A file the visitor may download: one on a message of their chats.
pub async fn visitor_file(
    pool: &PgPool,
    visitor_id: &str,
    sha256: &str,
) -> Result<Option<(Value, Vec<u8>)>, sqlx::Error> {
    let described: Option<Value> = sqlx::query_scalar(
        "SELECT a FROM messages m JOIN chat_visitors v ON v.id = $1, jsonb_array_elements(m.attachments) a \
         WHERE m.attachments @> $2 AND a->>'sha256' = $3 AND m.direction <> 'internal' \
           AND m.ticket_id IN (SELECT t.id FROM tickets t WHERE t.id = v.ticket_id \
             UNION SELECT c.ticket_id FROM chat_inbound i JOIN messages c ON c.id = i.message_id WHERE i.visitor_id = $1) \
         LIMIT 1",
    )
    .bind(visitor_id)
    .bind(json!([{ "sha256": sha256 }]))
    .bind(sha256)
    .fetch_optional(pool)
    .await?;
    let Some(described) = described else { return Ok(None) };
    let data: Vec<u8> =
        sqlx::query_scalar("SELECT data FROM blobs WHERE sha256 = $1").bind(sha256).fetch_one(pool).await?;
    Ok(Some((described, data)))
}
