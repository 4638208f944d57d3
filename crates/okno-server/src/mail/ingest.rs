//! Committing one inbound message: the ticket it opens or joins, its customer, its attachments,
//! and the mailbox's position, in ONE transaction, so that a crash at any point leaves either
//! all of it or none of it (the IMAP flag is set only after this commits; see [`super::intake`]).
//!
//! Rules, in order:
//! - dedupe: a Message-ID already in `mail_intake` changes nothing but the mailbox's position;
//! - a contractor's answer to an @mention mail becomes their internal note ([`crate::work::mentions`]);
//! - threading: In-Reply-To and References against the Message-IDs of the center's messages
//!   (not of internal notes),
//!   then the subject's `[#NUMBER]` token (a merged ticket's number leads to its survivor); a closed ticket is not reopened by mail (a new one
//!   starts), a pending or resolved one is;
//! - loops and noise: auto-replies, bounces and mail from the center's own addresses never open
//!   a ticket; they are kept, marked, on the ticket they thread to, else only recorded in
//!   `mail_intake`;
//! - the sender is matched to a customer by email address, or becomes one.

use okno_core::email::EmailView;
use okno_core::{Channel, EventKind, Identity, IdentityKind, Millis, new_id};
use okno_mail::thread::ticket_token;
use okno_mail::{Inbound, MailKind};
use okno_sync::Op;
use serde_json::{Value, json};
use sqlx::{Postgres, Transaction};

use crate::AppState;
use crate::changelog::{self, NewChange, queue_bucket};

/// The mailbox as intake needs it.
#[derive(Debug, Clone)]
pub struct IntakeMailbox {
    pub name: String,
    pub queue_id: String,
    /// Every address of the center (all configured mailboxes): mail from them is ours.
    pub own_addresses: Vec<String>,
    /// The instance holding the lease; the position only advances under it.
    pub lease_owner: String,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    NewTicket {
        ticket_id: String,
        number: i64,
    },
    Appended {
        ticket_id: String,
        reopened: bool,
    },
    /// An auto-reply, bounce or our own mail that threads to no ticket: recorded only.
    Recorded {
        kind: &'static str,
    },
    Duplicate,
    /// Another instance holds the mailbox now: nothing was written.
    LeaseLost,
}

/// Longest body kept as text; a longer one is cut with a note (the whole message is what the
/// customer's mail server still has).
const MAX_BODY_CHARS: usize = 200_000;

/// Commit `mail` (UID `uid` of the mailbox) and return what it became, with the changes that
/// were committed (for the live pokes) and their last version.
pub async fn ingest(
    state: &AppState,
    mailbox: &IntakeMailbox,
    uid: Option<u32>,
    mail: &Inbound,
    now: Millis,
) -> Result<(Ingested, Vec<NewChange>, u64), sqlx::Error> {
    let mut tx = state.pool.begin().await?;
    let position = sqlx::query(
        "UPDATE mailbox_state SET last_uid = GREATEST(last_uid, $3) WHERE name = $1 AND lease_owner = $2 AND lease_until > now()",
    )
    .bind(&mailbox.name)
    .bind(&mailbox.lease_owner)
    .bind(i64::from(uid.unwrap_or(0)))
    .execute(&mut *tx)
    .await?;
    if position.rows_affected() == 0 {
        return Ok((Ingested::LeaseLost, Vec::new(), 0));
    }
    let own = mail.from.as_ref().is_some_and(|f| mailbox.own_addresses.contains(&f.address));
    let kind = match (own, mail.kind) {
        (true, _) => "own",
        (false, MailKind::Personal) => "personal",
        (false, MailKind::AutoReply) => "auto_reply",
        (false, MailKind::Bounce) => "bounce",
    };
    let fresh = sqlx::query(
        "INSERT INTO mail_intake (message_id, mailbox, uid, kind, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&mail.message_id)
    .bind(&mailbox.name)
    .bind(uid.map(i64::from))
    .bind(kind)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if fresh.rows_affected() == 0 {
        tx.commit().await?;
        return Ok((Ingested::Duplicate, Vec::new(), 0));
    }
    let personal = kind == "personal";
    let (text, notes) = kept_text(mail);
    let body = shown(&text);
    if personal {
        let answer = crate::work::mentions::answer_by_email(&mut tx, &mailbox.name, mail, body, now).await?;
        if let Some((ticket_id, changes)) = answer {
            let version = changelog::append_and_commit(tx, &changes).await?;
            return Ok((Ingested::Appended { ticket_id, reopened: false }, changes, version));
        }
    }
    let thread = find_ticket(&mut tx, mail).await?;
    let joins = thread.as_ref().filter(|t| t.status != "closed" || !personal);
    let sender = mail.reply_address().or(mail.from.as_ref()).map(|s| s.address.clone());
    // Machine mail runs no rules: an auto-reply to an auto-reply is how mail loops start.
    let outcome = if personal {
        run_rules(state, &mut tx, mailbox, mail, &text, joins, sender.as_deref(), now).await?
    } else {
        None
    };
    let mut changes = Vec::new();
    let (ticket_id, queue_id, created) = match (joins, personal) {
        (Some(t), _) => (t.id.clone(), t.queue_id.clone(), None),
        (_, true) => {
            let queue = outcome.as_ref().and_then(|o| o.queue_id.clone()).unwrap_or_else(|| mailbox.queue_id.clone());
            let (id, number, customer) = open_ticket(&mut tx, mailbox, &queue, mail, now).await?;
            changes.push(customer);
            (id, queue, Some(number))
        }
        (_, false) => {
            tx.commit().await?;
            return Ok((Ingested::Recorded { kind }, Vec::new(), 0));
        }
    };
    for a in &mail.attachments {
        sqlx::query(
            "INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&a.sha256)
        .bind(a.data.len() as i64)
        .bind(&a.data)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let attachments: Vec<Value> = mail
        .attachments
        .iter()
        .map(|a| {
            json!({ "name": a.name, "mime": a.content_type, "size": a.data.len(), "sha256": a.sha256,
                    "content_id": a.content_id, "inline": a.inline })
        })
        .collect();
    let email = EmailView {
        mailbox: Some(mailbox.name.clone()),
        message_id: Some(mail.message_id.clone()),
        from: mail.from.clone(),
        reply_to: mail.reply_to.clone(),
        to: mail.to.clone(),
        cc: mail.cc.clone(),
        kind: Some(kind.to_owned()),
        notes,
        html: mail.html.as_ref().map(|h| h.html.clone()),
        remote_images: mail.html.as_ref().map_or(0, |h| u32::try_from(h.remote_images).unwrap_or(u32::MAX)),
        delivery: None,
        sent_at: mail.sent_at,
    };
    let author = mail.from.as_ref().map(|f| f.name.clone().unwrap_or_else(|| f.address.clone()));
    let message_id = new_id();
    let message: Value = sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, subject, body, attachments, email, created_at) \
         VALUES ($1, $2, 'email', 'inbound', $3, $4, $5, $6, $7, $8) RETURNING to_jsonb(messages.*)",
    )
    .bind(&message_id)
    .bind(&ticket_id)
    .bind(author.unwrap_or_else(|| "(unknown sender)".to_owned()))
    .bind(&mail.subject)
    .bind(body)
    .bind(Value::Array(attachments))
    .bind(serde_json::to_value(&email).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    // A customer's reply reopens a pending or resolved ticket; machine mail never does.
    let (ticket, reopened): (Value, bool) = sqlx::query_as(
        "WITH old AS (SELECT status FROM tickets WHERE id = $1 FOR NO KEY UPDATE) \
         UPDATE tickets SET preview = $2, message_count = message_count + 1, updated_at = $3, \
           status = CASE WHEN $4 AND tickets.status IN ('pending', 'resolved') THEN 'open' ELSE tickets.status END \
         FROM old WHERE tickets.id = $1 \
         RETURNING to_jsonb(tickets.*), (tickets.status <> old.status)",
    )
    .bind(&ticket_id)
    .bind(body.chars().take(140).collect::<String>())
    .bind(now)
    .bind(personal)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE mail_intake SET ticket_id = $2, okno_message_id = $3 WHERE message_id = $1")
        .bind(&mail.message_id)
        .bind(&ticket_id)
        .bind(&message_id)
        .execute(&mut *tx)
        .await?;
    crate::tickets::record_event(
        &mut tx,
        &format!("{message_id}/received"),
        now,
        EventKind::MessageReceived,
        &ticket_id,
        &queue_id,
        json!({ "message_id": message_id, "channel": "email", "kind": kind, "reopened": reopened }),
    )
    .await?;
    let bucket = queue_bucket(&queue_id);
    // A desk stores a message only under a ticket it has: the ticket goes first.
    let mut messages = vec![NewChange {
        bucket: bucket.clone(),
        entity: "message",
        id: message_id.clone(),
        op: Op::Upsert,
        data: message,
    }];
    let mut applied = crate::work::apply::Applied::default();
    if let Some(outcome) = &outcome {
        applied = crate::work::apply::apply(
            &mut tx,
            &ticket_id,
            &message_id,
            sender.as_deref().map_or(crate::work::apply::ReplyTo::Nobody, crate::work::apply::ReplyTo::Email),
            outcome,
            created.is_some(),
            now,
        )
        .await?;
    }
    for row in applied.note.into_iter().chain(applied.outgoing.iter().cloned()) {
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        messages.push(NewChange { bucket: bucket.clone(), entity: "message", id, op: Op::Upsert, data: row });
    }
    // The due times follow the priority and status the rules set and a reopening (a new ticket
    // got them when it was opened); otherwise the row from the update above is current.
    let fired = outcome.as_ref().is_some_and(|o| !o.fired.is_empty());
    let ticket = if fired || reopened {
        crate::work::sla::refresh(&mut tx, std::slice::from_ref(&ticket_id)).await?.pop().map_or(ticket, |c| c.data)
    } else {
        ticket
    };
    changes.push(NewChange { bucket, entity: "ticket", id: ticket_id.clone(), op: Op::Upsert, data: ticket });
    changes.append(&mut messages);
    if personal && created.is_none() {
        let by = mail.from.as_ref().map_or_else(String::new, |f| f.name.clone().unwrap_or_else(|| f.address.clone()));
        changes.extend(
            crate::work::mentions::to_followers(&mut tx, "reply", &ticket_id, &message_id, &by, body, None, now)
                .await?,
        );
    }
    let version = changelog::append_and_commit(tx, &changes).await?;
    if !applied.outgoing.is_empty() {
        state.outbox_wake.notify_one();
    }
    let outcome = match created {
        Some(number) => Ingested::NewTicket { ticket_id, number },
        None => Ingested::Appended { ticket_id, reopened },
    };
    Ok((outcome, changes, version))
}

/// The text kept of `mail` (what the rules read) and the notes on what could not be kept.
fn kept_text(mail: &Inbound) -> (String, Vec<String>) {
    let mut notes = mail.notes.clone();
    let text: String = mail.text.chars().take(MAX_BODY_CHARS).collect();
    if text.len() < mail.text.len() {
        notes.push(format!("The text was cut at {MAX_BODY_CHARS} characters."));
    }
    (text, notes)
}

/// The kept text as the thread shows it.
fn shown(text: &str) -> &str {
    if text.trim().is_empty() { "(no text)" } else { text }
}

struct Thread {
    id: String,
    queue_id: String,
    status: String,
}

async fn find_ticket(tx: &mut Transaction<'_, Postgres>, mail: &Inbound) -> Result<Option<Thread>, sqlx::Error> {
    let ids: Vec<&str> = mail.thread_ids();
    if !ids.is_empty() {
        let by_header: Option<(String, String, String)> = sqlx::query_as(
            "SELECT t.id, t.queue_id, t.status FROM messages m JOIN tickets t ON t.id = m.ticket_id \
             WHERE m.email IS NOT NULL AND m.email->>'message_id' = ANY($1) AND m.direction <> 'internal' \
             ORDER BY array_position($1, m.email->>'message_id') LIMIT 1",
        )
        .bind(&ids)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((id, queue_id, status)) = by_header {
            return Ok(Some(Thread { id, queue_id, status }));
        }
    }
    let Some(number) = ticket_token(&mail.subject) else { return Ok(None) };
    let named: Option<String> =
        sqlx::query_scalar("SELECT id FROM tickets WHERE number = $1").bind(number).fetch_optional(&mut **tx).await?;
    let Some(named) = named else { return Ok(None) };
    // A merged ticket's number leads to the ticket that holds its thread now.
    let id = crate::work::merge::survivor(tx, &named).await?;
    let by_token: Option<(String, String, String)> =
        sqlx::query_as("SELECT id, queue_id, status FROM tickets WHERE id = $1")
            .bind(&id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(by_token.map(|(id, queue_id, status)| Thread { id, queue_id, status }))
}

/// The sender's customer (found by address, or new) and a new ticket for them; returns the
/// ticket's id and number and the customer's change.
async fn open_ticket(
    tx: &mut Transaction<'_, Postgres>,
    mailbox: &IntakeMailbox,
    queue_id: &str,
    mail: &Inbound,
    now: Millis,
) -> Result<(String, i64, NewChange), sqlx::Error> {
    let sender = mail.reply_address().or(mail.from.as_ref());
    let address = sender.map(|s| s.address.clone()).unwrap_or_default();
    let name = sender
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| if address.is_empty() { "Unknown sender".to_owned() } else { address.clone() });
    let subject = if mail.subject.is_empty() { "(no subject)" } else { mail.subject.as_str() };
    let opened = crate::tickets::open(
        tx,
        &crate::tickets::Opening {
            queue_id,
            channel: Channel::Email,
            subject,
            contact: (!address.is_empty()).then(|| Identity { kind: IdentityKind::Email, value: address.clone() }),
            name: &name,
            now,
            source: json!({ "channel": "email", "mailbox": mailbox.name }),
        },
    )
    .await?;
    Ok((opened.ticket_id, opened.number, opened.customer))
}

/// What the rule set decides for `mail` (its kept `text`); `None` when there are no rules.
#[allow(clippy::too_many_arguments)]
async fn run_rules(
    state: &AppState,
    tx: &mut Transaction<'_, Postgres>,
    mailbox: &IntakeMailbox,
    mail: &Inbound,
    text: &str,
    joins: Option<&Thread>,
    sender: Option<&str>,
    now: Millis,
) -> Result<Option<okno_rules::Outcome>, sqlx::Error> {
    use crate::work::apply;
    let rules = state.rules.current(tx, &state.own_addresses()).await?;
    if rules.is_empty() {
        return Ok(None);
    }
    let queue_id = joins.map_or(mailbox.queue_id.as_str(), |t| t.queue_id.as_str());
    let arrival = apply::Arrival {
        channel: Channel::Email,
        queue_id,
        joins: joins.map(|t| t.id.as_str()),
        mailbox: Some(&mailbox.name),
        sender,
        subject: &mail.subject,
        body: text,
        at: now,
    };
    let message = apply::Message::gather(tx, arrival).await?;
    Ok(Some(message.evaluate(&rules)))
}
